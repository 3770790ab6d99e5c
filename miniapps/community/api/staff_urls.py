"""Moderators' API (community_moderator; municipality admins pass), mounted at
/api/v1/staff/community/ by the mini-app registry (CommunityConfig.staff_api_mount)."""
from django.urls import path

from . import views

urlpatterns = [
    path("reports/", views.StaffReportQueueApi.as_view(), name="community-staff-reports"),
    path("hidden-posts/", views.StaffHiddenPostsApi.as_view(), name="community-staff-hidden"),
    path("posts/<int:post_id>/hide/", views.StaffPostHideApi.as_view(), name="community-staff-hide"),
    path("posts/<int:post_id>/restore/", views.StaffPostRestoreApi.as_view(), name="community-staff-restore"),
    path("posts/<int:post_id>/dismiss-reports/", views.StaffPostDismissReportsApi.as_view(),
         name="community-staff-dismiss"),
    path("comments/<int:comment_id>/hide/", views.StaffCommentHideApi.as_view(), name="community-staff-comment-hide"),
    path("comments/<int:comment_id>/restore/", views.StaffCommentRestoreApi.as_view(),
         name="community-staff-comment-restore"),
    path("suspensions/", views.StaffSuspensionsApi.as_view(), name="community-staff-suspensions"),
    path("suspensions/<int:suspension_id>/lift/", views.StaffSuspensionLiftApi.as_view(),
         name="community-staff-suspension-lift"),
    path("map-bounds/", views.StaffMapBoundsApi.as_view(), name="community-staff-map-bounds"),
]
