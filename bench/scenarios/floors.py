"""The request-rate floors under gunicorn: how fast can anything be, and what does each layer cost?

(a) a constant JSON view in plain Django (no middleware, no database) is the baseline;
(b) the same view behind the project's tenant middleware; (b') behind the project's full middleware
stack; (c) the real API: GET /api/v1/districts/ on Saga's host, a DRF list of 32 rows from the
tenant schema, served by the project's own WSGI app.
"""
from __future__ import annotations

import contextlib
import json

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context

from bench import lib

NAME = "floors"
DESCRIPTION = ("requests/s and p50/p99 of a constant JSON view (plain Django; behind the tenant "
               "middleware; behind the full middleware stack) and of a 32-row DRF list from a tenant schema")

SAGA_CODE = "412015"
FLOOR_APP = "bench.floor.wsgi:application"
PROJECT_APP = "superapp.wsgi:application"


def _ensure_saga() -> tuple[str, int]:
    """Saga with its 32 school districts, made the way `make demo` makes them (same services and
    data), so running the bench on a demo database changes nothing. Returns (host, district count)."""
    from accounts.models import District
    from accounts.services import district_create
    from tenants.demo.data import DEMO_PASSWORD, MUNICIPALITIES, SAGA_DISTRICTS
    from tenants.models import Domain
    from tenants.services import municipality_onboard

    spec = next(item for item in MUNICIPALITIES if item["code"] == SAGA_CODE)
    host = f"{spec['label']}.{settings.PLATFORM_DOMAIN}"
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    if domain is None:
        municipality = municipality_onboard(
            code=spec["code"], name=spec["name"], domain=host, admin_email=f"admin@{spec['label']}.example",
            admin_password=DEMO_PASSWORD, name_kana=spec["name_kana"], name_en=spec["name_en"],
            prefecture=spec["prefecture"],
        ).municipality
    else:
        municipality = domain.tenant
    if not municipality.is_active:
        raise lib.BenchError(f"{host} belongs to a suspended municipality; resume it or use another database")
    if not lib.schema_is_current(municipality.schema_name):
        call_command("migrate_schemas", tenant=True, schema_name=municipality.schema_name, interactive=False,
                     verbosity=0)
    with schema_context(municipality.schema_name):
        existing = set(District.objects.values_list("name", flat=True))
        for name, kana in SAGA_DISTRICTS:
            if name not in existing:
                district_create(name=name, kana=kana)
        count = District.objects.count()
    connection.set_schema_to_public()
    return host, count


def run(ctx: lib.Context) -> dict:
    host, district_count = _ensure_saga()
    cases = [
        ("plain", "(a) constant JSON, plain Django", FLOOR_APP, "none", "/floor/"),
        ("tenant_mw", "(b) same view + tenant middleware", FLOOR_APP, "tenant", "/floor/"),
        ("project_mw", "(b') same view + full middleware stack", FLOOR_APP, "project", "/floor/"),
        ("drf_list", f"(c) DRF GET /api/v1/districts/ ({district_count} rows)", PROJECT_APP, "project",
         "/api/v1/districts/"),
    ]
    # All four servers run side by side (idle ones cost nothing) and are loaded one at a time in
    # interleaved rounds, so a burst of background load cannot favour one of them.
    with contextlib.ExitStack() as stack:
        targets = {}
        for name, label, app, middleware, path in cases:
            env = ({"DJANGO_SETTINGS_MODULE": "bench.floor.settings", "BENCH_FLOOR_MIDDLEWARE": middleware}
                   if app == FLOOR_APP else {"DJANGO_SETTINGS_MODULE": "superapp.settings"})
            server = stack.enter_context(ctx.gunicorn(app, env=env, ready_path=path, host=host))
            ctx.log(f"{label}: gunicorn {app} on port {server.port} ({ctx.workers} sync workers)")
            if app == PROJECT_APP:
                _status, body = lib.http_get(server.port, path, host=host)
                if len(json.loads(body)) != district_count:
                    raise lib.BenchError(f"{path} returned {len(json.loads(body))} districts, expected {district_count}")
            targets[name] = lib.Target(server.port, path, host)
        ctx.log(f"{ctx.rounds} rounds × {len(targets)} targets × {ctx.seconds} s of wrk")
        measured = ctx.wrk_rounds(targets)

    rows = []
    for name, label, app, middleware, path in cases:
        figures = lib.combine(measured[name])
        if any(figures["errors"].values()):
            raise lib.BenchError(f"{label}: wrk saw errors {figures['errors']}; the figures would not mean anything")
        rows.append({"name": name, "label": label, "path": path, "wsgi": app, "middleware": middleware, **figures})

    by_name = {row["name"]: row for row in rows}
    per_request_us = {name: 1e6 / row["rps"] * ctx.workers for name, row in by_name.items()}
    layer_cost = {
        "tenant middleware": per_request_us["tenant_mw"] - per_request_us["plain"],
        "rest of the middleware stack": per_request_us["project_mw"] - per_request_us["tenant_mw"],
        "DRF view + query + 32-row serialisation": per_request_us["drf_list"] - per_request_us["project_mw"],
    }
    return {
        "parameters": {
            "host": host, "gunicorn": f"{ctx.workers} sync workers, 1 thread each",
            "wrk": f"{ctx.wrk_threads} threads, {ctx.wrk_connections} connections (sync workers close each connection)",
            "seconds": ctx.seconds, "rounds": ctx.rounds, "warmup_seconds": ctx.warmup_seconds,
            "districts": district_count,
            "CONN_MAX_AGE": settings.DATABASES["default"].get("CONN_MAX_AGE"),
            "TENANT_HOST_CACHE_SECONDS": settings.TENANT_HOST_CACHE_SECONDS,
        },
        "tables": [{
            "title": "Request floors (same gunicorn, same wrk, same host header)",
            "baseline": "plain",
            "columns": [
                {"key": "rps", "label": "requests/s", "better": "higher", "decimals": 0},
                {"key": "p50_ms", "label": "p50 ms", "better": "lower", "decimals": 2},
                {"key": "p99_ms", "label": "p99 ms", "better": "lower", "decimals": 2},
                {"key": "rps_spread_pct", "label": "req/s spread %", "decimals": 0, "ratio": False},
            ],
            "rows": rows,
        }],
        "layer_cost_us_per_request": {key: round(value, 1) for key, value in layer_cost.items()},
        "notes": [
            "(a) is the floor: Django's request cycle and JsonResponse with no middleware and no database. "
            "Nothing the platform serves can be faster on this machine with these workers.",
            "(b) adds only superapp.middleware.MunicipalityMiddleware: host → municipality from the per-process "
            "cache (one Domain query per host per TENANT_HOST_CACHE_SECONDS) and the schema switch; the "
            "constant view never opens a cursor, so no SET search_path is sent.",
            "(b') adds the rest of settings.MIDDLEWARE (security, whitenoise, sessions, locale, common, CSRF, "
            "auth, messages, clickjacking) with the same view: the gap (b)→(b') is middleware, not DRF.",
            "(c) is the project's real WSGI app: anonymous DRF list, one SET search_path + one SELECT "
            "on a persistent connection, 32 rows through a serializer.",
            "Worker time per request implied by the rates (workers ÷ requests/s), layer by layer: " + "; ".join(
                f"{key} {value:+,.0f} µs" for key, value in layer_cost.items()) + " (a negative step is within the noise).",
            f"Each figure is the median of {ctx.rounds} interleaved rounds of {ctx.seconds} s; 'req/s spread' is "
            "(max − min) ÷ median of the rounds: a large spread means background load, so rerun or raise "
            "BENCH_ROUNDS / BENCH_SECONDS before trusting a small difference.",
            f"gunicorn sync workers with --threads 1 ({ctx.workers} workers) for every row; wrk runs on the "
            "same machine and competes for the same CPUs, so read the ratios more than the absolute rates.",
        ],
    }
