"""Reads of the platform console: every municipality with its size and activity, in constant queries."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from accounts.models import ApiToken, AuditEvent, User
from tenants.models import Municipality


@dataclass(frozen=True)
class MunicipalityOverview:
    municipality: Municipality
    schema_bytes: int | None  # tables + indexes + TOAST of its schema; None: schema missing
    residents: int | None
    last_activity: datetime | None  # latest audit event or API token use


def _schema_sizes(schemas: list[str]) -> dict[str, tuple[int, bool]]:
    """schema → (bytes, has the accounts tables) for the schemas that exist. One query."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT n.nspname,
                   COALESCE(SUM(pg_total_relation_size(c.oid)) FILTER (WHERE c.relkind IN ('r', 'm')), 0),
                   COALESCE(BOOL_OR(c.relname = %s AND c.relkind = 'r'), false)
            FROM pg_namespace n
            LEFT JOIN pg_class c ON c.relnamespace = n.oid
            WHERE n.nspname = ANY(%s)
            GROUP BY n.nspname
            """,
            [User._meta.db_table, schemas],
        )
        return {name: (int(size), bool(ready)) for name, size, ready in cursor.fetchall()}


def _activity(schemas: list[str]) -> dict[str, tuple[int, datetime | None]]:
    """schema → (active residents, last activity), one UNION ALL query over every schema."""
    if not schemas:
        return {}
    quote = connection.ops.quote_name
    users, audit, tokens = (quote(model._meta.db_table) for model in (User, AuditEvent, ApiToken))
    parts = []
    for schema in schemas:
        s = quote(schema)
        parts.append(
            f"SELECT %s, (SELECT count(*) FROM {s}.{users} WHERE kind = 'resident' AND is_active), "
            f"GREATEST((SELECT max(created_at) FROM {s}.{audit}), (SELECT max(last_used_at) FROM {s}.{tokens}))"
        )
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), schemas)
        return {name: (int(residents), last) for name, residents, last in cursor.fetchall()}


def municipality_overview() -> list[MunicipalityOverview]:
    municipalities = list(Municipality.objects.prefetch_related("domains").order_by("code"))
    schemas = [m.schema_name for m in municipalities]
    sizes = _schema_sizes(schemas)
    activity = _activity([schema for schema in schemas if sizes.get(schema, (0, False))[1]])
    rows = []
    for municipality in municipalities:
        size = sizes.get(municipality.schema_name)
        residents, last = activity.get(municipality.schema_name, (None, None))
        rows.append(MunicipalityOverview(municipality, size[0] if size else None, residents, last))
    return rows
