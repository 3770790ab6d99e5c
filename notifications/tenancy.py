"""The municipality whose schema the connection is in (request, task or `schema_context`)."""
from __future__ import annotations

from django.db import connection

from tenants.models import Municipality


def current_municipality() -> Municipality | None:
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Municipality) and tenant.schema_name == connection.schema_name:
        return tenant
    # schema_context() switches the schema without loading the tenant.
    return Municipality.objects.filter(schema_name=connection.schema_name).first()
