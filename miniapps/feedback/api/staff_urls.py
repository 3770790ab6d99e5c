from django.urls import path

from . import views

urlpatterns = [
    path("", views.StaffFeedbackListApi.as_view(), name="staff-feedback"),
    path("<int:feedback_id>/", views.StaffFeedbackDetailApi.as_view(), name="staff-feedback-detail"),
    path("<int:feedback_id>/reply/", views.StaffFeedbackReplyApi.as_view(), name="staff-feedback-reply"),
]
