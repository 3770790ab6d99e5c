"""Reads of the data platform: export jobs as each user may see them, fact build status, and the
aggregate reads behind the console dashboards (fact tables only, never raw events)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.core.cache import cache
from django.db.models import Count, Max, Min, QuerySet
from django.http import Http404

from accounts.models import User
from accounts.roles import Role
from accounts.selectors import user_has_role

from . import facts
from .models import ExportJob, ExportSchedule, FactBuild


def may_see_named_lists(user: User) -> bool:
    return user_has_role(user, Role.MUNICIPALITY_ADMIN)


def export_jobs_visible(*, user: User) -> QuerySet[ExportJob]:
    """Analysts share the municipality's exports; named lists (personal data) only admins see."""
    jobs = ExportJob.objects.select_related("requested_by").order_by("-created_at", "-id")
    if not may_see_named_lists(user):
        jobs = jobs.filter(named_list=False)
    return jobs


def access_export_job(*, user: User, job_id: int) -> ExportJob:
    job = export_jobs_visible(user=user).filter(pk=job_id).first() if 0 < job_id < 2 ** 63 else None
    if job is None:
        raise Http404
    return job


def export_schedules() -> QuerySet[ExportSchedule]:
    return ExportSchedule.objects.select_related("created_by").filter(is_active=True)


def access_export_schedule(*, schedule_id: int) -> ExportSchedule:
    schedule = export_schedules().filter(pk=schedule_id).first() if 0 < schedule_id < 2 ** 63 else None
    if schedule is None:
        raise Http404
    return schedule


def progress_of(jobs: list[ExportJob]) -> dict[int, int]:
    """Rows done of the running jobs among `jobs`, from the cache, in one round trip."""
    from .services import progress_key

    running = [job for job in jobs if job.status == ExportJob.Status.RUNNING]
    if not running:
        return {}
    try:
        found = cache.get_many([progress_key(job.pk) for job in running])
    except Exception:
        found = {}
    return {job.pk: int((found.get(progress_key(job.pk)) or {}).get("rows", job.rows_done)) for job in running}


@dataclass(frozen=True)
class FactStatus:
    key: str
    title_ja: str
    title_en: str
    available: bool
    first_day: date | None
    last_day: date | None
    days: int
    last_built_at: datetime | None


def fact_statuses() -> list[FactStatus]:
    """Per fact: which days are built and when the last rebuild ran (one query)."""
    built = {row["fact"]: row for row in FactBuild.objects.values("fact").annotate(
        first_day=Min("day"), last_day=Max("day"), days=Count("id"), last_built_at=Max("built_at"))}
    statuses = []
    for fact in facts.all_facts():
        row = built.get(fact.key, {})
        statuses.append(FactStatus(fact.key, fact.title_ja, fact.title_en, fact.available(), row.get("first_day"),
                                   row.get("last_day"), row.get("days", 0), row.get("last_built_at")))
    return statuses
