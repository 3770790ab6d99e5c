"""Data-platform API. Staff (analysts; municipality admins pass): datasets, export jobs and their
files, schedules, fact status and rebuilds. Public (no login): the open-data catalog and the
standard CSV files this app serves."""
from __future__ import annotations

from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified
from django.utils.http import http_date, quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasRole
from accounts.roles import Role
from superapp.api.openapi import ERROR_SCHEMA
from superapp.api.pagination import PageNumberPagination
from superapp.api.renderers import CsvRenderer
from superapp.api.utils import client_ip

from .. import opendata, selectors, services
from ..datasets import all_datasets
from ..engine import CONTENT_TYPES
from ..models import ExportJob
from . import serializers as s

ANALYSTS = HasRole(Role.ANALYST)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ERROR_SCHEMA, description=description)


class FileDownloadNegotiation(BaseContentNegotiation):
    """The download view answers with the file whatever the Accept header says (browsers and curl
    send all sorts), and with the JSON error shape when there is no file to give."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


# --- Datasets and exports ---------------------------------------------------------------------
class DatasetListApi(APIView):
    permission_classes = [ANALYSTS]

    @extend_schema(responses=s.DatasetOutput(many=True), tags=["analytics"],
                   description="Every export dataset with its columns; `available` is false when the source app "
                               "is not installed in this deployment.")
    def get(self, request):
        return Response(s.DatasetOutput(all_datasets(), many=True).data)


class ExportListApi(APIView):
    permission_classes = [ANALYSTS]

    @extend_schema(responses=s.ExportJobOutput(many=True), tags=["analytics"])
    def get(self, request):
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.export_jobs_visible(user=request.user), request, view=self)
        context = {"progress": selectors.progress_of(page)}
        return paginator.get_paginated_response(s.ExportJobOutput(page, many=True, context=context).data)

    @extend_schema(request=s.ExportInput, responses={202: s.ExportJobOutput,
                                                     409: _error("dataset_unavailable, export_too_many")},
                   tags=["analytics"],
                   description="Starts an export (a Celery job). Named lists (personal data): municipality admins "
                               "only, with `purpose`; audited.")
    def post(self, request):
        data = s.ExportInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        job = services.export_job_create(
            dataset=values["dataset"], fmt=values["format"], date_from=values.get("date_from"),
            date_to=values.get("date_to"), parameters=values.get("parameters"), purpose=values.get("purpose", ""),
            acting_user=request.user, origin=ExportJob.Origin.API, ip_address=client_ip(request))
        return Response(s.ExportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailApi(APIView):
    permission_classes = [ANALYSTS]

    @extend_schema(responses=s.ExportJobOutput, tags=["analytics"],
                   description="Status and progress (rows done / estimated) of an export; `error` says what went wrong.")
    def get(self, request, job_id: int):
        job = selectors.access_export_job(user=request.user, job_id=job_id)
        return Response(s.ExportJobOutput(job, context={"progress": selectors.progress_of([job])}).data)


class ExportDownloadApi(APIView):
    permission_classes = [ANALYSTS]
    content_negotiation_class = FileDownloadNegotiation

    @extend_schema(responses={(200, CONTENT_TYPES["csv"].split(";")[0]): OpenApiResponse(OpenApiTypes.BINARY),
                              (200, CONTENT_TYPES["parquet"]): OpenApiResponse(OpenApiTypes.BINARY),
                              (200, CONTENT_TYPES["hyper"]): OpenApiResponse(OpenApiTypes.BINARY),
                              409: _error("export_not_ready"), 410: _error("export_expired")},
                   tags=["analytics"], description="The export's file, for 7 days after it was made (audited).")
    def get(self, request, job_id: int):
        job = selectors.access_export_job(user=request.user, job_id=job_id)
        handle = services.export_job_open(job=job, user=request.user, ip_address=client_ip(request))
        response = FileResponse(handle, as_attachment=True, filename=job.download_name,
                                content_type=CONTENT_TYPES[job.format])
        response["Cache-Control"] = "private, no-store"
        return response


class ScheduleListApi(APIView):
    permission_classes = [ANALYSTS]

    @extend_schema(responses=s.ScheduleOutput(many=True), tags=["analytics"])
    def get(self, request):
        return Response(s.ScheduleOutput(selectors.export_schedules(), many=True).data)

    @extend_schema(request=s.ScheduleInput, responses={201: s.ScheduleOutput, 409: _error("dataset_unavailable")},
                   tags=["analytics"],
                   description="A recurring export of the previous full period: daily (yesterday), weekly (last "
                               "Monday–Sunday, on `weekday`, 0 = Monday) or monthly (last month, on the 1st).")
    def post(self, request):
        data = s.ScheduleInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        schedule = services.export_schedule_create(
            dataset=values["dataset"], fmt=values["format"], frequency=values["frequency"],
            weekday=values.get("weekday", 0), parameters=values.get("parameters"), acting_user=request.user)
        return Response(s.ScheduleOutput(schedule).data, status=status.HTTP_201_CREATED)


class ScheduleDetailApi(APIView):
    permission_classes = [ANALYSTS]

    @extend_schema(request=None, responses={204: None}, tags=["analytics"], description="Stops the schedule.")
    def delete(self, request, schedule_id: int):
        schedule = selectors.access_export_schedule(schedule_id=schedule_id)
        services.export_schedule_deactivate(schedule=schedule, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FactStatusApi(APIView):
    permission_classes = [ANALYSTS]

    @extend_schema(responses=s.FactStatusOutput(many=True), tags=["analytics"],
                   description="The daily fact tables: which days are built and when they were last rebuilt.")
    def get(self, request):
        return Response(s.FactStatusOutput(selectors.fact_statuses(), many=True).data)


class FactRebuildApi(APIView):
    permission_classes = [ANALYSTS]

    @extend_schema(request=s.RebuildInput, responses={202: s.RebuildOutput}, tags=["analytics"],
                   description="Rebuilds the facts of a range of days in the background (idempotent).")
    def post(self, request):
        data = s.RebuildInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        chosen = services.facts_rebuild_enqueue(date_from=values["date_from"], date_to=values["date_to"],
                                                keys=values.get("facts"), acting_user=request.user)
        return Response({"queued": True, "date_from": values["date_from"], "date_to": values["date_to"],
                         "facts": chosen}, status=status.HTTP_202_ACCEPTED)


# --- Open data (public) -----------------------------------------------------------------------
class OpenDataCatalogApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=s.OpenDataCatalogOutput, tags=["opendata"],
                   description="オープンデータカタログ: the municipality's open datasets in the national standard "
                               "formats, with their URLs, update times and licence (CC BY 4.0 unless the "
                               "municipality chose another). No login.")
    def get(self, request):
        body = opendata.catalog(municipality=request.tenant, base_url=request.build_absolute_uri("/"))
        return Response(s.OpenDataCatalogOutput(body).data)


class _OpenDataCsvApi(APIView):
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, CsvRenderer]
    dataset_key = ""

    def get(self, request):
        dataset = opendata.open_dataset(self.dataset_key)
        if dataset is None or not dataset.available():
            raise Http404
        rendered = opendata.render(dataset, request.tenant)
        etag = quote_etag(rendered.release.sha256)
        if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
            response = HttpResponseNotModified()
            response["ETag"] = etag
            return response
        response = HttpResponse(rendered.body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{request.tenant.code}_{dataset.filename_suffix}"'
        response["ETag"] = etag
        response["Last-Modified"] = http_date(rendered.release.updated_at.timestamp())
        response["Cache-Control"] = "public, max-age=300"
        return response


class GarbageSeparateCsvApi(_OpenDataCsvApi):
    """ゴミの分別方法一覧 (national standard), UTF-8 with BOM."""

    dataset_key = "garbage_separate"

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)}, tags=["opendata"])
    def get(self, request):
        return super().get(request)


class EventCsvApi(_OpenDataCsvApi):
    """イベント一覧 (national standard, current format) of community events marked public, UTF-8 with BOM."""

    dataset_key = "event"

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)}, tags=["opendata"])
    def get(self, request):
        return super().get(request)
