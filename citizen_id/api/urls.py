from django.urls import path

from . import views

urlpatterns = [
    path("citizen-id/", views.CitizenIdApi.as_view(), name="citizen-id"),
    path("citizen-id/challenge/", views.ChallengeApi.as_view(), name="citizen-id-challenge"),
    path("citizen-id/enroll/", views.EnrollApi.as_view(), name="citizen-id-enroll"),
    path("citizen-id/qr/", views.QrApi.as_view(), name="citizen-id-qr"),
    path("citizen-id/scans/", views.ScanHistoryApi.as_view(), name="citizen-id-scans"),
    path("citizen-id/keys/", views.KeysApi.as_view(), name="citizen-id-keys"),
    path("staff/citizen-id/verify/", views.StaffVerifyApi.as_view(), name="staff-citizen-id-verify"),
    path("staff/citizen-id/revoke/", views.StaffRevokeApi.as_view(), name="staff-citizen-id-revoke"),
    path("staff/citizen-id/card-qrs/", views.StaffCardQrApi.as_view(), name="staff-citizen-id-card-qrs"),
    path("staff/citizen-id/card-qrs/<int:card_id>/", views.StaffCardQrDetailApi.as_view(),
         name="staff-citizen-id-card-qr"),
]
