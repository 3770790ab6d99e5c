"""Staff attendance API, mounted at /api/v1/staff/attendance/ by the manifest (AttendanceConfig)."""
from django.urls import path

from . import converters  # noqa: F401  (registers <attendance_id:...>)
from . import views

urlpatterns = [
    path("classes/", views.StaffClassListApi.as_view(), name="attendance-staff-classes"),
    path("classes/<attendance_id:class_id>/", views.StaffClassDetailApi.as_view(), name="attendance-staff-class"),
    path("classes/<attendance_id:class_id>/seen/", views.StaffClassSeenApi.as_view(),
         name="attendance-staff-class-seen"),
    path("reports/<attendance_id:report_id>/seen/", views.StaffReportSeenApi.as_view(),
         name="attendance-staff-report-seen"),
    path("schools/", views.StaffSchoolListApi.as_view(), name="attendance-staff-schools"),
    path("schools/<attendance_id:school_id>/", views.StaffSchoolDayApi.as_view(), name="attendance-staff-school"),
    path("board/", views.StaffBoardApi.as_view(), name="attendance-staff-board"),
    path("alerts/", views.StaffAlertListApi.as_view(), name="attendance-staff-alerts"),
    path("alerts/<attendance_id:alert_id>/acknowledge/", views.StaffAlertAcknowledgeApi.as_view(),
         name="attendance-staff-alert-ack"),
    path("students/<attendance_id:student_id>/link-codes/", views.StaffLinkCodeApi.as_view(),
         name="attendance-staff-link-codes"),
    path("announcements/", views.StaffAnnouncementCreateApi.as_view(), name="attendance-staff-announcements"),
]
