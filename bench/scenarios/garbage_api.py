"""Garbage calendar API under load, beside the framework floor measured in the same run:
GET collections/ for one area over a full year, GET next/ for 1,000 random area picks, and the
year's iCal feed; the floors are a constant JSON view in plain Django and the project's 32-row DRF
districts list (same gunicorn, same wrk, same host header, interleaved rounds)."""
from __future__ import annotations

import contextlib
import json
import random
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from bench import lib

NAME = "garbage_api"
DESCRIPTION = ("requests/s and p50/p99 of the garbage calendar (a year of collections, next/ over 1,000 random "
               "areas, the iCal feed) beside a constant JSON view and a 32-row DRF list")

FLOOR_APP = "bench.floor.wsgi:application"
PROJECT_APP = "superapp.wsgi:application"
SAGA_CODE = "412015"


def ensure_saga_calendar() -> tuple[str, list[int], int]:
    """Saga (as `make demo` makes it) with its real 5374 calendar and districts. Returns
    (host, area ids, id of 今宿町)."""
    from accounts.models import District
    from accounts.services import district_create
    from miniapps.garbage.datasets import saga_5374_dir
    from miniapps.garbage.models import Area
    from miniapps.garbage.services import calendar_import_5374
    from tenants.demo.data import DEMO_PASSWORD, MUNICIPALITIES, SAGA_DISTRICTS
    from tenants.models import Domain
    from tenants.services import municipality_onboard

    spec = next(item for item in MUNICIPALITIES if item["code"] == SAGA_CODE)
    host = f"{spec['label']}.{settings.PLATFORM_DOMAIN}"
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    municipality = domain.tenant if domain else municipality_onboard(
        code=spec["code"], name=spec["name"], domain=host, admin_email=f"admin@{spec['label']}.example",
        admin_password=DEMO_PASSWORD, name_kana=spec["name_kana"], name_en=spec["name_en"],
        prefecture=spec["prefecture"]).municipality
    with schema_context(municipality.schema_name):
        existing = set(District.objects.values_list("name", flat=True))
        for name, kana in SAGA_DISTRICTS:
            if name not in existing:
                district_create(name=name, kana=kana)
        if not Area.objects.exists():
            calendar_import_5374(directory=saga_5374_dir())
        ids = list(Area.objects.values_list("id", flat=True))
        imajuku = Area.objects.get(name="今宿町").id
    connection.set_schema_to_public()
    return host, ids, imajuku


def _random_paths_script(paths: list[str]) -> Path:
    """A wrk script that picks one of `paths` per request and reports with bench/wrk_report.lua."""
    script = Path(tempfile.mkdtemp(prefix="bench-garbage-")) / "random_paths.lua"
    listing = ",\n".join(json.dumps(p) for p in paths)
    script.write_text(
        f'dofile("{lib.WRK_SCRIPT}")\n'
        f"local paths = {{\n{listing}\n}}\n"
        "math.randomseed(412015)\n"
        "request = function() return wrk.format(\"GET\", paths[math.random(#paths)]) end\n",
        encoding="utf-8")
    return script


def _wrk_script(port: int, host: str, script: Path, *, seconds: int, threads: int, connections: int) -> lib.WrkResult:
    argv = [lib.wrk_path(), "--latency", "-t", str(threads), "-c", str(max(connections, threads)), "-d", f"{seconds}s",
            "--timeout", "10s", "-H", f"Host: {host}", "-s", str(script), f"http://{lib.LOOPBACK}:{port}/"]
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 40)
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if completed.returncode != 0 or line is None:
        raise lib.BenchError(f"wrk failed: {completed.stderr.strip() or completed.stdout[-500:]}")
    data = json.loads(line[len("WRK_JSON "):])
    duration = data["duration_us"] / 1e6
    return lib.WrkResult(
        requests_per_s=data["requests"] / duration if duration else 0.0, p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000, max_ms=data["max_us"] / 1000,
        mean_ms=data["mean_us"] / 1000, requests=data["requests"], duration_s=duration,
        bytes_per_response=data["bytes"] / data["requests"] if data["requests"] else 0.0, errors=data["errors"],
        threads=threads, connections=connections)


def run(ctx: lib.Context) -> dict:
    host, area_ids, imajuku = ensure_saga_calendar()
    today = timezone.localdate()
    year = f"from={today}&to={today + timedelta(days=364)}"
    rng = random.Random(412015)
    next_paths = [f"/api/v1/garbage/areas/{rng.choice(area_ids)}/next/" for _ in range(1000)]
    script = _random_paths_script(next_paths)
    cases = [
        ("plain", "(floor) constant JSON, plain Django", FLOOR_APP, "/floor/"),
        ("drf_list", "(floor) DRF GET /api/v1/districts/ (32 rows)", PROJECT_APP, "/api/v1/districts/"),
        ("collections_year", "GET collections/ 今宿町, 365 days (177 rows)", PROJECT_APP,
         f"/api/v1/garbage/areas/{imajuku}/collections/?{year}"),
        ("next_random", f"GET next/ over 1,000 random picks of {len(area_ids)} areas", PROJECT_APP, None),
        ("ics_year", "GET calendar.ics 今宿町 (about a year)", PROJECT_APP, f"/api/v1/garbage/areas/{imajuku}/calendar.ics"),
    ]
    with contextlib.ExitStack() as stack:
        floor = stack.enter_context(ctx.gunicorn(FLOOR_APP, env={"DJANGO_SETTINGS_MODULE": "bench.floor.settings",
                                                                 "BENCH_FLOOR_MIDDLEWARE": "none"},
                                                 ready_path="/floor/", host=host))
        project = stack.enter_context(ctx.gunicorn(PROJECT_APP, env={"DJANGO_SETTINGS_MODULE": "superapp.settings"},
                                                   ready_path="/api/v1/districts/", host=host))
        status, body = lib.http_get(project.port, cases[2][3], host=host)
        if status != 200 or len(json.loads(body)) < 100:
            raise lib.BenchError(f"collections answered {status}: {body[:200]!r}")
        ports = {FLOOR_APP: floor.port, PROJECT_APP: project.port}
        ctx.log(f"floor on {floor.port}, project on {project.port}; {ctx.rounds} rounds × {len(cases)} × {ctx.seconds} s")
        measure = {}
        for name, _label, app, path in cases:
            if path is None:
                measure[name] = lambda app=app: _wrk_script(ports[app], host, script, seconds=ctx.seconds,
                                                            threads=ctx.wrk_threads, connections=ctx.wrk_connections)
            else:
                measure[name] = lambda app=app, path=path: lib._wrk_once(
                    ports[app], path, host=host, seconds=ctx.seconds, threads=ctx.wrk_threads,
                    connections=ctx.wrk_connections, timeout_s=10)
        for name, _label, app, path in cases:  # warm-up
            if path is None:
                _wrk_script(ports[app], host, script, seconds=ctx.warmup_seconds, threads=ctx.wrk_threads,
                            connections=ctx.wrk_connections)
            else:
                lib._wrk_once(ports[app], path, host=host, seconds=ctx.warmup_seconds, threads=ctx.wrk_threads,
                              connections=ctx.wrk_connections, timeout_s=10)
        results: dict[str, list[lib.WrkResult]] = {name: [] for name, *_ in cases}
        names = list(results)
        for round_index in range(ctx.rounds):
            for name in names[round_index % len(names):] + names[:round_index % len(names)]:
                result = measure[name]()
                results[name].append(result)
                ctx.log(f"round {round_index + 1} {name}: {result.requests_per_s:,.0f} req/s, "
                        f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms")
    rows = []
    for name, label, app, path in cases:
        figures = lib.combine(results[name])
        if any(figures["errors"].values()):
            raise lib.BenchError(f"{label}: wrk saw errors {figures['errors']}")
        rows.append({"name": name, "label": label, "path": path or "random next/", **figures})
    return {
        "parameters": {"host": host, "areas": len(area_ids), "gunicorn": f"{ctx.workers} sync workers",
                       "wrk": f"{ctx.wrk_threads} threads, {ctx.wrk_connections} connections",
                       "seconds": ctx.seconds, "rounds": ctx.rounds},
        "tables": [{
            "title": "Garbage calendar API beside the framework floors",
            "baseline": "drf_list",
            "columns": [
                {"key": "rps", "label": "requests/s", "better": "higher", "decimals": 0},
                {"key": "p50_ms", "label": "p50 ms", "better": "lower", "decimals": 2},
                {"key": "p99_ms", "label": "p99 ms", "better": "lower", "decimals": 2},
                {"key": "rps_spread_pct", "label": "req/s spread %", "decimals": 0, "ratio": False},
            ],
            "rows": rows,
        }],
        "notes": [
            "collections/, next/ and the iCal feed are cached per calendar version (two Redis reads, no SQL on a "
            "hit); a miss costs five queries (search_path, area, rules with categories, closures, staff changes) "
            "and the engine evaluating 4 rules × 365 days in Python.",
            "next/ requests pick one of 1,000 random area ids (seeded) per request, so no single area stays hot.",
        ],
    }
