"""Celery tasks of the data platform. Each takes ids and runs inside one municipality's schema
(tenant-schemas-celery); the periodic ones are started in every municipality by `tenants.tasks.fan_out`."""
from __future__ import annotations

from datetime import date

from superapp.celery import app

from . import opendata, services


@app.task(name="analytics.tasks.run_export")
def run_export(job_id: int) -> str | None:
    """Runs one export job; a job already taken, finished or failed is left alone (idempotent)."""
    job = services.export_job_run(job_id=job_id)
    return job.status if job is not None else None


@app.task(name="analytics.tasks.rebuild_facts")
def rebuild_facts(date_from: str, date_to: str, facts: list[str] | None = None) -> list[dict]:
    """On-demand rebuild of a range of days (ISO dates)."""
    results = services.facts_rebuild(date_from=date.fromisoformat(date_from), date_to=date.fromisoformat(date_to),
                                     keys=facts or None)
    return [{"fact": r.fact, "rows": r.rows, "seconds": round(r.seconds, 3), "skipped": r.skipped} for r in results]


@app.task(name="analytics.tasks.nightly")
def nightly() -> dict:
    """Rebuilds the facts that changed, then starts the scheduled exports due today (in this order,
    so a Monday export reads Sunday's rebuilt facts)."""
    results = services.facts_nightly()
    jobs = services.export_schedules_run()
    return {"facts": [{"fact": r.fact, "from": str(r.date_from), "to": str(r.date_to), "rows": r.rows,
                       "skipped": r.skipped} for r in results],
            "scheduled_exports": [job.pk for job in jobs]}


@app.task(name="analytics.tasks.maintain")
def maintain() -> dict:
    """Hourly: deletes expired export files, fails exports whose worker died, refreshes the
    open-data releases (their update times in the catalog)."""
    return {"expired": services.exports_purge_expired(), "stale": services.exports_fail_stale(),
            "opendata": opendata.releases_refresh()}
