"""Attendance API: guardians link to children and report absences; teachers read class lists and
mark reports seen; principals, nurses and the board of education read counts and alerts."""
from __future__ import annotations

from django.db.models import Count
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasRole, IsAnyStaff, IsResident
from accounts.roles import Role
from superapp.api.errors import ApiError
from superapp.api.pagination import PageNumberPagination
from superapp.api.utils import client_ip

from .. import selectors, services
from ..calendar import fiscal_year_of, today_local
from ..constants import MAX_RANGE_DAYS, TEMPERATURE_MAX, TEMPERATURE_MIN, ReportStatus, ReportType, Symptom
from ..models import DailyClassCount, SchoolClass
from . import serializers as s

DATE_PARAM = OpenApiParameter("date", OpenApiTypes.DATE, description="Day to show (Asia/Tokyo); default today")
GUARDIAN_TAGS = ["attendance"]
STAFF_TAGS = ["attendance (staff)"]
IsTeacher = HasRole(Role.TEACHER)


class StrictPageNumberPagination(PageNumberPagination):
    """`page_size` that is not a positive integer is a 400, not silently the default."""

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and (not raw.isdigit() or int(raw) < 1):
            raise ApiError("validation_error", fields={self.page_size_query_param: [
                "1以上の整数で指定してください / must be a positive integer"]})
        return super().get_page_size(request)


def _query_date(request):
    query = s.AttendanceDateQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data.get("date") or today_local()


# --- Guardians ----------------------------------------------------------------------------------
class OptionsApi(APIView):
    """Report types, symptoms and statuses with their labels, for the app's forms."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.AttendanceOptionsOutput, tags=GUARDIAN_TAGS)
    def get(self, request):
        body = {"types": s.choices_payload(ReportType), "symptoms": s.choices_payload(Symptom),
                "statuses": s.choices_payload(ReportStatus), "temperature_min": TEMPERATURE_MIN,
                "temperature_max": TEMPERATURE_MAX, "max_range_days": MAX_RANGE_DAYS}
        return Response(s.AttendanceOptionsOutput(body).data)


class LinkApi(APIView):
    """Link the signed-in resident to a child with the one-time code the school handed out."""

    permission_classes = [IsResident]

    @extend_schema(request=s.AttendanceLinkInput, responses={201: s.AttendanceChildOutput}, tags=GUARDIAN_TAGS)
    def post(self, request):
        data = s.AttendanceLinkInput(data=request.data)
        data.is_valid(raise_exception=True)
        link = services.guardian_link_with_code(guardian=request.user, code=data.validated_data["code"],
                                                client_ip=client_ip(request))
        child = next(c for c in selectors.children_of(guardian=request.user) if c.pk == link.student_id)
        return Response(s.AttendanceChildOutput(child).data, status=status.HTTP_201_CREATED)


class ChildListApi(APIView):
    """The resident's linked children with their school's cut-off time and reasons."""

    permission_classes = [IsResident]

    @extend_schema(responses=s.AttendanceChildOutput(many=True), tags=GUARDIAN_TAGS)
    def get(self, request):
        return Response(s.AttendanceChildOutput(selectors.children_of(guardian=request.user), many=True).data)


class ChildDetailApi(APIView):
    permission_classes = [IsResident]

    @extend_schema(request=None, responses={204: None}, tags=GUARDIAN_TAGS, summary="Unlink a child")
    def delete(self, request, student_id: int):
        student = selectors.access_child(guardian=request.user, student_id=student_id)
        services.guardian_unlink(guardian=request.user, student=student)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _StudentQuery(s.serializers.Serializer):
    student = s.IdField(required=False)


class ReportListCreateApi(generics.ListAPIView):
    """The guardian's children's reports, newest first; POST files a new one."""

    permission_classes = [IsResident]
    serializer_class = s.AttendanceReportOutput
    pagination_class = StrictPageNumberPagination

    def get_queryset(self):
        query = _StudentQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.reports_of_guardian(guardian=self.request.user,
                                             student_id=query.validated_data.get("student"))

    @extend_schema(
        parameters=[OpenApiParameter("student", OpenApiTypes.INT, description="Only this child's reports")],
        tags=GUARDIAN_TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.AttendanceReportInput, responses={201: s.AttendanceReportOutput}, tags=GUARDIAN_TAGS,
                   description="Report an absence, lateness or early leave. Same-day reports close at the school's "
                               "cut-off time (attendance_after_cutoff, with the school's message).")
    def post(self, request):
        data = s.AttendanceReportInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        report = services.report_create(guardian=request.user, student_id=values.pop("student"),
                                        reason_id=values.pop("reason"), start_date=values.pop("date"), **values)
        # The service returns the report with its student, school, class and reason loaded.
        return Response(s.AttendanceReportOutput(report).data, status=status.HTTP_201_CREATED)


class ReportDetailApi(APIView):
    permission_classes = [IsResident]

    @extend_schema(responses=s.AttendanceReportOutput, tags=GUARDIAN_TAGS)
    def get(self, request, report_id: int):
        report = selectors.access_report_for_guardian(guardian=request.user, report_id=report_id)
        return Response(s.AttendanceReportOutput(report).data)


class ReportWithdrawApi(APIView):
    permission_classes = [IsResident]

    @extend_schema(request=None, responses=s.AttendanceReportOutput, tags=GUARDIAN_TAGS,
                   description="Withdraw a report before the cut-off of its first day (attendance_withdraw_closed after).")
    def post(self, request, report_id: int):
        report = services.report_withdraw(guardian=request.user, report_id=report_id)
        report = selectors.access_report_for_guardian(guardian=request.user, report_id=report.pk)
        return Response(s.AttendanceReportOutput(report).data)


class AnnouncementListApi(generics.ListAPIView):
    """Announcements of this school year to the school, grade or class of one of the guardian's children."""

    permission_classes = [IsResident]
    serializer_class = s.AttendanceAnnouncementOutput
    pagination_class = StrictPageNumberPagination

    def get_queryset(self):
        return selectors.announcements_for_guardian(guardian=self.request.user)

    @extend_schema(tags=GUARDIAN_TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


# --- Staff --------------------------------------------------------------------------------------
def _with_counts(classes: list[SchoolClass], day) -> list[SchoolClass]:
    rows = {row.school_class_id: row for row in DailyClassCount.objects.filter(date=day, school_class__in=classes)}
    for school_class in classes:
        row = rows.get(school_class.pk)
        school_class.day_counts = {
            "enrolled": school_class.enrolled,
            **{name: getattr(row, name, 0) for name in ("absent", "late", "early_leave", "other", "infection_absent")},
            "symptoms": getattr(row, "symptoms", {}) if row else {},
        }
    return classes


class StaffClassListApi(APIView):
    """The classes whose lists the staff member may read, with the day's counts."""

    permission_classes = [IsTeacher]

    @extend_schema(parameters=[DATE_PARAM], responses=s.AttendanceStaffClassOutput(many=True), tags=STAFF_TAGS)
    def get(self, request):
        day = _query_date(request)
        classes = list(selectors.classes_visible(user=request.user, fiscal_year=fiscal_year_of(day))
                       .annotate(enrolled=Count("enrollments")).prefetch_related("homeroom_teachers"))
        return Response(s.AttendanceStaffClassOutput(_with_counts(classes, day), many=True).data)


class StaffClassDetailApi(APIView):
    """A class's list for a day: every child, and who is absent, late or leaving early, why, with
    which symptoms and temperature. The number of queries does not grow with the class."""

    permission_classes = [IsTeacher]

    @extend_schema(parameters=[DATE_PARAM], responses=s.AttendanceClassListOutput, tags=STAFF_TAGS)
    def get(self, request, class_id: int):
        school_class = selectors.access_class(user=request.user, class_id=class_id)
        day = _query_date(request)
        return Response(s.AttendanceClassListOutput(selectors.class_day_list(school_class=school_class, day=day)).data)


class StaffClassSeenApi(APIView):
    permission_classes = [IsTeacher]

    @extend_schema(request=s.AttendanceDateInput, responses=s.AttendanceMarkedOutput, tags=STAFF_TAGS,
                   summary="Mark every pending report of the class for the day as seen")
    def post(self, request, class_id: int):
        school_class = selectors.access_class(user=request.user, class_id=class_id)
        data = s.AttendanceDateInput(data=request.data)
        data.is_valid(raise_exception=True)
        marked = services.class_mark_seen(school_class=school_class, day=data.validated_data["date"],
                                          acting_user=request.user)
        return Response(s.AttendanceMarkedOutput({"marked": marked}).data)


class StaffReportSeenApi(APIView):
    permission_classes = [IsTeacher]

    @extend_schema(request=None, responses=s.AttendanceStaffReportOutput, tags=STAFF_TAGS, summary="Mark a report seen")
    def post(self, request, report_id: int):
        report = selectors.access_report_for_staff(user=request.user, report_id=report_id)
        report = services.report_mark_seen(report=report, acting_user=request.user)
        return Response(s.AttendanceStaffReportOutput(report).data)


class StaffSchoolListApi(APIView):
    """Schools whose whole-school view the staff member may read (principal, vice principal, nurse)."""

    permission_classes = [IsTeacher]

    @extend_schema(responses=s.AttendanceStaffSchoolOutput(many=True), tags=STAFF_TAGS)
    def get(self, request):
        return Response(s.AttendanceStaffSchoolOutput(selectors.schools_visible(user=request.user), many=True).data)


class StaffSchoolDayApi(APIView):
    permission_classes = [IsTeacher]

    @extend_schema(parameters=[DATE_PARAM], responses=s.AttendanceSchoolDayOutput, tags=STAFF_TAGS,
                   summary="Whole-school view for a day (principal, vice principal, school nurse)")
    def get(self, request, school_id: int):
        school = selectors.access_school(user=request.user, school_id=school_id)
        day = _query_date(request)
        return Response(s.AttendanceSchoolDayOutput(selectors.school_day_view(school=school, day=day)).data)


class StaffBoardApi(APIView):
    """Board of education: every school's counts for a day (no names)."""

    permission_classes = [IsAnyStaff]

    @extend_schema(parameters=[DATE_PARAM], responses=s.AttendanceBoardOutput, tags=STAFF_TAGS)
    def get(self, request):
        if not selectors.staff_scope(request.user).sees_counts_of_every_school:
            raise ApiError("permission_denied", status_code=403)
        return Response(s.AttendanceBoardOutput(selectors.board_day_counts(day=_query_date(request))).data)


class StaffAlertListApi(generics.ListAPIView):
    """Class-closure review alerts (学級閉鎖の検討) the staff member receives, newest first."""

    permission_classes = [IsAnyStaff]
    serializer_class = s.AttendanceAlertOutput
    pagination_class = StrictPageNumberPagination

    def get_queryset(self):
        return selectors.alerts_visible(user=self.request.user)

    @extend_schema(tags=STAFF_TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class StaffAlertAcknowledgeApi(APIView):
    permission_classes = [IsAnyStaff]

    @extend_schema(request=None, responses=s.AttendanceAlertOutput, tags=STAFF_TAGS)
    def post(self, request, alert_id: int):
        alert = selectors.access_alert(user=request.user, alert_id=alert_id)
        return Response(s.AttendanceAlertOutput(services.alert_acknowledge(alert=alert, acting_user=request.user)).data)


class StaffLinkCodeApi(APIView):
    permission_classes = [IsTeacher]

    @extend_schema(request=None, responses={201: s.AttendanceLinkCodeOutput}, tags=STAFF_TAGS,
                   summary="Issue a one-time code a guardian uses to link to this student")
    def post(self, request, student_id: int):
        student = selectors.access_student_for_staff(user=request.user, student_id=student_id)
        issued = services.link_code_issue(student=student, acting_user=request.user)
        body = {"code": issued.code, "expires_at": issued.link_code.expires_at, "student": student}
        return Response(s.AttendanceLinkCodeOutput(body).data, status=status.HTTP_201_CREATED)


class StaffAnnouncementCreateApi(APIView):
    permission_classes = [IsTeacher]

    @extend_schema(request=s.AttendanceAnnouncementInput, responses={201: s.AttendanceStaffAnnouncementOutput}, tags=STAFF_TAGS,
                   summary="Send an announcement to guardians of a school, a grade or a class")
    def post(self, request):
        data = s.AttendanceAnnouncementInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        school_class = None
        if values.get("school_class") is not None:
            school_class = selectors.access_class(user=request.user, class_id=values["school_class"])
            if school_class.school_id != values["school"]:
                raise ApiError("validation_error", fields={"school_class": [
                    "この学校の学級を指定してください / choose a class of this school"]})
            school = school_class.school
        else:
            school = selectors.access_school(user=request.user, school_id=values["school"])
        announcement = services.announcement_create(school=school, grade=values.get("grade"),
                                                    school_class=school_class, title=values["title"],
                                                    body=values["body"], acting_user=request.user)
        return Response(s.AttendanceStaffAnnouncementOutput(announcement).data, status=status.HTTP_201_CREATED)
