from django.urls import path, register_converter

from . import views


class IdConverter:
    """Positive ids that fit in a bigint; longer digit strings are a 404, not a database error."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


register_converter(IdConverter, "attendance_id")

urlpatterns = [
    # Guardians (residents)
    path("attendance/options/", views.OptionsApi.as_view(), name="attendance-options"),
    path("attendance/links/", views.LinkApi.as_view(), name="attendance-link"),
    path("attendance/children/", views.ChildListApi.as_view(), name="attendance-children"),
    path("attendance/children/<attendance_id:student_id>/", views.ChildDetailApi.as_view(), name="attendance-child"),
    path("attendance/reports/", views.ReportListCreateApi.as_view(), name="attendance-reports"),
    path("attendance/reports/<attendance_id:report_id>/", views.ReportDetailApi.as_view(), name="attendance-report"),
    path("attendance/reports/<attendance_id:report_id>/withdraw/", views.ReportWithdrawApi.as_view(),
         name="attendance-report-withdraw"),
    path("attendance/announcements/", views.AnnouncementListApi.as_view(), name="attendance-announcements"),
    # Staff
    path("staff/attendance/classes/", views.StaffClassListApi.as_view(), name="attendance-staff-classes"),
    path("staff/attendance/classes/<attendance_id:class_id>/", views.StaffClassDetailApi.as_view(),
         name="attendance-staff-class"),
    path("staff/attendance/classes/<attendance_id:class_id>/seen/", views.StaffClassSeenApi.as_view(),
         name="attendance-staff-class-seen"),
    path("staff/attendance/reports/<attendance_id:report_id>/seen/", views.StaffReportSeenApi.as_view(),
         name="attendance-staff-report-seen"),
    path("staff/attendance/schools/", views.StaffSchoolListApi.as_view(), name="attendance-staff-schools"),
    path("staff/attendance/schools/<attendance_id:school_id>/", views.StaffSchoolDayApi.as_view(),
         name="attendance-staff-school"),
    path("staff/attendance/board/", views.StaffBoardApi.as_view(), name="attendance-staff-board"),
    path("staff/attendance/alerts/", views.StaffAlertListApi.as_view(), name="attendance-staff-alerts"),
    path("staff/attendance/alerts/<attendance_id:alert_id>/acknowledge/", views.StaffAlertAcknowledgeApi.as_view(),
         name="attendance-staff-alert-ack"),
    path("staff/attendance/students/<attendance_id:student_id>/link-codes/", views.StaffLinkCodeApi.as_view(),
         name="attendance-staff-link-codes"),
    path("staff/attendance/announcements/", views.StaffAnnouncementCreateApi.as_view(),
         name="attendance-staff-announcements"),
]
