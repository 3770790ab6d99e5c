"""Data-platform API, mounted at /api/v1/ (staff under staff/analytics/, open data under opendata/)."""
from django.urls import path

from . import views

urlpatterns = [
    path("staff/analytics/datasets/", views.DatasetListApi.as_view(), name="analytics-datasets"),
    path("staff/analytics/exports/", views.ExportListApi.as_view(), name="analytics-exports"),
    path("staff/analytics/exports/<int:job_id>/", views.ExportDetailApi.as_view(), name="analytics-export"),
    path("staff/analytics/exports/<int:job_id>/download/", views.ExportDownloadApi.as_view(),
         name="analytics-export-download"),
    path("staff/analytics/schedules/", views.ScheduleListApi.as_view(), name="analytics-schedules"),
    path("staff/analytics/schedules/<int:schedule_id>/", views.ScheduleDetailApi.as_view(), name="analytics-schedule"),
    path("staff/analytics/facts/", views.FactStatusApi.as_view(), name="analytics-facts"),
    path("staff/analytics/facts/rebuild/", views.FactRebuildApi.as_view(), name="analytics-facts-rebuild"),
    path("opendata/", views.OpenDataCatalogApi.as_view(), name="opendata-catalog"),
    path("opendata/garbage_separate.csv", views.GarbageSeparateCsvApi.as_view(), name="opendata-garbage-separate"),
    path("opendata/event.csv", views.EventCsvApi.as_view(), name="opendata-event"),
]
