"""Input and output shapes of the data-platform API."""
from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from superapp.api.fields import StrictCharField

from ..engine import FORMATS
from ..models import ExportJob, ExportSchedule


class ColumnOutput(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["text", "int", "float", "date", "timestamp", "bool"])
    label = serializers.CharField(source="label_ja")
    label_en = serializers.CharField()
    person_count = serializers.BooleanField()


class ParameterOutput(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField(source="label_ja")
    label_en = serializers.CharField()
    required = serializers.BooleanField()


class DatasetOutput(serializers.Serializer):
    id = serializers.CharField(source="key")
    title = serializers.CharField(source="title_ja")
    title_en = serializers.CharField()
    description = serializers.CharField(source="description_ja")
    description_en = serializers.CharField()
    available = serializers.SerializerMethodField()
    requires = serializers.ListField(child=serializers.CharField())
    named_list = serializers.BooleanField()
    range_required = serializers.BooleanField()
    schedulable = serializers.BooleanField()
    formats = serializers.SerializerMethodField()
    parameters = ParameterOutput(many=True)
    columns = ColumnOutput(many=True)

    def get_available(self, dataset) -> bool:
        return dataset.available()

    def get_formats(self, dataset) -> list[str]:
        return list(FORMATS)


class ExportInput(serializers.Serializer):
    dataset = StrictCharField(max_length=50)
    format = serializers.ChoiceField(choices=list(FORMATS))
    date_from = serializers.DateField(required=False, allow_null=True)
    date_to = serializers.DateField(required=False, allow_null=True)
    parameters = serializers.DictField(child=serializers.IntegerField(min_value=1, max_value=2 ** 63 - 1),
                                       required=False)
    purpose = StrictCharField(max_length=500, required=False, allow_blank=True)


class ExportErrorOutput(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    message_en = serializers.CharField()


class ExportJobOutput(serializers.ModelSerializer):
    requested_by = serializers.SerializerMethodField()
    rows_done = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField(help_text="0.0–1.0 while running (rows done / estimated); null when unknown")
    download_url = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = ["id", "dataset", "format", "status", "date_from", "date_to", "parameters", "named_list", "purpose",
                  "origin", "requested_by", "rows_done", "rows_estimated", "progress", "privacy_threshold",
                  "download_name", "file_size", "download_url", "error", "created_at", "started_at", "finished_at",
                  "expires_at"]

    def _rows(self, job) -> int:
        return self.context.get("progress", {}).get(job.pk, job.rows_done)

    def get_requested_by(self, job) -> str | None:
        return str(job.requested_by) if job.requested_by_id else None

    def get_rows_done(self, job) -> int:
        return self._rows(job)

    def get_progress(self, job) -> float | None:
        if job.status == ExportJob.Status.SUCCEEDED:
            return 1.0
        if job.status != ExportJob.Status.RUNNING or not job.rows_estimated:
            return None
        return round(min(self._rows(job) / job.rows_estimated, 1.0), 4)

    def get_download_url(self, job) -> str | None:
        if job.status != ExportJob.Status.SUCCEEDED or (job.expires_at and job.expires_at <= timezone.now()):
            return None
        return reverse("analytics-export-download", args=[job.pk])

    @extend_schema_field(ExportErrorOutput(allow_null=True))
    def get_error(self, job) -> dict | None:
        if job.status != ExportJob.Status.FAILED:
            return None
        return {"code": job.error_code, "message": job.error_message, "message_en": job.error_message_en}


class ScheduleInput(serializers.Serializer):
    dataset = StrictCharField(max_length=50)
    format = serializers.ChoiceField(choices=list(FORMATS))
    frequency = serializers.ChoiceField(choices=ExportSchedule.Frequency.values)
    weekday = serializers.IntegerField(min_value=0, max_value=6, required=False, default=0)
    parameters = serializers.DictField(child=serializers.IntegerField(min_value=1, max_value=2 ** 63 - 1),
                                       required=False)


class ScheduleOutput(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = ExportSchedule
        fields = ["id", "dataset", "format", "frequency", "weekday", "parameters", "is_active", "created_by",
                  "created_at", "last_run_on"]

    def get_created_by(self, schedule) -> str | None:
        return str(schedule.created_by) if schedule.created_by_id else None


class FactStatusOutput(serializers.Serializer):
    id = serializers.CharField(source="key")
    title = serializers.CharField(source="title_ja")
    title_en = serializers.CharField()
    available = serializers.BooleanField()
    first_day = serializers.DateField(allow_null=True)
    last_day = serializers.DateField(allow_null=True)
    days = serializers.IntegerField()
    last_built_at = serializers.DateTimeField(allow_null=True)


class RebuildInput(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    facts = serializers.ListField(child=StrictCharField(max_length=32), required=False, max_length=20)


class RebuildOutput(serializers.Serializer):
    queued = serializers.BooleanField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    facts = serializers.ListField(child=serializers.CharField())


class LicenseOutput(serializers.Serializer):
    id = serializers.CharField(allow_blank=True)
    name = serializers.CharField()
    name_en = serializers.CharField()
    url = serializers.URLField()


class OpenDataMunicipalityOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField(allow_blank=True)
    prefecture = serializers.CharField(allow_blank=True)


class OpenDatasetOutput(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    title_en = serializers.CharField()
    standard = serializers.CharField()
    standard_en = serializers.CharField()
    standard_dataset = serializers.CharField()
    url = serializers.URLField()
    media_type = serializers.CharField()
    encoding = serializers.CharField()
    columns = serializers.IntegerField()
    rows = serializers.IntegerField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    updated_at = serializers.DateTimeField()
    checked_at = serializers.DateTimeField()
    license = LicenseOutput()


class OpenDataCatalogOutput(serializers.Serializer):
    municipality = OpenDataMunicipalityOutput()
    publisher = serializers.CharField()
    license = LicenseOutput()
    datasets = OpenDatasetOutput(many=True)
