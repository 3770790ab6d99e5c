from django.urls import path

from . import views

urlpatterns = [
    path("", views.StaffAnnouncementListApi.as_view(), name="staff-announcements"),
    path("<int:announcement_id>/", views.StaffAnnouncementDetailApi.as_view(), name="staff-announcement"),
]
