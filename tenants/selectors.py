"""Reads over municipalities (public schema)."""
from __future__ import annotations

from django.db.models import QuerySet

from .models import Municipality


def municipality_directory() -> QuerySet[Municipality]:
    return Municipality.objects.filter(status=Municipality.Status.ACTIVE).prefetch_related("domains").order_by("code")


def current_municipality() -> Municipality | None:
    """The municipality whose schema the connection is on (None on the public schema).

    Requests and tasks set a real Municipality on the connection; `schema_context` sets only a
    placeholder, so fall back to one lookup by schema name."""
    from django.db import connection

    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Municipality):
        return tenant
    if connection.schema_name == "public":
        return None
    return Municipality.objects.filter(schema_name=connection.schema_name).first()
