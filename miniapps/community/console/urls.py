"""Community moderation pages, mounted at /console/community/."""
from django.urls import path

from . import views

app_name = "community_console"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("posts/<int:post_id>/", views.post_detail, name="post"),
    path("posts/<int:post_id>/hide/", views.post_hide, name="post-hide"),
    path("posts/<int:post_id>/restore/", views.post_restore, name="post-restore"),
    path("posts/<int:post_id>/dismiss/", views.post_dismiss, name="post-dismiss"),
    path("posts/<int:post_id>/suspend-author/", views.suspend_author, name="suspend-author"),
    path("posts/<int:post_id>/open-data/", views.event_open_data, name="event-open-data"),
    path("comments/<int:comment_id>/hide/", views.comment_hide, name="comment-hide"),
    path("comments/<int:comment_id>/restore/", views.comment_restore, name="comment-restore"),
    path("suspensions/", views.suspensions, name="suspensions"),
    path("suspensions/<int:suspension_id>/lift/", views.suspension_lift, name="suspension-lift"),
]
