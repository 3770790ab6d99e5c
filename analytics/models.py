"""The data platform of one municipality: daily fact tables (aggregates that dashboards and exports
read instead of raw events), export jobs and their schedules, and the open-data releases.

Fact tables hold exact, unsuppressed counts and no foreign keys: they outlive the rows they were
counted from (retention deletes attendance reports, check-ins are archived) and are rebuilt day by
day from the sources. Small counts are suppressed when they are read (exports, dashboards), with
the municipality's threshold at that moment.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


# --- Fact tables ------------------------------------------------------------------------------
class UsageFact(models.Model):
    """Mini-app opens and taps per local day, mini-app, district and age band; `users` is the number
    of distinct residents behind the row."""

    day = models.DateField()
    miniapp_id = models.CharField(max_length=50)
    district_id = models.BigIntegerField(null=True)
    age_band = models.PositiveSmallIntegerField(null=True)
    opens = models.PositiveIntegerField(default=0)
    taps = models.PositiveIntegerField(default=0)
    users = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "analytics_usage_daily"
        constraints = [models.UniqueConstraint(fields=["day", "miniapp_id", "district_id", "age_band"],
                                               name="analytics_usage_daily_unique", nulls_distinct=False)]


class ActiveResidentsFact(models.Model):
    """Residents who opened or tapped any mini-app on a local day, per district and age band."""

    day = models.DateField()
    district_id = models.BigIntegerField(null=True)
    age_band = models.PositiveSmallIntegerField(null=True)
    active_residents = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "analytics_active_residents_daily"
        constraints = [models.UniqueConstraint(fields=["day", "district_id", "age_band"],
                                               name="analytics_active_daily_unique", nulls_distinct=False)]


class PushFact(models.Model):
    """One dispatched notification: devices targeted, sent, failed; residents who read and opened it.
    Same definitions as `notifications.selectors.notification_stats`; `day` is the dispatch day."""

    day = models.DateField()
    notification_id = models.BigIntegerField(unique=True)
    topic = models.CharField(max_length=16)
    mode = models.CharField(max_length=8)
    title = models.CharField(max_length=100)
    targeted = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    read = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "analytics_push_daily"
        indexes = [models.Index(fields=["day"], name="analytics_push_day")]


class CheckInFact(models.Model):
    """Shelter check-ins per local day (of check-in), disaster and shelter."""

    day = models.DateField()
    disaster_id = models.BigIntegerField()
    shelter_id = models.BigIntegerField()
    check_ins = models.PositiveIntegerField(default=0)
    households = models.PositiveIntegerField(default=0)
    qr_check_ins = models.PositiveIntegerField(default=0)
    special_care = models.PositiveIntegerField(default=0)  # people needing care (要配慮者)
    pets = models.PositiveIntegerField(default=0)
    checked_out = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "analytics_checkins_daily"
        constraints = [models.UniqueConstraint(fields=["day", "disaster_id", "shelter_id"],
                                               name="analytics_checkins_daily_unique")]


class AttendanceFact(models.Model):
    """Absence reports per school day and school (sums of the classes' daily counts)."""

    day = models.DateField()
    school_id = models.BigIntegerField()
    enrolled = models.PositiveIntegerField(default=0)
    absent = models.PositiveIntegerField(default=0)
    late = models.PositiveIntegerField(default=0)
    early_leave = models.PositiveIntegerField(default=0)
    other = models.PositiveIntegerField(default=0)
    infection_absent = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "analytics_attendance_daily"
        constraints = [models.UniqueConstraint(fields=["day", "school_id"], name="analytics_attendance_daily_unique")]


class FeedbackFact(models.Model):
    """Feedback received per local day, mini-app ('' = about the app as a whole) and category."""

    day = models.DateField()
    miniapp_id = models.CharField(max_length=50)
    category = models.CharField(max_length=16)
    received = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "analytics_feedback_daily"
        constraints = [models.UniqueConstraint(fields=["day", "miniapp_id", "category"],
                                               name="analytics_feedback_daily_unique")]


class FactBuild(models.Model):
    """When one day of one fact table was last rebuilt, and how many rows it has."""

    fact = models.CharField(max_length=32)
    day = models.DateField()
    rows = models.PositiveIntegerField(default=0)
    built_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["fact", "day"], name="analytics_fact_build_unique")]


class FactWatermark(models.Model):
    """Source rows received before `received_until` are reflected in the fact (late arrivals after
    it send their day back to the nightly rebuild)."""

    fact = models.CharField(max_length=32, unique=True)
    received_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


# --- Exports ----------------------------------------------------------------------------------
class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV (UTF-8 BOM, Excel)"
    PARQUET = "parquet", "Parquet"
    HYPER = "hyper", "Tableau Hyper"


class ExportSchedule(models.Model):
    """A recurring export of the previous full period (day, Monday-to-Sunday week, or month)."""

    class Frequency(models.TextChoices):
        DAILY = "daily", "毎日（前日分） / Daily (yesterday)"
        WEEKLY = "weekly", "毎週（前週分） / Weekly (last week)"
        MONTHLY = "monthly", "毎月（前月分） / Monthly (last month)"

    dataset = models.CharField(max_length=50)
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    weekday = models.PositiveSmallIntegerField(default=0, help_text="weekly: 0 = Monday … 6 = Sunday")
    parameters = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_run_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["dataset", "id"]


class ExportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "待機中 / Queued"
        RUNNING = "running", "作成中 / Running"
        SUCCEEDED = "succeeded", "完了 / Ready"
        FAILED = "failed", "失敗 / Failed"
        EXPIRED = "expired", "期限切れ / Expired"

    class Origin(models.TextChoices):
        API = "api", "API"
        CONSOLE = "console", "管理画面 / Console"
        COMMAND = "command", "コマンド / Command"
        SCHEDULE = "schedule", "定期出力 / Schedule"

    # The file's folder: not guessable from the job id.
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dataset = models.CharField(max_length=50)
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    date_from = models.DateField(null=True, blank=True)
    date_to = models.DateField(null=True, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    named_list = models.BooleanField(default=False)
    purpose = models.CharField(max_length=500, blank=True)
    origin = models.CharField(max_length=8, choices=Origin.choices)
    schedule = models.ForeignKey(ExportSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_done = models.BigIntegerField(default=0)
    rows_estimated = models.BigIntegerField(null=True, blank=True)
    privacy_threshold = models.PositiveSmallIntegerField(null=True, blank=True)
    file_name = models.CharField(max_length=300, blank=True)  # in the municipality's storage
    download_name = models.CharField(max_length=200, blank=True)
    file_size = models.BigIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    error_message_en = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["expires_at"], condition=Q(status="succeeded"), name="analytics_export_expiry"),
            models.Index(fields=["status", "created_at"], name="analytics_export_status"),
        ]
        constraints = [
            # A schedule runs once per period, however often beat fires or a worker retries.
            models.UniqueConstraint(fields=["schedule", "date_from", "date_to"], condition=Q(schedule__isnull=False),
                                    name="analytics_export_once_per_period"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset}.{self.format} #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


# --- Open data --------------------------------------------------------------------------------
class OpenDataRelease(models.Model):
    """The published state of one open-data file: its content hash, and when the content last
    changed (the catalog's update time). Checked whenever the file is served and by the hourly task."""

    dataset = models.CharField(max_length=50, unique=True)
    sha256 = models.CharField(max_length=64)
    rows = models.PositiveIntegerField(default=0)
    size = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()
    checked_at = models.DateTimeField()

    class Meta:
        ordering = ["dataset"]
