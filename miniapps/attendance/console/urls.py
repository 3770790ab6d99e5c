"""Attendance console pages, mounted at /console/attendance/ by the manifest (AttendanceConfig)."""
from django.urls import path

from ..api import converters  # noqa: F401  (registers <attendance_id:...>)
from . import views

app_name = "attendance_console"

urlpatterns = [
    path("", views.index, name="index"),
    path("classes/<attendance_id:class_id>/", views.class_list, name="class"),
    path("classes/<attendance_id:class_id>/link-codes/", views.link_codes, name="link_codes"),
    path("reports/<attendance_id:report_id>/seen/", views.report_seen, name="report_seen"),
    path("schools/", views.schools, name="schools"),
    path("schools/<attendance_id:school_id>/", views.school_day, name="school"),
    path("schools/<attendance_id:school_id>/settings/", views.school_settings, name="school_settings"),
    path("board/", views.board, name="board"),
    path("board/export.csv", views.board_export, name="board_export"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<attendance_id:alert_id>/", views.alert_detail, name="alert"),
    path("roster/", views.roster, name="roster"),
    path("policy/", views.policy, name="policy"),
    path("announcements/new/", views.announcement_new, name="announcement_new"),
]
