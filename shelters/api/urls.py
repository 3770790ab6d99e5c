from django.urls import path

from . import views

urlpatterns = [
    path("shelters/", views.shelter_list_view, name="shelter-list"),
    path("alerts/active/", views.active_alerts_view, name="alerts-active"),
    path("opendata/evacuation_space.csv", views.EvacuationSpaceCsvApi.as_view(), name="opendata-evacuation-space"),
    path("me/emergency-contacts/", views.EmergencyContactsApi.as_view(), name="emergency-contacts"),
    path("staff/disasters/", views.StaffDisasterApi.as_view(), name="staff-disasters"),
    path("staff/disasters/<int:disaster_id>/close/", views.StaffDisasterCloseApi.as_view(), name="staff-disaster-close"),
    path("staff/disasters/<int:disaster_id>/report/", views.StaffDisasterReportApi.as_view(),
         name="staff-disaster-report"),
    path("staff/disasters/<int:disaster_id>/shelters/<int:shelter_id>/open/", views.StaffShelterOpenApi.as_view(),
         name="staff-shelter-open"),
    path("staff/disasters/<int:disaster_id>/shelters/<int:shelter_id>/close/", views.StaffShelterCloseApi.as_view(),
         name="staff-shelter-close"),
    path("staff/shelters/<int:shelter_id>/check-ins/", views.StaffCheckInApi.as_view(), name="staff-check-in"),
    path("staff/shelters/<int:shelter_id>/check-ins/batch/", views.StaffCheckInBatchApi.as_view(),
         name="staff-check-in-batch"),
    path("staff/shelters/<int:shelter_id>/check-outs/", views.StaffCheckOutApi.as_view(), name="staff-check-out"),
    path("staff/shelters/<int:shelter_id>/evacuees/", views.StaffEvacueeListApi.as_view(), name="staff-evacuees"),
    path("staff/alerts/", views.StaffAlertApi.as_view(), name="staff-alerts"),
]
