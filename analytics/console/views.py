"""Console pages for analysts (section "exports"; municipality admins pass): start an export, watch
its progress, download it for 7 days, read why one failed; schedules; the fact tables' status and
rebuilds; the data dictionary. They call the same services and selectors as the API."""
from __future__ import annotations

from dataclasses import replace

from django.contrib import messages
from django.http import FileResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from admin_console.access import section_required
from admin_console.dashboard import DashboardContext, suppress_small_counts
from admin_console.forms import add_api_errors
from superapp.api.errors import ApiError
from superapp.api.utils import client_ip

from .. import selectors, services
from ..console_dashboard import CHARTS
from ..datasets import all_datasets
from ..engine import CONTENT_TYPES
from ..models import ExportJob
from ..privacy import privacy_threshold
from .forms import ExportForm, RebuildForm, ScheduleForm

SECTION = "exports"
JOBS_SHOWN = 50


def _jobs_context(request) -> dict:
    jobs = list(selectors.export_jobs_visible(user=request.user)[:JOBS_SHOWN])
    progress = selectors.progress_of(jobs)
    rows = []
    for job in jobs:
        done = progress.get(job.pk, job.rows_done)
        percent = None
        if job.status == ExportJob.Status.RUNNING and job.rows_estimated:
            percent = min(100, int(100 * done / job.rows_estimated))
        rows.append({"job": job, "rows_done": done, "percent": percent})
    return {"jobs": rows, "any_active": any(job.is_active for job in jobs)}


@section_required(SECTION)
@require_http_methods(["GET", "POST"])
def exports(request):
    may_name = selectors.may_see_named_lists(request.user)
    form = ExportForm(request.POST or None, include_named=may_name)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                job = services.export_job_create(
                    dataset=data["dataset"], fmt=data["format"], date_from=data["date_from"],
                    date_to=data["date_to"], parameters=form.parameters(), purpose=data["purpose"],
                    acting_user=request.user, origin=ExportJob.Origin.CONSOLE, ip_address=client_ip(request))
            except ApiError as exc:
                add_api_errors(form, exc)
            else:
                messages.success(request, f"出力を開始しました（#{job.pk}）。 / Export #{job.pk} started.")
                return HttpResponseRedirect(reverse("analytics_console:exports"))
        status = 400
    context = {"form": form, "threshold": privacy_threshold(request.tenant), **_jobs_context(request)}
    return render(request, "analytics/console/exports.html", context, status=status)


@section_required(SECTION)
@require_http_methods(["GET"])
def jobs_panel(request):
    """The job table alone: the exports page polls it (htmx) while a job is queued or running."""
    return render(request, "analytics/console/_jobs.html", _jobs_context(request))


@section_required(SECTION)
@require_http_methods(["GET"])
def export_detail(request, job_id: int):
    job = selectors.access_export_job(user=request.user, job_id=job_id)
    done = selectors.progress_of([job]).get(job.pk, job.rows_done)
    percent = min(100, int(100 * done / job.rows_estimated)) if job.rows_estimated and job.is_active else None
    return render(request, "analytics/console/export_detail.html",
                  {"job": job, "rows_done": done, "percent": percent})


@section_required(SECTION)
@require_http_methods(["GET"])
def export_download(request, job_id: int):
    job = selectors.access_export_job(user=request.user, job_id=job_id)
    try:
        handle = services.export_job_open(job=job, user=request.user, ip_address=client_ip(request))
    except ApiError as exc:
        status = exc.status_code
        return render(request, "analytics/console/export_detail.html",
                      {"job": job, "rows_done": job.rows_done, "download_error": exc}, status=status)
    response = FileResponse(handle, as_attachment=True, filename=job.download_name,
                            content_type=CONTENT_TYPES[job.format])
    response["Cache-Control"] = "private, no-store"
    return response


@section_required(SECTION)
@require_http_methods(["GET", "POST"])
def schedules(request):
    form = ScheduleForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.export_schedule_create(dataset=data["dataset"], fmt=data["format"],
                                                frequency=data["frequency"], weekday=data["weekday"],
                                                acting_user=request.user)
            except ApiError as exc:
                add_api_errors(form, exc)
            else:
                messages.success(request, "定期出力を登録しました。 / Schedule saved.")
                return HttpResponseRedirect(reverse("analytics_console:schedules"))
        status = 400
    return render(request, "analytics/console/schedules.html",
                  {"form": form, "schedules": selectors.export_schedules()}, status=status)


@section_required(SECTION)
@require_POST
def schedule_stop(request, schedule_id: int):
    schedule = selectors.access_export_schedule(schedule_id=schedule_id)
    services.export_schedule_deactivate(schedule=schedule, acting_user=request.user)
    messages.success(request, "定期出力を停止しました。 / Schedule stopped.")
    return HttpResponseRedirect(reverse("analytics_console:schedules"))


@section_required(SECTION)
@require_http_methods(["GET", "POST"])
def facts(request):
    form = RebuildForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                chosen = services.facts_rebuild_enqueue(date_from=data["date_from"], date_to=data["date_to"],
                                                        keys=data["facts"] or None, acting_user=request.user)
            except ApiError as exc:
                add_api_errors(form, exc)
            else:
                messages.success(request, f"再集計を開始しました（{', '.join(chosen)}）。 / Rebuild started.")
                return HttpResponseRedirect(reverse("analytics_console:facts"))
        status = 400
    threshold = privacy_threshold(request.tenant)
    ctx = DashboardContext(user=request.user, municipality=request.tenant, privacy_threshold=threshold,
                           today=timezone.localdate())
    charts = []
    for key, title, build in CHARTS:
        chart = build(ctx)
        charts.append({"key": key, "title": title,
                       "chart": replace(chart, bars=suppress_small_counts(chart.bars, threshold))})
    return render(request, "analytics/console/facts.html",
                  {"form": form, "statuses": selectors.fact_statuses(), "charts": charts, "threshold": threshold},
                  status=status)


@section_required(SECTION)
@require_http_methods(["GET"])
def datasets(request):
    return render(request, "analytics/console/datasets.html",
                  {"datasets": all_datasets(), "threshold": privacy_threshold(request.tenant)})
