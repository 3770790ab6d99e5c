"""Citizen-ID maintenance, run in every municipality by `tenants.tasks.fan_out`; CRL loading (global)."""
from __future__ import annotations

from superapp.celery import app

from .services import citizen_ids_maintain


@app.task(name="citizen_id.tasks.maintain")
def maintain() -> dict:
    return citizen_ids_maintain()


@app.task(name="citizen_id.tasks.load_jpki_crl")
def load_jpki_crl(path: str) -> str:
    """Loads a CRL file staff or a fetch job placed on shared storage (idempotent: same file, no change)."""
    from django.db import connection

    from .jpki.services import jpki_crl_load

    connection.set_schema_to_public()
    with open(path, "rb") as handle:
        return jpki_crl_load(data=handle.read()).message
