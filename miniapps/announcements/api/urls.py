from django.urls import path

from . import views

urlpatterns = [
    path("", views.AnnouncementListApi.as_view(), name="announcements"),
    path("<int:announcement_id>/seen/", views.AnnouncementSeenApi.as_view(), name="announcement-seen"),
]
