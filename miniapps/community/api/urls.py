"""Resident API, mounted at /api/v1/community/ by the mini-app registry (CommunityConfig.api_mount)."""
from django.urls import path

from . import views

urlpatterns = [
    path("meta/", views.MetaApi.as_view(), name="community-meta"),
    path("me/follows/", views.FollowsApi.as_view(), name="community-follows"),
    path("me/points/", views.MyPointsApi.as_view(), name="community-my-points"),
    path("districts/<int:district_id>/posts/", views.DistrictPostsApi.as_view(), name="community-district-posts"),
    path("districts/<int:district_id>/ranking/", views.DistrictRankingApi.as_view(),
         name="community-district-ranking"),
    path("images/", views.ImageUploadApi.as_view(), name="community-image-upload"),
    path("posts/<int:post_id>/", views.PostDetailApi.as_view(), name="community-post"),
    path("posts/<int:post_id>/comments/", views.PostCommentsApi.as_view(), name="community-post-comments"),
    path("posts/<int:post_id>/thanks/", views.PostThanksApi.as_view(), name="community-post-thanks"),
    path("posts/<int:post_id>/reports/", views.PostReportApi.as_view(), name="community-post-report"),
    path("comments/<int:comment_id>/", views.CommentDetailApi.as_view(), name="community-comment"),
    path("comments/<int:comment_id>/thanks/", views.CommentThanksApi.as_view(), name="community-comment-thanks"),
    path("events/<int:event_id>/", views.EventApi.as_view(), name="community-event"),
    path("events/<int:event_id>/rsvp/", views.RsvpApi.as_view(), name="community-event-rsvp"),
    path("events/<int:event_id>/attendees/", views.AttendeesApi.as_view(), name="community-event-attendees"),
    path("events/<int:event_id>/attendees/export/", views.AttendeesExportApi.as_view(),
         name="community-event-attendees-export"),
    path("map/", views.MapApi.as_view(), name="community-map"),
]
