"""Tenant fan-out: one beat entry runs a task once inside every active municipality's schema."""
from __future__ import annotations

from django_tenants.utils import schema_context

from superapp.celery import app

from .models import Municipality


def send_to_every_tenant(task_name: str, args: tuple | list = (), kwargs: dict | None = None) -> list[str]:
    """Sends `task_name` once per active municipality; the schema travels in the task headers."""
    schemas = list(
        Municipality.objects.filter(status=Municipality.Status.ACTIVE).values_list("schema_name", flat=True)
    )
    for schema in schemas:
        with schema_context(schema):
            app.send_task(task_name, args=list(args), kwargs=kwargs or {})
    return schemas


@app.task(name="tenants.tasks.fan_out")
def fan_out(task_name: str, args: list | None = None, kwargs: dict | None = None) -> list[str]:
    return send_to_every_tenant(task_name, args or (), kwargs)
