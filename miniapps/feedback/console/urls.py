from django.urls import path

from . import views

app_name = "feedback_console"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:feedback_id>/", views.detail, name="detail"),
]
