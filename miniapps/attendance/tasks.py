"""Attendance tasks. Each takes ids, runs in its municipality's schema (tenant-schemas-celery) and is
safe to run twice. The periodic ones are started by `tenants.tasks.fan_out` beat entries."""
from __future__ import annotations

from datetime import timedelta

from superapp.celery import app

from . import notify, services
from .calendar import today_local


@app.task(name="attendance.tasks.notify_report_seen")
def notify_report_seen(report_ids: list[int]) -> int:
    return notify.report_seen(report_ids=report_ids)


@app.task(name="attendance.tasks.notify_outbreak_alert")
def notify_outbreak_alert(alert_id: int) -> int:
    return notify.outbreak_alert(alert_id=alert_id)


@app.task(name="attendance.tasks.notify_announcement")
def notify_announcement(announcement_id: int) -> int:
    return notify.announcement(announcement_id=announcement_id)


@app.task(name="attendance.tasks.evaluate_outbreaks")
def evaluate_outbreaks() -> int:
    """Morning check (after the schools' cut-offs): multi-day absences reported on earlier days
    count toward today's share too, even if nobody in the class reported today."""
    return len(services.outbreaks_evaluate(day=today_local()))


@app.task(name="attendance.tasks.nightly")
def nightly() -> dict:
    """Completes yesterday's daily counts for every class, then deletes reports past retention."""
    yesterday = today_local() - timedelta(days=1)
    return {"classes": services.daily_counts_finalize(day=yesterday),
            "purged": services.reports_purge_expired()}
