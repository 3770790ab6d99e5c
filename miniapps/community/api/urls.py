"""Mounted at /api/v1/ (see superapp/urls_tenant.py): resident routes under community/, moderators'
under staff/community/."""
from django.urls import path

from . import views

urlpatterns = [
    path("community/meta/", views.MetaApi.as_view(), name="community-meta"),
    path("community/me/follows/", views.FollowsApi.as_view(), name="community-follows"),
    path("community/me/points/", views.MyPointsApi.as_view(), name="community-my-points"),
    path("community/districts/<int:district_id>/posts/", views.DistrictPostsApi.as_view(),
         name="community-district-posts"),
    path("community/districts/<int:district_id>/ranking/", views.DistrictRankingApi.as_view(),
         name="community-district-ranking"),
    path("community/images/", views.ImageUploadApi.as_view(), name="community-image-upload"),
    path("community/posts/<int:post_id>/", views.PostDetailApi.as_view(), name="community-post"),
    path("community/posts/<int:post_id>/comments/", views.PostCommentsApi.as_view(), name="community-post-comments"),
    path("community/posts/<int:post_id>/thanks/", views.PostThanksApi.as_view(), name="community-post-thanks"),
    path("community/posts/<int:post_id>/reports/", views.PostReportApi.as_view(), name="community-post-report"),
    path("community/comments/<int:comment_id>/", views.CommentDetailApi.as_view(), name="community-comment"),
    path("community/comments/<int:comment_id>/thanks/", views.CommentThanksApi.as_view(),
         name="community-comment-thanks"),
    path("community/events/<int:event_id>/", views.EventApi.as_view(), name="community-event"),
    path("community/events/<int:event_id>/rsvp/", views.RsvpApi.as_view(), name="community-event-rsvp"),
    path("community/events/<int:event_id>/attendees/", views.AttendeesApi.as_view(), name="community-event-attendees"),
    path("community/events/<int:event_id>/attendees/export/", views.AttendeesExportApi.as_view(),
         name="community-event-attendees-export"),
    path("community/map/", views.MapApi.as_view(), name="community-map"),
    # Moderators (community_moderator; municipality admins pass too).
    path("staff/community/reports/", views.StaffReportQueueApi.as_view(), name="community-staff-reports"),
    path("staff/community/hidden-posts/", views.StaffHiddenPostsApi.as_view(), name="community-staff-hidden"),
    path("staff/community/posts/<int:post_id>/hide/", views.StaffPostHideApi.as_view(), name="community-staff-hide"),
    path("staff/community/posts/<int:post_id>/restore/", views.StaffPostRestoreApi.as_view(),
         name="community-staff-restore"),
    path("staff/community/posts/<int:post_id>/dismiss-reports/", views.StaffPostDismissReportsApi.as_view(),
         name="community-staff-dismiss"),
    path("staff/community/comments/<int:comment_id>/hide/", views.StaffCommentHideApi.as_view(),
         name="community-staff-comment-hide"),
    path("staff/community/comments/<int:comment_id>/restore/", views.StaffCommentRestoreApi.as_view(),
         name="community-staff-comment-restore"),
    path("staff/community/suspensions/", views.StaffSuspensionsApi.as_view(), name="community-staff-suspensions"),
    path("staff/community/suspensions/<int:suspension_id>/lift/", views.StaffSuspensionLiftApi.as_view(),
         name="community-staff-suspension-lift"),
    path("staff/community/map-bounds/", views.StaffMapBoundsApi.as_view(), name="community-staff-map-bounds"),
]
