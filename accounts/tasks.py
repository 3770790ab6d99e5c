"""Periodic account maintenance, run per tenant through `tenants.tasks.fan_out`."""
from __future__ import annotations

from superapp.celery import app

from .services import api_tokens_purge_expired


@app.task(name="accounts.tasks.purge_expired_tokens")
def purge_expired_tokens() -> int:
    return api_tokens_purge_expired()
