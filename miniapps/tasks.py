"""Periodic mini-app work, run in every municipality through `tenants.tasks.fan_out`."""
from __future__ import annotations

from superapp.celery import app

from . import services, sso


@app.task(name="miniapps.tasks.aggregate_usage")
def aggregate_usage() -> list[str]:
    """Rebuilds the daily usage aggregates of the days that gained events (idempotent)."""
    return services.usage_aggregate()


@app.task(name="miniapps.tasks.maintain_signing_keys")
def maintain_signing_keys() -> dict:
    """Rotates an old launch-token signing key and purges retired ones past their grace period."""
    return sso.signing_keys_maintain()
