"""Writes of the data platform: rebuilding facts, export jobs (create, run, download, expire),
export schedules, and open-data releases. Views, tasks and the management commands all call these."""
from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from accounts.selectors import user_has_role
from accounts.services import audit_record
from superapp.api.errors import ApiError
from superapp.celery import enqueue_on_commit
from tenants.selectors import current_municipality

from . import engine, facts
from .datasets import Dataset, QueryContext, get_dataset
from .models import ExportJob, ExportSchedule, FactBuild, FactWatermark
from .privacy import privacy_threshold

log = logging.getLogger(__name__)


def _field_error(field: str, ja: str, en: str, code: str = "validation_error", status_code: int = 400) -> ApiError:
    return ApiError(code, status_code=status_code, fields={field: [f"{ja} / {en}"]})


def check_date_range(date_from: date | None, date_to: date | None, *, required: bool = True,
                     max_days: int | None = None) -> None:
    if date_from is None and date_to is None and not required:
        return
    if date_from is None or date_to is None:
        raise _field_error("date_from" if date_from is None else "date_to", "期間の開始日と終了日を指定してください",
                           "give both the first and the last day")
    if date_from > date_to:
        raise _field_error("date_to", "終了日は開始日以降にしてください", "the last day must not be before the first")
    max_days = max_days or settings.ANALYTICS_MAX_RANGE_DAYS
    if (date_to - date_from).days + 1 > max_days:
        raise _field_error("date_to", f"期間は{max_days}日以内にしてください", f"the period may span at most {max_days} days")


# --- Facts ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FactRebuild:
    fact: str
    date_from: date | None
    date_to: date | None
    rows: int
    seconds: float
    skipped: str = ""  # why nothing was rebuilt (source not installed)


def fact_rebuild_range(*, fact: facts.Fact, date_from: date, date_to: date) -> FactRebuild:
    """Replaces the days date_from..date_to of `fact` with what the source says now."""
    if not fact.available():
        return FactRebuild(fact.key, date_from, date_to, 0, 0.0,
                           skipped=f"source not installed: {', '.join(fact.requires)}")
    started = time.perf_counter()
    ctx = facts.BuildContext(date_from, date_to)
    sql, params = fact.build_sql(ctx)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [facts.schema_lock_key(fact.key)])
        for model in fact.tables:
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE day >= %s AND day <= %s", [date_from, date_to])
        cursor.execute(sql, params)
        per_day = dict(cursor.fetchall())
        # Every day of the range gets its build row, empty days included: "built, nothing there".
        cursor.execute(
            f"INSERT INTO {FactBuild._meta.db_table} (fact, day, rows, built_at) "
            "SELECT %s, d::date, coalesce((%s::jsonb ->> d::date::text)::int, 0), %s "
            "FROM generate_series(%s::date, %s::date, interval '1 day') AS d "
            "ON CONFLICT (fact, day) DO UPDATE SET rows = EXCLUDED.rows, built_at = EXCLUDED.built_at",
            [fact.key, json.dumps({day.isoformat(): rows for day, rows in per_day.items()}), now, date_from, date_to])
    return FactRebuild(fact.key, date_from, date_to, sum(per_day.values()), time.perf_counter() - started)


def facts_rebuild(*, date_from: date, date_to: date, keys: list[str] | None = None,
                  acting_user: User | None = None) -> list[FactRebuild]:
    """On-demand rebuild of a range of days (console, API, command)."""
    check_date_range(date_from, date_to)
    chosen = _chosen_facts(keys)
    results = [fact_rebuild_range(fact=fact, date_from=date_from, date_to=date_to) for fact in chosen]
    if acting_user is not None:
        audit_record(actor=acting_user, action="analytics.facts_rebuilt",
                     data={"from": date_from.isoformat(), "to": date_to.isoformat(), "facts": [f.key for f in chosen]})
    return results


def facts_rebuild_enqueue(*, date_from: date, date_to: date, keys: list[str] | None = None,
                          acting_user: User | None = None) -> list[str]:
    """Sends an on-demand rebuild to a worker (after commit). Returns the facts it will rebuild."""
    check_date_range(date_from, date_to)
    chosen = [fact.key for fact in _chosen_facts(keys)]
    audit_record(actor=acting_user, action="analytics.facts_rebuild_requested",
                 data={"from": date_from.isoformat(), "to": date_to.isoformat(), "facts": chosen})
    from .tasks import rebuild_facts

    enqueue_on_commit(rebuild_facts, date_from.isoformat(), date_to.isoformat(), chosen)
    return chosen


def _chosen_facts(keys: list[str] | None) -> list[facts.Fact]:
    if not keys:
        return facts.all_facts()
    unknown = sorted(set(keys) - {fact.key for fact in facts.all_facts()})
    if unknown:
        raise _field_error("facts", f"不明な集計です: {', '.join(unknown)}", f"unknown facts: {', '.join(unknown)}")
    return [fact for fact in facts.all_facts() if fact.key in keys]


# Usage events are accepted up to this late; a batch's received_at is the start of its INSERT, so
# anything older than the margin is committed or gone.
WATERMARK_MARGIN = timedelta(minutes=2)


def _usage_days_since_watermark(cutoff: datetime) -> tuple[list[date], FactWatermark]:
    from django.apps import apps

    events = apps.get_model("miniapps", "UsageEvent")._meta.db_table
    watermark, _ = FactWatermark.objects.select_for_update().get_or_create(fact=facts.USAGE.key)
    window = "received_at < %s" + (" AND received_at >= %s" if watermark.received_until else "")
    params = [settings.TIME_ZONE, cutoff] + ([watermark.received_until] if watermark.received_until else [])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT (occurred_at AT TIME ZONE %s)::date FROM {events} WHERE {window}", params)
        return sorted(row[0] for row in cursor.fetchall()), watermark


def facts_nightly(*, today: date | None = None, now: datetime | None = None) -> list[FactRebuild]:
    """The nightly rebuild: for usage, yesterday and every day that gained late events since the last
    run; for the other facts, the trailing ANALYTICS_REBUILD_WINDOW_DAYS up to today (their sources
    change after the fact: pushes are opened for days, reports are corrected)."""
    today = today or timezone.localdate()
    now = now or timezone.now()
    window_start = today - timedelta(days=settings.ANALYTICS_REBUILD_WINDOW_DAYS)
    results: list[FactRebuild] = []
    for fact in facts.all_facts():
        if not fact.available():
            results.append(FactRebuild(fact.key, None, None, 0, 0.0, skipped="source not installed"))
            continue
        if fact.nightly == "events":
            with transaction.atomic():
                cutoff = now - WATERMARK_MARGIN
                days, watermark = _usage_days_since_watermark(cutoff)
                wanted = set(days) | {today - timedelta(days=1)}
                for first, last in facts.contiguous_ranges(wanted):
                    results.append(fact_rebuild_range(fact=fact, date_from=first, date_to=last))
                watermark.received_until = cutoff
                watermark.save(update_fields=["received_until", "updated_at"])
        else:
            results.append(fact_rebuild_range(fact=fact, date_from=window_start, date_to=today))
    return results


# --- Export jobs ------------------------------------------------------------------------------
def _dataset_or_error(key: str) -> Dataset:
    dataset = get_dataset(key) if isinstance(key, str) else None
    if dataset is None:
        raise _field_error("dataset", f"不明なデータセットです: {key}", f"unknown dataset: {key}")
    if not dataset.available():
        raise ApiError("dataset_unavailable", status_code=409, fields={"dataset": [
            f"このデータセットの元データ（{', '.join(dataset.requires)}）はこの環境にありません / "
            f"its source ({', '.join(dataset.requires)}) is not installed here"]})
    return dataset


def _clean_parameters(dataset: Dataset, parameters: dict | None) -> dict:
    parameters = dict(parameters or {})
    known = {parameter.name: parameter for parameter in dataset.parameters}
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise _field_error("parameters", f"このデータセットにない指定です: {', '.join(unknown)}",
                           f"not parameters of this dataset: {', '.join(unknown)}")
    cleaned = {}
    for name, parameter in known.items():
        value = parameters.get(name)
        if value in (None, ""):
            if parameter.required:
                raise _field_error(f"parameters.{name}", f"{parameter.label_ja}を指定してください",
                                   f"{parameter.label_en} is required")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit() \
                or not 0 < int(value) < 2 ** 63:
            raise _field_error(f"parameters.{name}", f"{parameter.label_ja}は正の整数です",
                               f"{parameter.label_en} must be a positive integer")
        cleaned[name] = int(value)
    return cleaned


def download_name_for(*, municipality_code: str, dataset: str, fmt: str, date_from: date | None,
                      date_to: date | None, parameters: dict) -> str:
    parts = [municipality_code, dataset]
    parts += [f"{key}{value}" for key, value in sorted(parameters.items())]
    if date_from:
        parts += [date_from.isoformat(), date_to.isoformat()]
    return "_".join(parts) + "." + engine.EXTENSIONS[fmt]


def _active_jobs_of(user: User | None) -> int:
    if user is None:
        return 0
    return ExportJob.objects.filter(requested_by=user, status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]).count()


@transaction.atomic
def export_job_create(*, dataset: str, fmt: str, date_from: date | None = None, date_to: date | None = None,
                      parameters: dict | None = None, acting_user: User | None, origin: str, purpose: str = "",
                      schedule: ExportSchedule | None = None, enqueue: bool = True,
                      ip_address: str | None = None) -> ExportJob:
    """Records an export and sends it to a worker once the transaction commits. Named operational
    lists: municipality admins only (or an operator's shell command), with a stated purpose; audited."""
    chosen = _dataset_or_error(dataset)
    if fmt not in engine.FORMATS:
        raise _field_error("format", "形式は csv, parquet, hyper のいずれかです", "format must be csv, parquet or hyper")
    check_date_range(date_from, date_to, required=chosen.range_required)
    cleaned = _clean_parameters(chosen, parameters)
    purpose = (purpose or "").strip()
    if chosen.named_list:
        if acting_user is not None and not user_has_role(acting_user, Role.MUNICIPALITY_ADMIN):
            raise ApiError("permission_denied", status_code=403, fields={"dataset": [
                "個人情報を含む名簿は自治体管理者のみ出力できます / only municipality admins may export named lists"]})
        if schedule is not None:
            raise _field_error("dataset", "個人情報を含む名簿は定期出力できません", "named lists cannot be scheduled")
        if len(purpose) < 4:
            raise _field_error("purpose", "個人情報を出力する目的を入力してください（4文字以上）",
                               "state the purpose of exporting personal data (at least 4 characters)")
    if acting_user is not None and _active_jobs_of(acting_user) >= settings.ANALYTICS_MAX_ACTIVE_EXPORTS:
        raise ApiError("export_too_many", status_code=409)
    municipality = current_municipality()
    job = ExportJob.objects.create(
        dataset=chosen.key, format=fmt, date_from=date_from, date_to=date_to, parameters=cleaned,
        named_list=chosen.named_list, purpose=purpose[:500], origin=origin, schedule=schedule,
        requested_by=acting_user if acting_user is not None and acting_user.pk else None,
        download_name=download_name_for(municipality_code=municipality.code, dataset=chosen.key, fmt=fmt,
                                        date_from=date_from, date_to=date_to, parameters=cleaned),
    )
    audit_record(actor=acting_user, action="analytics.named_list_requested" if chosen.named_list
                 else "analytics.export_requested", target=job, ip_address=ip_address,
                 data={"dataset": chosen.key, "format": fmt, "from": date_from.isoformat() if date_from else None,
                       "to": date_to.isoformat() if date_to else None, "parameters": cleaned,
                       "purpose": purpose, "origin": origin})
    if enqueue:
        from .tasks import run_export

        enqueue_on_commit(run_export, job.pk)
    return job


# Progress lives in the cache: the export's own connection is busy streaming COPY, and a
# progress write on another connection per batch would cost more than it tells.
def progress_key(job_id: int) -> str:
    return f"analytics:export-progress:{job_id}"


def export_progress(job: ExportJob) -> tuple[int, float | None]:
    """(rows done, unix time of the last heartbeat) for a running job."""
    try:
        state = cache.get(progress_key(job.pk))
    except Exception:  # the cache being down must not break a status page
        state = None
    if not state:
        return job.rows_done, None
    return int(state.get("rows", 0)), state.get("at")


def _heartbeat(job_id: int, rows: int) -> None:
    try:
        cache.set(progress_key(job_id), {"rows": rows, "at": time.time()}, timeout=settings.ANALYTICS_EXPORT_STALE_SECONDS * 4)
    except Exception:  # progress is best effort; never fail an export over it
        log.warning("analytics export progress not recorded", exc_info=True)


def _is_stale(job: ExportJob) -> bool:
    _, beat = export_progress(job)
    last = beat if beat is not None else (job.started_at.timestamp() if job.started_at else 0)
    return time.time() - last > settings.ANALYTICS_EXPORT_STALE_SECONDS


def _claim(job_id: int) -> ExportJob | None:
    """Marks the job running, unless another worker has it (a redelivered task finds it taken)."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            return None
        if job.status == ExportJob.Status.RUNNING and not _is_stale(job):
            return None
        if job.status not in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING):
            return None
        job.status = ExportJob.Status.RUNNING
        job.started_at = timezone.now()
        job.attempts += 1
        job.rows_done = 0
        job.privacy_threshold = privacy_threshold()
        job.error_code = job.error_message = job.error_message_en = ""
        job.save(update_fields=["status", "started_at", "attempts", "rows_done", "privacy_threshold",
                                "error_code", "error_message", "error_message_en"])
    _heartbeat(job.pk, 0)
    return job


def _fail(job: ExportJob, code: str, message: str, message_en: str) -> ExportJob:
    job.status = ExportJob.Status.FAILED
    job.error_code = code
    job.error_message = message[:2000]
    job.error_message_en = message_en[:2000]
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error_code", "error_message", "error_message_en", "finished_at"])
    return job


def explain_failure(exc: BaseException) -> tuple[str, str, str]:
    """(code, Japanese, English): what went wrong, in words an analyst can act on."""
    if isinstance(exc, engine.ExportFailure):
        return exc.code, exc.message, exc.message_en
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ("export_storage_full", "保存領域の空きが足りず、ファイルを書き込めませんでした。期間を短くするか、管理者に連絡してください。",
                "The disk is full, so the file could not be written. Shorten the period or contact an administrator.")
    try:
        from tableauhyperapi import HyperException
    except ImportError:  # pragma: no cover - tableauhyperapi is a dependency
        HyperException = ()  # noqa: N806
    if HyperException and isinstance(exc, HyperException):
        detail = str(exc).splitlines()[0][:300]
        return ("export_hyper_error", f"Tableau Hyper ファイルの作成に失敗しました（{detail}）。CSV か Parquet でお試しください。",
                f"Writing the Tableau Hyper file failed ({detail}). Try CSV or Parquet.")
    module = type(exc).__module__ or ""
    if isinstance(exc, OperationalError) or module.startswith("psycopg"):
        detail = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        if "statement timeout" in detail or "canceling statement" in detail:
            return ("export_timeout", f"データベースの処理が時間内に終わりませんでした（{detail}）。期間を短くしてください。",
                    f"The database query took too long ({detail}). Shorten the period.")
        return ("export_database_error", f"データベースからの読み出しに失敗しました（{detail}）。時間をおいて再実行してください。",
                f"Reading from the database failed ({detail}). Please retry later.")
    if isinstance(exc, OSError):
        return ("export_storage_error", f"ファイルの保存に失敗しました（{exc.strerror or exc}）。",
                f"Saving the file failed ({exc.strerror or exc}).")
    detail = f"{type(exc).__name__}: {str(exc)[:300]}"
    return ("export_failed", f"出力中に予期しないエラーが発生しました（{detail}）。管理者に連絡してください。",
            f"The export failed unexpectedly ({detail}). Please contact an administrator.")


class _LocalFile(File):
    """A finished export in the work directory: FileSystemStorage moves it instead of copying."""

    def temporary_file_path(self) -> str:
        return self.file.name


def export_job_run(*, job_id: int, out: Path | None = None,
                   on_progress: Callable[[int, int | None], None] | None = None) -> ExportJob | None:
    """Runs a queued export: estimates, streams the rows to a file, stores it in the municipality's
    storage for ANALYTICS_EXPORT_TTL_DAYS. Idempotent: a job already taken, done or failed is left
    alone. `out` (the management command) also copies the finished file there."""
    job = _claim(job_id)
    if job is None:
        return ExportJob.objects.filter(pk=job_id).first()
    dataset = get_dataset(job.dataset)
    if dataset is None or not dataset.available():
        return _fail(job, "dataset_unavailable", f"データセット「{job.dataset}」の元データがこの環境にありません。",
                     f"The source of dataset {job.dataset!r} is not installed here.")
    ctx = QueryContext(job.date_from, job.date_to, job.privacy_threshold or privacy_threshold(), job.parameters)
    workdir = None
    try:
        workdir = Path(tempfile.mkdtemp(prefix=f"job-{job.pk}-", dir=settings.ANALYTICS_WORK_DIR or None))
        estimated = engine.estimate_rows(dataset=dataset, ctx=ctx)
        ExportJob.objects.filter(pk=job.pk).update(rows_estimated=estimated)
        job.rows_estimated = estimated
        last = [0.0]

        def progress(rows: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 1.0:
                last[0] = now
                _heartbeat(job.pk, rows)
                if on_progress is not None:
                    on_progress(rows, estimated)

        path = workdir / job.download_name
        result = engine.export_to_file(dataset=dataset, ctx=ctx, fmt=job.format, path=path, progress=progress)
        if out is not None:
            shutil.copyfile(path, out)
        with open(path, "rb") as handle:
            stored = default_storage.save(f"exports/{job.token}/{job.download_name}", _LocalFile(handle))
    except Exception as exc:  # every failure ends in a message the analyst can read
        code, message, message_en = explain_failure(exc)
        log.exception("analytics export %s failed (%s)", job.pk, code)
        return _fail(job, code, message, message_en)
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    now = timezone.now()
    job.status = ExportJob.Status.SUCCEEDED
    job.rows_done = result.rows
    job.file_size = result.size
    job.file_name = stored
    job.finished_at = now
    ttl = (timedelta(hours=settings.ANALYTICS_NAMED_LIST_TTL_HOURS) if job.named_list
           else timedelta(days=settings.ANALYTICS_EXPORT_TTL_DAYS))
    job.expires_at = now + ttl
    job.save(update_fields=["status", "rows_done", "file_size", "file_name", "finished_at", "expires_at"])
    if job.named_list:
        audit_record(actor=job.requested_by, action="analytics.named_list_exported", target=job,
                     data={"dataset": job.dataset, "rows": result.rows, "purpose": job.purpose,
                           "parameters": job.parameters})
    return job


def export_job_open(*, job: ExportJob, user: User, ip_address: str | None = None):
    """The stored file of a finished job, for download (audited). Expired → 410, not ready → 409."""
    now = timezone.now()
    if job.status == ExportJob.Status.EXPIRED or (job.status == ExportJob.Status.SUCCEEDED
                                                  and job.expires_at is not None and job.expires_at <= now):
        raise ApiError("export_expired", status_code=410)
    if job.status != ExportJob.Status.SUCCEEDED:
        raise ApiError("export_not_ready", status_code=409)
    try:
        handle = default_storage.open(job.file_name, "rb")
    except FileNotFoundError:
        raise ApiError("export_expired", status_code=410) from None
    audit_record(actor=user, action="analytics.named_list_downloaded" if job.named_list else "analytics.export_downloaded",
                 target=job, ip_address=ip_address, data={"dataset": job.dataset, "format": job.format})
    return handle


def exports_purge_expired(*, now: datetime | None = None) -> int:
    """Deletes the files of exports past their expiry and marks them expired. Returns how many."""
    now = now or timezone.now()
    expired = list(ExportJob.objects.filter(status=ExportJob.Status.SUCCEEDED, expires_at__lte=now))
    for job in expired:
        if job.file_name:
            try:
                default_storage.delete(job.file_name)
                folder = os.path.dirname(job.file_name)
                if folder and default_storage.exists(folder):
                    default_storage.delete(folder)
            except OSError:
                log.warning("could not delete export file %s", job.file_name, exc_info=True)
        ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.SUCCEEDED).update(
            status=ExportJob.Status.EXPIRED, file_name="")
    return len(expired)


def exports_fail_stale() -> int:
    """Running jobs whose worker stopped reporting progress are failed with a message saying so
    (a redelivered task may still take them over before this runs)."""
    count = 0
    for job in ExportJob.objects.filter(status=ExportJob.Status.RUNNING):
        if _is_stale(job):
            with transaction.atomic():
                locked = ExportJob.objects.select_for_update().get(pk=job.pk)
                if locked.status == ExportJob.Status.RUNNING and _is_stale(locked):
                    _fail(locked, "export_worker_lost",
                          "出力処理が途中で止まりました（作業プロセスの停止または再起動）。もう一度出力してください。",
                          "The export stopped part-way (its worker stopped or restarted). Please start it again.")
                    count += 1
    return count


# --- Schedules --------------------------------------------------------------------------------
def schedule_period(*, frequency: str, today: date) -> tuple[date, date]:
    """The previous full period: yesterday, last Monday-to-Sunday, or last calendar month."""
    if frequency == ExportSchedule.Frequency.DAILY:
        day = today - timedelta(days=1)
        return day, day
    if frequency == ExportSchedule.Frequency.WEEKLY:
        this_monday = today - timedelta(days=today.weekday())
        return this_monday - timedelta(days=7), this_monday - timedelta(days=1)
    first_this_month = today.replace(day=1)
    last_month_end = first_this_month - timedelta(days=1)
    return last_month_end.replace(day=1), last_month_end


def schedule_is_due(schedule: ExportSchedule, today: date) -> bool:
    if schedule.frequency == ExportSchedule.Frequency.DAILY:
        return True
    if schedule.frequency == ExportSchedule.Frequency.WEEKLY:
        return today.weekday() == schedule.weekday
    return today.day == 1


@transaction.atomic
def export_schedule_create(*, dataset: str, fmt: str, frequency: str, weekday: int = 0,
                           parameters: dict | None = None, acting_user: User) -> ExportSchedule:
    chosen = _dataset_or_error(dataset)
    if chosen.named_list:
        raise _field_error("dataset", "個人情報を含む名簿は定期出力できません", "named lists cannot be scheduled")
    if fmt not in engine.FORMATS:
        raise _field_error("format", "形式は csv, parquet, hyper のいずれかです", "format must be csv, parquet or hyper")
    if frequency not in ExportSchedule.Frequency.values:
        raise _field_error("frequency", "頻度は daily, weekly, monthly のいずれかです",
                           "frequency must be daily, weekly or monthly")
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
        raise _field_error("weekday", "曜日は0（月）〜6（日）です", "weekday is 0 (Monday) to 6 (Sunday)")
    schedule = ExportSchedule.objects.create(dataset=chosen.key, format=fmt, frequency=frequency, weekday=weekday,
                                             parameters=_clean_parameters(chosen, parameters), created_by=acting_user)
    audit_record(actor=acting_user, action="analytics.schedule_created", target=schedule,
                 data={"dataset": chosen.key, "format": fmt, "frequency": frequency, "weekday": weekday})
    return schedule


@transaction.atomic
def export_schedule_deactivate(*, schedule: ExportSchedule, acting_user: User) -> ExportSchedule:
    if schedule.is_active:
        schedule.is_active = False
        schedule.save(update_fields=["is_active"])
        audit_record(actor=acting_user, action="analytics.schedule_stopped", target=schedule,
                     data={"dataset": schedule.dataset})
    return schedule


def export_schedules_run(*, today: date | None = None) -> list[ExportJob]:
    """Creates (once per period) and queues the jobs of every schedule due today."""
    today = today or timezone.localdate()
    jobs = []
    for schedule in ExportSchedule.objects.filter(is_active=True).filter(Q(last_run_on__isnull=True) | Q(last_run_on__lt=today)):
        if not schedule_is_due(schedule, today):
            continue
        date_from, date_to = schedule_period(frequency=schedule.frequency, today=today)
        try:
            with transaction.atomic():
                if ExportJob.objects.filter(schedule=schedule, date_from=date_from, date_to=date_to).exists():
                    job = None
                else:
                    job = export_job_create(dataset=schedule.dataset, fmt=schedule.format, date_from=date_from,
                                            date_to=date_to, parameters=schedule.parameters, acting_user=None,
                                            origin=ExportJob.Origin.SCHEDULE, schedule=schedule)
                ExportSchedule.objects.filter(pk=schedule.pk).update(last_run_on=today)
        except IntegrityError:  # another run created this period's job first
            continue
        except ApiError as exc:  # e.g. the dataset's source was uninstalled: keep a visible failed job
            log.warning("scheduled export %s not started: %s", schedule.pk, exc)
            ExportSchedule.objects.filter(pk=schedule.pk).update(last_run_on=today)
            continue
        if job is not None:
            jobs.append(job)
    return jobs
