"""School attendance (学校出欠連絡) of one municipality: schools and their fiscal-year classes,
students and their guardians, guardians' absence reports, daily aggregates and outbreak alerts."""
from __future__ import annotations

from datetime import time

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from .calendar import fiscal_year_end, fiscal_year_start
from .constants import DEFAULT_INFECTION_SYMPTOMS, ReportStatus, ReportType


def _default_infection_symptoms() -> list[str]:
    return [str(code) for code in DEFAULT_INFECTION_SYMPTOMS]


class AttendancePolicy(models.Model):
    """Municipality-wide settings (one row): outbreak threshold, retention, link-code lifetime."""

    outbreak_threshold_percent = models.PositiveSmallIntegerField(
        "学級閉鎖検討の閾値（%）", default=20, validators=[MinValueValidator(1), MaxValueValidator(100)])
    # A class of five with one child off sick is 20%, but not an outbreak.
    outbreak_min_absent = models.PositiveSmallIntegerField("最少人数", default=2, validators=[MinValueValidator(1)])
    # After an alert for a class, no new alert for it for this many days (the review is under way).
    outbreak_quiet_days = models.PositiveSmallIntegerField("再通知までの日数", default=3)
    infection_symptoms = ArrayField(models.CharField(max_length=32), default=_default_infection_symptoms)
    # Reports are kept through the end of the fiscal year this many years after their own.
    retention_fiscal_years = models.PositiveSmallIntegerField(
        "保存年度数", default=1, validators=[MinValueValidator(0), MaxValueValidator(10)])
    link_code_ttl_days = models.PositiveSmallIntegerField(
        "連携コードの有効日数", default=30, validators=[MinValueValidator(1), MaxValueValidator(365)])
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="attendance_policy_singleton")]


class School(models.Model):
    class Kind(models.TextChoices):
        ELEMENTARY = "elementary", "小学校 / Elementary school"
        JUNIOR_HIGH = "junior_high", "中学校 / Junior high school"

    GRADES = {Kind.ELEMENTARY: 6, Kind.JUNIOR_HIGH: 3}

    code = models.CharField("学校コード", max_length=20, unique=True)
    name = models.CharField("学校名", max_length=100)
    name_en = models.CharField("English name", max_length=200, blank=True)
    kind = models.CharField("校種", max_length=16, choices=Kind.choices)
    district = models.ForeignKey("accounts.District", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="schools")
    phone = models.CharField("電話番号", max_length=20, blank=True)
    cutoff_time = models.TimeField("当日連絡の締切時刻", default=time(8, 15))
    cutoff_message = models.TextField("締切後のメッセージ", max_length=300, blank=True)
    cutoff_message_en = models.TextField("Message after the cut-off", max_length=300, blank=True)
    past_days_allowed = models.PositiveSmallIntegerField(
        "過去日の連絡を受け付ける日数", default=7, validators=[MaxValueValidator(60)])
    future_days_allowed = models.PositiveSmallIntegerField(
        "先の日付を受け付ける日数", default=60, validators=[MinValueValidator(1), MaxValueValidator(366)])
    notify_guardian_on_seen = models.BooleanField("確認時に保護者へ通知", default=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "code"]

    def __str__(self) -> str:
        return self.name

    @property
    def max_grade(self) -> int:
        return self.GRADES[self.Kind(self.kind)]

    def cutoff_messages(self) -> tuple[str, str]:
        """What a guardian reads when the day's cut-off has passed (the school's own words if set)."""
        clock = self.cutoff_time.strftime("%H:%M")
        phone_ja = f"（{self.phone}）" if self.phone else ""
        phone_en = f" ({self.phone})" if self.phone else ""
        ja = self.cutoff_message or (
            f"本日分の連絡の受付は{clock}で締め切りました。お手数ですが{self.name}へお電話ください{phone_ja}。")
        en = self.cutoff_message_en or (
            f"Same-day reports close at {clock}. Please phone {self.name_en or self.name}{phone_en}.")
        return ja, en


class AbsenceReason(models.Model):
    """One entry of a school's reason list (体調不良, 通院, ...)."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="reasons")
    label = models.CharField("理由", max_length=50)
    label_en = models.CharField("Reason (English)", max_length=100, blank=True)
    sort_order = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "id"]
        constraints = [models.UniqueConstraint(fields=["school", "label"], name="attendance_reason_unique_label")]

    def __str__(self) -> str:
        return self.label


class SchoolYear(models.Model):
    """A fiscal (school) year: April 1 to March 31."""

    fiscal_year = models.PositiveSmallIntegerField(unique=True, validators=[MinValueValidator(2000),
                                                                            MaxValueValidator(2200)])

    class Meta:
        ordering = ["-fiscal_year"]

    def __str__(self) -> str:
        return f"{self.fiscal_year}年度"

    @property
    def starts_on(self):
        return fiscal_year_start(self.fiscal_year)

    @property
    def ends_on(self):
        return fiscal_year_end(self.fiscal_year)


class SchoolClass(models.Model):
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="classes")
    school_year = models.ForeignKey(SchoolYear, on_delete=models.PROTECT, related_name="classes")
    grade = models.PositiveSmallIntegerField("学年", validators=[MinValueValidator(1), MaxValueValidator(6)])
    name = models.CharField("組", max_length=20)
    homeroom_teachers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="homeroom_classes")

    class Meta:
        ordering = ["school_id", "grade", "name"]
        constraints = [models.UniqueConstraint(fields=["school", "school_year", "grade", "name"],
                                               name="attendance_class_unique")]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return f"{self.grade}年{self.name}"


class Student(models.Model):
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="students")
    student_code = models.CharField("児童生徒番号", max_length=32)
    name = models.CharField("氏名", max_length=100)
    kana = models.CharField("ふりがな", max_length=100, blank=True)
    guardians = models.ManyToManyField(settings.AUTH_USER_MODEL, through="GuardianLink", related_name="children")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["school_id", "kana", "id"]
        constraints = [models.UniqueConstraint(fields=["school", "student_code"], name="attendance_student_code")]

    def __str__(self) -> str:
        return self.name


class Enrollment(models.Model):
    """A student's class and number (出席番号) in one school year."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="enrollments")
    school_class = models.ForeignKey(SchoolClass, on_delete=models.CASCADE, related_name="enrollments")
    school_year = models.ForeignKey(SchoolYear, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveSmallIntegerField("出席番号", validators=[MinValueValidator(1), MaxValueValidator(99)])

    class Meta:
        ordering = ["school_class_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["student", "school_year"], name="attendance_one_class_a_year"),
            models.UniqueConstraint(fields=["school_class", "number"], name="attendance_unique_number"),
        ]


class LinkCode(models.Model):
    """A one-time code the school hands a guardian to link their account to a child. Only an HMAC of
    the code is stored; it expires and works once."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="link_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]


class GuardianLink(models.Model):
    guardian = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attendance_links")
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="guardian_links")
    link_code = models.ForeignKey(LinkCode, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["guardian", "student"], name="attendance_link_unique")]


class StaffAssignment(models.Model):
    """Who sees more than their own homeroom: a school's principal, vice principal and nurse see the
    whole school; board-of-education staff (no school) see every school's counts."""

    class Position(models.TextChoices):
        PRINCIPAL = "principal", "校長 / Principal"
        VICE_PRINCIPAL = "vice_principal", "教頭 / Vice principal"
        NURSE = "nurse", "養護教諭 / School nurse"
        BOARD = "board", "教育委員会 / Board of education"

    SCHOOL_WIDE = (Position.PRINCIPAL, Position.VICE_PRINCIPAL, Position.NURSE)
    ALERTED = (Position.PRINCIPAL, Position.NURSE)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attendance_assignments")
    school = models.ForeignKey(School, null=True, blank=True, on_delete=models.CASCADE, related_name="staff_assignments")
    position = models.CharField(max_length=16, choices=Position.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "school", "position"], name="attendance_assignment_unique"),
            models.UniqueConstraint(fields=["user"], condition=Q(position="board"),
                                    name="attendance_board_member_unique"),
            models.CheckConstraint(condition=Q(position="board", school__isnull=True)
                                   | (~Q(position="board") & Q(school__isnull=False)),
                                   name="attendance_board_has_no_school"),
        ]


class AbsenceReport(models.Model):
    """A guardian's report for one child: absent, late, leaving early or other, for a day or a range."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="reports")
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="reports")
    # The class the student was in for the report's school year, kept even if the roster changes.
    school_class = models.ForeignKey(SchoolClass, on_delete=models.PROTECT, related_name="reports")
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    type = models.CharField(max_length=16, choices=ReportType.choices)
    reason = models.ForeignKey(AbsenceReason, on_delete=models.PROTECT, related_name="+")
    symptoms = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    temperature = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    start_date = models.DateField()
    end_date = models.DateField()
    expected_time = models.TimeField(null=True, blank=True)
    note = models.TextField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.PENDING)
    seen_at = models.DateTimeField(null=True, blank=True)
    seen_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_date", "-created_at"]
        indexes = [
            models.Index(fields=["school_class", "start_date"]),
            models.Index(fields=["school", "start_date"]),
            models.Index(fields=["student", "start_date"]),
            models.Index(fields=["end_date"]),
        ]
        constraints = [models.CheckConstraint(condition=Q(end_date__gte=models.F("start_date")),
                                              name="attendance_report_range_order")]


class DailyClassCount(models.Model):
    """How many children of a class were absent, late, ... on a day, by symptom. Kept after the
    reports themselves are deleted by retention."""

    date = models.DateField()
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+")
    school_class = models.ForeignKey(SchoolClass, on_delete=models.CASCADE, related_name="daily_counts")
    grade = models.PositiveSmallIntegerField()
    enrolled = models.PositiveIntegerField(default=0)
    absent = models.PositiveIntegerField(default=0)
    late = models.PositiveIntegerField(default=0)
    early_leave = models.PositiveIntegerField(default=0)
    other = models.PositiveIntegerField(default=0)
    infection_absent = models.PositiveIntegerField(default=0)
    symptoms = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["school_class", "date"], name="attendance_count_unique")]
        indexes = [models.Index(fields=["date", "school"])]


class OutbreakAlert(models.Model):
    """A class reached the municipality's share of infection-type absences: review a class closure."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="outbreak_alerts")
    school_class = models.ForeignKey(SchoolClass, on_delete=models.CASCADE, related_name="outbreak_alerts")
    date = models.DateField()
    enrolled = models.PositiveIntegerField()
    infection_absent = models.PositiveIntegerField()
    threshold_percent = models.PositiveSmallIntegerField()
    symptoms = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")

    class Meta:
        ordering = ["-date", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["school_class", "date"], name="attendance_alert_unique")]

    @property
    def share_percent(self) -> float:
        return round(100 * self.infection_absent / self.enrolled, 1) if self.enrolled else 0.0


class Announcement(models.Model):
    """A school's message to guardians of a whole school, one grade or one class."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="announcements")
    school_year = models.ForeignKey(SchoolYear, on_delete=models.PROTECT, related_name="+")
    grade = models.PositiveSmallIntegerField(null=True, blank=True)
    school_class = models.ForeignKey(SchoolClass, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="announcements")
    title = models.CharField(max_length=100)
    body = models.TextField(max_length=2000)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    recipient_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["school", "school_year", "created_at"])]
