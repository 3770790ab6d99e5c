from django.urls import path

from . import views

app_name = "announcements_console"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.edit, name="new"),
    path("<int:announcement_id>/", views.edit, name="edit"),
    path("<int:announcement_id>/delete/", views.delete, name="delete"),
]
