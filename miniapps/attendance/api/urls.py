"""Guardians' attendance API, mounted at /api/v1/attendance/ by the manifest (AttendanceConfig)."""
from django.urls import path

from . import converters  # noqa: F401  (registers <attendance_id:...>)
from . import views

urlpatterns = [
    path("options/", views.OptionsApi.as_view(), name="attendance-options"),
    path("links/", views.LinkApi.as_view(), name="attendance-link"),
    path("children/", views.ChildListApi.as_view(), name="attendance-children"),
    path("children/<attendance_id:student_id>/", views.ChildDetailApi.as_view(), name="attendance-child"),
    path("reports/", views.ReportListCreateApi.as_view(), name="attendance-reports"),
    path("reports/<attendance_id:report_id>/", views.ReportDetailApi.as_view(), name="attendance-report"),
    path("reports/<attendance_id:report_id>/withdraw/", views.ReportWithdrawApi.as_view(),
         name="attendance-report-withdraw"),
    path("announcements/", views.AnnouncementListApi.as_view(), name="attendance-announcements"),
]
