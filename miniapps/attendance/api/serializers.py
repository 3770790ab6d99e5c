"""Input and output serializers of the attendance API. Shape only; the rules live in services."""
from __future__ import annotations

import math

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from superapp.api.fields import StrictCharField

from ..calendar import now_local
from ..calendar import at_local
from ..constants import (
    NOTE_MAX_LENGTH,
    TEMPERATURE_MAX,
    TEMPERATURE_MIN,
    ReportStatus,
    ReportType,
    Symptom,
    label_en,
    label_ja,
)
from ..models import Announcement, OutbreakAlert, School, Student

ID_MAX = 2**63 - 1  # bigint: larger ids would reach the database as an out-of-range error


def IdField(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=ID_MAX, **kwargs)


# --- Shared pieces ------------------------------------------------------------------------------
# The outputs on the hot paths (a guardian's report, a teacher's class list) are plain serializers
# with their fields declared: a ModelSerializer rebuilds its fields from the model on every response,
# which cost more CPU than the report's own queries (bench/scenarios/attendance.py).
class AttendanceReasonOutput(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    label = serializers.CharField(read_only=True)
    label_en = serializers.CharField(read_only=True)


class AttendanceSchoolBriefOutput(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    name_en = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=School.Kind.choices, read_only=True)


class AttendanceClassBriefOutput(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    fiscal_year = serializers.IntegerField(source="school_year.fiscal_year", read_only=True)
    grade = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    display_name = serializers.CharField(read_only=True)


class AttendanceStudentBriefOutput(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    kana = serializers.CharField(read_only=True)


class AttendanceCountsOutput(serializers.Serializer):
    enrolled = serializers.IntegerField()
    absent = serializers.IntegerField()
    late = serializers.IntegerField()
    early_leave = serializers.IntegerField()
    other = serializers.IntegerField()
    infection_absent = serializers.IntegerField()
    symptoms = serializers.DictField(child=serializers.IntegerField(), help_text="symptom code → children")


class AttendanceDateQuery(serializers.Serializer):
    date = serializers.DateField(required=False)


class AttendanceDateInput(serializers.Serializer):
    date = serializers.DateField()


class AttendanceLabelledChoice(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    label_en = serializers.CharField()


def choices_payload(choices) -> list[dict]:
    return [{"code": value, "label": label_ja(choices, value), "label_en": label_en(choices, value)}
            for value in choices.values]


# --- Guardians ----------------------------------------------------------------------------------
class AttendanceOptionsOutput(serializers.Serializer):
    types = AttendanceLabelledChoice(many=True)
    symptoms = AttendanceLabelledChoice(many=True)
    statuses = AttendanceLabelledChoice(many=True)
    temperature_min = serializers.FloatField()
    temperature_max = serializers.FloatField()
    max_range_days = serializers.IntegerField()


class AttendanceLinkInput(serializers.Serializer):
    code = StrictCharField(max_length=40, help_text="The one-time code from the school, e.g. ABCD-EFGH-JKLM")


class AttendanceChildSchoolOutput(serializers.ModelSerializer):
    reasons = AttendanceReasonOutput(many=True, source="active_reasons")
    cutoff_time = serializers.TimeField(format="%H:%M")

    class Meta:
        model = School
        fields = ["id", "name", "name_en", "kind", "phone", "cutoff_time", "reasons"]


class AttendanceChildOutput(serializers.ModelSerializer):
    school = AttendanceChildSchoolOutput()
    school_class = serializers.SerializerMethodField()
    number = serializers.SerializerMethodField()

    class Meta:
        model = Student
        fields = ["id", "name", "kana", "school", "school_class", "number"]

    @extend_schema_field(AttendanceClassBriefOutput(allow_null=True))
    def get_school_class(self, student):
        enrollment = getattr(student, "enrollment", None)
        if enrollment is None:
            return None
        return AttendanceClassBriefOutput(enrollment.school_class).data

    @extend_schema_field(OpenApiTypes.INT)
    def get_number(self, student) -> int | None:
        enrollment = getattr(student, "enrollment", None)
        return enrollment.number if enrollment else None


class AttendanceReportInput(serializers.Serializer):
    student = IdField()
    type = serializers.ChoiceField(choices=ReportType.choices)
    reason = IdField(help_text="id of one of the school's reasons (GET /api/v1/attendance/children/)")
    date = serializers.DateField(help_text="The day, or the first day of a range (Asia/Tokyo)")
    end_date = serializers.DateField(required=False, allow_null=True, help_text="Last day of a multi-day absence")
    symptoms = serializers.ListField(child=serializers.ChoiceField(choices=Symptom.choices), required=False,
                                     max_length=len(Symptom.values), default=list)
    temperature = serializers.FloatField(
        required=False, allow_null=True, min_value=TEMPERATURE_MIN, max_value=TEMPERATURE_MAX,
        help_text="Body temperature in °C",
        error_messages={
            "min_value": f"体温は{TEMPERATURE_MIN}〜{TEMPERATURE_MAX}℃で入力してください / "
                         f"temperature must be between {TEMPERATURE_MIN} and {TEMPERATURE_MAX}",
            "max_value": f"体温は{TEMPERATURE_MIN}〜{TEMPERATURE_MAX}℃で入力してください / "
                         f"temperature must be between {TEMPERATURE_MIN} and {TEMPERATURE_MAX}",
        })
    expected_time = serializers.TimeField(required=False, allow_null=True,
                                          help_text="Expected arrival (late) or leaving (early_leave) time, HH:MM")
    note = StrictCharField(max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True, default="")

    def validate_temperature(self, value):
        if value is not None and not math.isfinite(value):
            raise serializers.ValidationError("体温を数値で入力してください / temperature must be a number")
        return value


class AttendanceReportOutput(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    student = AttendanceStudentBriefOutput()
    school = AttendanceSchoolBriefOutput()
    school_class = AttendanceClassBriefOutput()
    type = serializers.ChoiceField(choices=ReportType.choices)
    reason = AttendanceReasonOutput()
    symptoms = serializers.ListField(child=serializers.ChoiceField(choices=Symptom.choices))
    temperature = serializers.FloatField(allow_null=True)
    date = serializers.DateField(source="start_date")
    end_date = serializers.DateField()
    expected_time = serializers.TimeField(format="%H:%M", allow_null=True)
    note = serializers.CharField()
    status = serializers.ChoiceField(choices=ReportStatus.choices)
    seen_at = serializers.DateTimeField(allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    can_withdraw = serializers.SerializerMethodField()

    def get_can_withdraw(self, report) -> bool:
        return report.status != ReportStatus.WITHDRAWN and \
            now_local() < at_local(report.start_date, report.school.cutoff_time)


class AttendanceAnnouncementOutput(serializers.ModelSerializer):
    school = AttendanceSchoolBriefOutput()
    school_class = AttendanceClassBriefOutput(allow_null=True)

    class Meta:
        model = Announcement
        fields = ["id", "school", "grade", "school_class", "title", "body", "created_at"]


# --- Staff --------------------------------------------------------------------------------------
class AttendanceTeacherOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="__str__")


class AttendanceStaffClassOutput(AttendanceClassBriefOutput):
    school = AttendanceSchoolBriefOutput()
    homeroom_teachers = AttendanceTeacherOutput(many=True)
    enrolled = serializers.IntegerField()
    counts = serializers.SerializerMethodField()

    @extend_schema_field(AttendanceCountsOutput(allow_null=True))
    def get_counts(self, school_class):
        return getattr(school_class, "day_counts", None)


class AttendanceStaffReportOutput(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    student = AttendanceStudentBriefOutput()
    school_class = serializers.IntegerField(source="school_class_id")
    type = serializers.ChoiceField(choices=ReportType.choices)
    reason = AttendanceReasonOutput()
    symptoms = serializers.ListField(child=serializers.ChoiceField(choices=Symptom.choices))
    temperature = serializers.FloatField(allow_null=True)
    date = serializers.DateField(source="start_date")
    end_date = serializers.DateField()
    expected_time = serializers.TimeField(format="%H:%M", allow_null=True)
    note = serializers.CharField()
    status = serializers.ChoiceField(choices=ReportStatus.choices)
    seen_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class AttendanceClassListEntryOutput(serializers.Serializer):
    number = serializers.IntegerField(allow_null=True)
    student = AttendanceStudentBriefOutput()
    reports = AttendanceStaffReportOutput(many=True)


class AttendanceClassListOutput(serializers.Serializer):
    school_class = AttendanceClassBriefOutput()
    school = AttendanceSchoolBriefOutput(source="school_class.school")
    date = serializers.DateField()
    counts = AttendanceCountsOutput()
    students = AttendanceClassListEntryOutput(many=True, source="entries")


class AttendanceClassCountsOutput(AttendanceCountsOutput):
    school_class = AttendanceClassBriefOutput()


class AttendanceGradeCountsOutput(AttendanceCountsOutput):
    grade = serializers.IntegerField()


class AttendanceSchoolDayOutput(serializers.Serializer):
    school = AttendanceSchoolBriefOutput()
    date = serializers.DateField()
    totals = AttendanceCountsOutput()
    grades = AttendanceGradeCountsOutput(many=True)
    classes = AttendanceClassCountsOutput(many=True)
    reports = AttendanceStaffReportOutput(many=True)


class AttendanceStaffSchoolOutput(AttendanceSchoolBriefOutput):
    phone = serializers.CharField(read_only=True)
    cutoff_time = serializers.TimeField(format="%H:%M")
    notify_guardian_on_seen = serializers.BooleanField(read_only=True)


class AttendanceBoardSchoolOutput(AttendanceCountsOutput):
    school = AttendanceSchoolBriefOutput()


class AttendanceBoardOutput(serializers.Serializer):
    date = serializers.DateField()
    totals = AttendanceCountsOutput()
    schools = AttendanceBoardSchoolOutput(many=True)


class AttendanceMarkedOutput(serializers.Serializer):
    marked = serializers.IntegerField()


class AttendanceLinkCodeOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Shown once; only a hash is stored")
    expires_at = serializers.DateTimeField()
    student = AttendanceStudentBriefOutput()


class AttendanceAlertOutput(serializers.ModelSerializer):
    school = AttendanceSchoolBriefOutput()
    school_class = AttendanceClassBriefOutput()
    share_percent = serializers.FloatField()
    symptoms = serializers.DictField(child=serializers.IntegerField())

    class Meta:
        model = OutbreakAlert
        fields = ["id", "school", "school_class", "date", "enrolled", "infection_absent", "share_percent",
                  "threshold_percent", "symptoms", "created_at", "acknowledged_at"]


class AttendanceAnnouncementInput(serializers.Serializer):
    school = IdField()
    grade = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=6)
    school_class = IdField(required=False, allow_null=True)
    title = StrictCharField(max_length=100)
    body = StrictCharField(max_length=2000)


class AttendanceStaffAnnouncementOutput(AttendanceAnnouncementOutput):
    class Meta(AttendanceAnnouncementOutput.Meta):
        fields = AttendanceAnnouncementOutput.Meta.fields + ["recipient_count"]

