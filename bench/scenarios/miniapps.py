"""Mini-app framework under load: the home screen (GET /api/v1/miniapps/) and usage ingestion
(POST /api/v1/usage/ with 100-event batches), each beside a bare DRF endpoint on the same gunicorn
server with the same resident token (the floor: middleware, token lookup, DRF, JSON, nothing else).

Saga gets a realistic catalog: the 3 built-in mini-apps plus BENCH_MINIAPPS_EXTERNAL (default 23)
external ones, about the 26 of Saga's real app, and the bench resident a layout of 8 favourites.
Targets: home screen latency within 1.5x of the floor's; ingestion of at least 20,000 events/s.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context

from bench import lib

NAME = "miniapps"
DESCRIPTION = ("home screen GET /api/v1/miniapps/ and usage POST /api/v1/usage/ (100-event batches) "
               "beside a bare DRF endpoint on the same server: requests/s, p50, p99, events/s")

SAGA_CODE = "412015"
APP = "bench.miniapps_floor.wsgi:application"
BENCH_NICKNAME = "bench-miniapps"
FLOOR_PATH = "/bench/drf-floor/"
BATCH = 100


def _ensure_saga():
    """Saga as `make demo` makes it (same services), onboarded if missing."""
    from tenants.demo.data import DEMO_PASSWORD, MUNICIPALITIES
    from tenants.models import Domain
    from tenants.services import municipality_onboard

    spec = next(item for item in MUNICIPALITIES if item["code"] == SAGA_CODE)
    host = f"{spec['label']}.{settings.PLATFORM_DOMAIN}"
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    if domain is None:
        municipality = municipality_onboard(
            code=spec["code"], name=spec["name"], domain=host, admin_email=f"admin@{spec['label']}.example",
            admin_password=DEMO_PASSWORD, name_kana=spec["name_kana"], name_en=spec["name_en"],
            prefecture=spec["prefecture"]).municipality
    else:
        municipality = domain.tenant
    if not municipality.is_active:
        raise lib.BenchError(f"{host} belongs to a suspended municipality; resume it or use another database")
    if not lib.schema_is_current(municipality.schema_name):
        call_command("migrate_schemas", tenant=True, schema_name=municipality.schema_name, interactive=False,
                     verbosity=0)
    return municipality, host


def _prepare(municipality, external_count: int) -> tuple[str, int, list[str]]:
    """External bench mini-apps in the shared catalog and Saga's catalog, and a resident with a
    layout; idempotent. Returns (the resident's token, catalog size, favourites)."""
    from datetime import timedelta

    from accounts.models import User
    from accounts.services import api_token_issue
    from miniapps import selectors, services
    from miniapps.catalog.models import ExternalMiniApp
    from miniapps.models import CatalogEntry

    categories = ["life", "childcare_education", "health", "community", "city_hall", "tourism_events"]
    with schema_context(municipality.schema_name):
        admin = User.objects.filter(kind=User.Kind.STAFF, is_superuser=True).order_by("id").first()
        for index in range(external_count):
            slug = f"bench-ext-{index:02d}"
            app = ExternalMiniApp.objects.filter(slug=slug).first()
            if app is None:
                app = services.external_miniapp_create(
                    publisher=municipality, slug=slug, acting_user=admin, name=f"ベンチ外部アプリ{index:02d}",
                    name_en=f"Bench external {index:02d}", description="負荷試験用", description_en="For the bench",
                    category=categories[index % len(categories)], icon="apps",
                    launch_url=f"https://{slug}.example.jp/launch", owner_kind="company", owner_name="ベンチ株式会社",
                    requested_attributes=["nickname", "age_band"])
            if app.status != ExternalMiniApp.Status.PUBLISHED:
                services.external_miniapp_set_status(app=app, status="published", acting_user=admin)
            if not CatalogEntry.objects.filter(miniapp_id=slug).exists():
                services.catalog_add_external(miniapp_id=slug, acting_user=admin)
        user = User.objects.filter(kind=User.Kind.RESIDENT, nickname=BENCH_NICKNAME).first()
        if user is None:
            user = User.objects.create_user(username=f"resident-{BENCH_NICKNAME}", kind=User.Kind.RESIDENT,
                                            nickname=BENCH_NICKNAME, birth_year=1985)
        token = api_token_issue(user=user, kind="resident", ttl=timedelta(hours=2), label="bench").raw
        available = [item.id for item in selectors.catalog_items() if item.available]
        favourites = available[::3][:8]
        services.home_layout_set(user=user, favourites=favourites)
    connection.set_schema_to_public()
    return token, len(available), favourites


def _store_rates(municipality, ctx: lib.Context) -> dict[str, dict]:
    """In-process cost of storing one 100-event batch, without HTTP: Django's bulk_create of the
    same rows (the baseline) against the service (validation, INSERT ... unnest, asynchronous
    commit). Interleaved rounds of ctx.seconds each; events/s of one process."""
    import statistics
    from datetime import datetime as dt
    from datetime import timezone as tz

    from accounts.models import User
    from miniapps import services
    from miniapps.models import UsageEvent

    rates: dict[str, list[float]] = {"orm": [], "service": []}
    with schema_context(municipality.schema_name):
        user = User.objects.get(nickname=BENCH_NICKNAME)
        now = dt.now(tz.utc)
        events = [services.UsageEventInput(miniapp="garbage", kind=1 + i % 2, at=now) for i in range(BATCH)]

        def orm():
            UsageEvent.objects.bulk_create([
                UsageEvent(occurred_at=event.at, received_at=now, miniapp_id=event.miniapp, kind=event.kind,
                           user_id=user.pk, district_id=user.district_id, age_band=30) for event in events])

        def service():
            services.usage_events_record(user=user, events=events)

        for round_index in range(ctx.rounds):
            for name, store in (("orm", orm), ("service", service)) if round_index % 2 == 0 else \
                    (("service", service), ("orm", orm)):
                calls, started = 0, time.perf_counter()
                while time.perf_counter() - started < ctx.seconds:
                    store()
                    calls += 1
                rates[name].append(calls * BATCH / (time.perf_counter() - started))
    connection.set_schema_to_public()
    return {name: {"events_per_s": statistics.median(values), "batch_ms": BATCH / statistics.median(values) * 1000}
            for name, values in rates.items()}


def _cleanup(municipality) -> int:
    """Removes the bench resident's usage events (the catalog and resident stay for the next run)."""
    from accounts.models import ApiToken, User
    from miniapps.models import UsageEvent

    with schema_context(municipality.schema_name):
        user = User.objects.filter(nickname=BENCH_NICKNAME).first()
        deleted = UsageEvent.objects.filter(user_id=user.pk).delete()[0] if user else 0
        ApiToken.objects.filter(user=user, label="bench").delete()
    connection.set_schema_to_public()
    return deleted


# --- wrk with a method, headers and a body ------------------------------------------------------
def _lua(method: str, headers: dict[str, str], body: str | None) -> Path:
    """A wrk script setting the request, then bench/wrk_report.lua's reporter (done())."""
    lines = [f'wrk.method = "{method}"']
    for name, value in headers.items():
        lines.append(f'wrk.headers["{name}"] = "{value}"')
    if body is not None:
        if "]==]" in body:
            raise lib.BenchError("request body cannot be embedded in the wrk script")
        lines.append(f"wrk.body = [==[{body}]==]")
    lines.append(lib.WRK_SCRIPT.read_text())
    handle = tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-miniapps-", delete=False)
    handle.write("\n".join(lines) + "\n")
    handle.close()
    return Path(handle.name)


def _wrk(port: int, path: str, script: Path, *, host: str, seconds: int, threads: int,
         connections: int) -> lib.WrkResult:
    argv = [lib.wrk_path(), "--latency", "-t", str(threads), "-c", str(max(connections, threads)), "-d",
            f"{seconds}s", "--timeout", "10s", "-H", f"Host: {host}", "-s", str(script),
            f"http://{lib.LOOPBACK}:{port}{path}"]
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if completed.returncode != 0 or line is None:
        raise lib.BenchError(f"wrk failed ({completed.returncode}): {completed.stderr.strip() or completed.stdout[-500:]}")
    data = json.loads(line[len("WRK_JSON "):])
    duration_s = data["duration_us"] / 1e6
    requests = data["requests"]
    return lib.WrkResult(
        requests_per_s=requests / duration_s if duration_s else 0.0, p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000, max_ms=data["max_us"] / 1000,
        mean_ms=data["mean_us"] / 1000, requests=requests, duration_s=duration_s,
        bytes_per_response=data["bytes"] / requests if requests else 0.0, errors=data["errors"], threads=threads,
        connections=connections)


def _check(port: int, host: str, method: str, path: str, headers: dict, body: str | None, expect: int) -> bytes:
    import http.client

    conn = http.client.HTTPConnection(lib.LOOPBACK, port, timeout=10)
    try:
        conn.request(method, path, body=body.encode() if body else None, headers={"Host": host, **headers})
        response = conn.getresponse()
        content = response.read()
    finally:
        conn.close()
    if response.status != expect:
        raise lib.BenchError(f"{method} {path} answered {response.status}, expected {expect}: {content[:300]!r}")
    return content


def run(ctx: lib.Context) -> dict:
    lib.quiet_app_logs()
    external_count = ctx.env_int("BENCH_MINIAPPS_EXTERNAL", 23)
    municipality, host = _ensure_saga()
    token, catalog_size, favourites = _prepare(municipality, external_count)
    auth = {"Authorization": f"Bearer {token}"}
    now = datetime.now(timezone.utc).isoformat()
    kinds = ["opened", "tapped"]
    body = json.dumps({"events": [{"miniapp": favourites[i % len(favourites)], "kind": kinds[i % 2], "at": now}
                                  for i in range(BATCH)]})
    json_auth = {**auth, "Content-Type": "application/json"}
    targets = {
        "floor_get": ("bare DRF GET (token auth, constant)", "GET", FLOOR_PATH, auth, None, 200),
        "home": (f"GET /api/v1/miniapps/ ({catalog_size} mini-apps)", "GET", "/api/v1/miniapps/", auth, None, 200),
        "floor_post": (f"bare DRF POST (token auth, parses the {BATCH}-event body)", "POST", FLOOR_PATH, json_auth,
                       body, 202),
        "usage": (f"POST /api/v1/usage/ ({BATCH} events, one INSERT)", "POST", "/api/v1/usage/", json_auth, body, 202),
    }
    scripts = {name: _lua(method, headers, payload) for name, (_l, method, _p, headers, payload, _e) in targets.items()}
    results: dict[str, list[lib.WrkResult]] = {name: [] for name in targets}
    ctx.log(f"gunicorn {APP} ({ctx.workers} sync workers); {ctx.rounds} interleaved rounds of {ctx.seconds} s each")
    try:
        with ctx.gunicorn(APP, env={"DJANGO_SETTINGS_MODULE": "bench.miniapps_floor.settings"},
                          ready_path="/api/v1/districts/", host=host) as server:
            home = json.loads(_check(server.port, host, "GET", "/api/v1/miniapps/", auth, None, 200))
            shown = sum(len(category["miniapps"]) for category in home["categories"])
            if shown != catalog_size:
                raise lib.BenchError(f"the home screen lists {shown} mini-apps, expected {catalog_size}")
            for name, (_label, method, path, headers, payload, expect) in targets.items():
                _check(server.port, host, method, path, headers, payload, expect)
                _wrk(server.port, path, scripts[name], host=host, seconds=ctx.warmup_seconds,
                     threads=ctx.wrk_threads, connections=ctx.wrk_connections)
            names = list(targets)
            for round_index in range(ctx.rounds):
                order = names[round_index % len(names):] + names[:round_index % len(names)]
                for name in order:
                    result = _wrk(server.port, targets[name][2], scripts[name], host=host, seconds=ctx.seconds,
                                  threads=ctx.wrk_threads, connections=ctx.wrk_connections)
                    if result.error_count:
                        raise lib.BenchError(f"{name}: wrk saw errors {result.errors}; the figures would mean nothing")
                    results[name].append(result)
                    ctx.log(f"round {round_index + 1}/{ctx.rounds} {name}: {result.requests_per_s:,.0f} req/s, "
                            f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms")
        ctx.log(f"storing {BATCH}-event batches in-process: bulk_create vs the service, {ctx.rounds} rounds")
        stored = _store_rates(municipality, ctx)
    finally:
        for script in scripts.values():
            script.unlink(missing_ok=True)
        deleted = _cleanup(municipality)
        ctx.log(f"removed {deleted:,} bench usage events")

    rows = {}
    for name, (label, *_rest) in targets.items():
        combined = _combine(results[name])
        rows[name] = {"name": name, "label": label, **combined}
    for name in ("floor_post", "usage"):
        rows[name]["events_per_s"] = rows[name]["rps"] * BATCH
    home_ratio = rows["home"]["p50_ms"] / rows["floor_get"]["p50_ms"]
    home_p99_ratio = rows["home"]["p99_ms"] / rows["floor_get"]["p99_ms"]
    events_per_s = rows["usage"]["events_per_s"]
    latency_columns = [
        {"key": "rps", "label": "requests/s", "better": "higher", "decimals": 0},
        {"key": "p50_ms", "label": "p50 ms", "better": "lower", "decimals": 2},
        {"key": "p99_ms", "label": "p99 ms", "better": "lower", "decimals": 2},
    ]
    return {
        "parameters": {
            "host": host, "catalog_miniapps": catalog_size, "favourites": len(favourites), "batch_events": BATCH,
            "gunicorn": f"{ctx.workers} sync workers", "wrk": f"{ctx.wrk_threads} threads, {ctx.wrk_connections} "
                                                                 "connections", "rounds": ctx.rounds,
            "seconds": ctx.seconds,
        },
        "tables": [
            {"title": "Home screen beside the bare DRF floor (same server, same resident token)",
             "baseline": "floor_get", "columns": latency_columns, "rows": [rows["floor_get"], rows["home"]]},
            {"title": f"Usage ingestion, {BATCH}-event batches, beside a bare DRF POST of the same body",
             "baseline": "floor_post",
             "columns": [*latency_columns, {"key": "events_per_s", "label": "events/s", "better": "higher",
                                            "decimals": 0}],
             "rows": [rows["floor_post"], rows["usage"]]},
            {"title": f"Storing one {BATCH}-event batch in one process, no HTTP",
             "baseline": "orm",
             "columns": [{"key": "events_per_s", "label": "events/s", "better": "higher", "decimals": 0},
                         {"key": "batch_ms", "label": "ms per batch", "better": "lower", "decimals": 2}],
             "rows": [{"name": "orm", "label": "Django bulk_create (synchronous commit)", **stored["orm"]},
                      {"name": "service", "label": "usage_events_record (unnest, asynchronous commit)",
                       **stored["service"]}]},
        ],
        "targets": {
            "home_p50_vs_floor": round(home_ratio, 2), "home_p99_vs_floor": round(home_p99_ratio, 2),
            "home_within_1_5x": home_ratio <= 1.5, "usage_events_per_s": round(events_per_s),
            "usage_at_least_20000_events_per_s": events_per_s >= 20_000,
        },
        "notes": [
            f"Home screen p50 is ×{home_ratio:.2f} the floor's (p99 ×{home_p99_ratio:.2f}); target ≤ ×1.5. Beyond "
            "the floor's token lookup it costs one query (the resident's and the default layout with the catalog "
            "generation; the catalog itself is cached in each worker while its generation holds) and "
            f"~{rows['home']['bytes_per_response'] / 1024:.0f} KiB of JSON.",
            f"Usage ingestion: {events_per_s:,.0f} events/s (target ≥ 20,000); each request is one INSERT ... "
            "SELECT FROM unnest(...) of 100 rows, committed asynchronously, into an append-only table with BRIN "
            "indexes only.",
            "With BENCH_WRK_CONNECTIONS above the worker count, requests queue and p50 mostly measures the queue; "
            "BENCH_WRK_CONNECTIONS equal to BENCH_WORKERS measures one request's latency.",
            "Rounds are interleaved (the order rotates), each figure is the median round. wrk runs on the same "
            "machine as gunicorn and PostgreSQL and competes for the same CPUs: read the ratios more than the "
            "absolute rates.",
        ],
    }


def _combine(results: list[lib.WrkResult]) -> dict:
    combined = lib.combine(results)
    return {key: combined[key] for key in ("rps", "p50_ms", "p90_ms", "p99_ms", "rps_min", "rps_max", "requests",
                                           "bytes_per_response", "errors")}
