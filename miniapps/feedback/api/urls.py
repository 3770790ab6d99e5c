from django.urls import path

from . import views

urlpatterns = [
    path("", views.FeedbackApi.as_view(), name="feedback"),
    path("<int:feedback_id>/", views.FeedbackDetailApi.as_view(), name="feedback-detail"),
]
