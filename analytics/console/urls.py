"""Data-platform console pages, mounted at /console/analytics/."""
from django.urls import path

from . import views

app_name = "analytics_console"

urlpatterns = [
    path("", views.exports, name="exports"),
    path("jobs/", views.jobs_panel, name="jobs"),
    path("exports/<int:job_id>/", views.export_detail, name="export"),
    path("exports/<int:job_id>/download/", views.export_download, name="download"),
    path("schedules/", views.schedules, name="schedules"),
    path("schedules/<int:schedule_id>/stop/", views.schedule_stop, name="schedule_stop"),
    path("facts/", views.facts, name="facts"),
    path("datasets/", views.datasets, name="datasets"),
]
