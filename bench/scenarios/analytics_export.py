"""Data platform: exporting a month of mini-app usage events (BENCH_ANALYTICS_EVENTS, default
1,000,000) to CSV, Parquet and Tableau Hyper, against PostgreSQL's own `COPY ... TO STDOUT` of the
same rows (psql writing the same query's CSV to a file) as the floor; and the nightly aggregation of
BENCH_ANALYTICS_AGG_EVENTS usage events (default 1,000,000; the issue's figure is 10,000,000) into
the daily facts, against a plain scan and a plain GROUP BY of the same events.

Each export runs in its own process, started by a small probe process that reads the peak resident
memory of what it waited for with `resource.getrusage(RUSAGE_CHILDREN)`: for the Hyper export that
is the larger of the Python process and the Hyper server it starts, so the Python process also
reports its own peak. Everything lives in a `bench_analytics` municipality (code in the
non-existent prefecture 99) that is dropped at the end unless BENCH_KEEP=1.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench import lib

NAME = "analytics_export"
DESCRIPTION = ("export of 1M usage events to CSV / Parquet / Hyper (rows/s, peak memory) beside COPY TO STDOUT; "
               "nightly aggregation of usage events into the daily facts")

SCHEMA = "bench_analytics"
DOMAIN = "bench-analytics.localhost"
CODE_PREFIX = "99"
MONTH_FROM = date(2026, 5, 1)
MONTH_TO = date(2026, 5, 31)
MINIAPPS = ("garbage", "announcements", "feedback", "attendance", "community", "shelters")
RESIDENTS = 50_000

# Runs argv, waits, and reports the peak RSS of everything it waited for (the export process and,
# for Hyper, the hyperd it started and waited for), plus the export's own JSON line.
PROBE = r"""
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"returncode": done.returncode, "stdout": done.stdout[-4000:], "stderr": done.stderr[-4000:],
                  "wall_s": wall, "peak_kb": peak}))
"""


# --- Municipality and data ----------------------------------------------------------------------
def _code() -> str:
    from tenants.models import Municipality
    from tenants.validators import lg_code_check_digit

    used = set(Municipality.objects.filter(code__startswith=CODE_PREFIX).values_list("code", flat=True))
    for number in range(900, 1000):
        first_five = f"{CODE_PREFIX}{number:03d}"
        code = f"{first_five}{lg_code_check_digit(first_five)}"
        if code not in used:
            return code
    raise lib.BenchError("no free bench municipality code in prefecture 99")


def _municipality():
    from django.db import connection

    from tenants.models import Municipality
    from tenants.services import municipality_onboard

    existing = Municipality.objects.filter(schema_name=SCHEMA).first()
    if existing is not None:
        return existing
    result = municipality_onboard(code=_code(), name="ベンチ市", name_en="Bench City", domain=DOMAIN,
                                  admin_email="admin@bench-analytics.example",
                                  admin_password="bench-analytics-2026-x", prefecture="ベンチ県", schema_name=SCHEMA)
    connection.set_schema_to_public()
    return result.municipality


def _drop(municipality) -> None:
    from django.db import connection

    connection.set_schema_to_public()
    municipality.delete(force_drop=True)


def _districts() -> list[int]:
    from accounts.models import District
    from accounts.services import district_create

    for index in range(32):
        if not District.objects.filter(name=f"ベンチ校区{index + 1:02d}").exists():
            district_create(name=f"ベンチ校区{index + 1:02d}", kana="べんちこうく")
    return list(District.objects.order_by("id").values_list("id", flat=True))


def generate_events(count: int, *, first: date = MONTH_FROM, days: int = 31) -> float:
    """`count` usage events spread evenly over `days` local days, from RESIDENTS residents whose district
    and age band are fixed per resident (as ingestion copies them), in one INSERT ... SELECT
    generate_series. Replaces whatever events were there. Returns seconds."""
    from django.apps import apps
    from django.db import connection

    events = apps.get_model("miniapps", "UsageEvent")._meta.db_table
    districts = _districts()
    with lib.Timer() as timer, connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {events}")
        cursor.execute(
            f"""INSERT INTO {events} (occurred_at, received_at, miniapp_id, kind, user_id, district_id, age_band)
            SELECT t.at, t.at + interval '3 seconds', (%(apps)s::text[])[1 + g %% %(n_apps)s],
                   CASE WHEN g %% 5 = 0 THEN 2 ELSE 1 END, t.resident,
                   (%(districts)s::bigint[])[1 + (hashint4(t.resident) & 2147483647) %% %(n_districts)s],
                   CASE WHEN t.resident %% 23 = 0 THEN NULL ELSE ((hashint4(t.resident + 1) & 2147483647) %% 9) * 10 END
            FROM generate_series(1, %(count)s) AS g,
                 LATERAL (SELECT %(start)s::timestamptz + (g::float8 / %(count)s) * (%(days)s * interval '1 day') AS at,
                                 1 + (hashint4(g) & 2147483647) %% %(residents)s AS resident) AS t""",
            {"apps": list(MINIAPPS), "n_apps": len(MINIAPPS), "districts": districts, "n_districts": len(districts),
             "count": count, "start": f"{first.isoformat()} 00:00:00+09", "days": days, "residents": RESIDENTS})
        cursor.execute(f"ANALYZE {events}")
    return timer.seconds


# --- One export in its own process ----------------------------------------------------------------
def _export_main(schema: str, fmt: str, out: str) -> None:
    """Child process: one export, timed from the first query to the closed file."""
    import resource

    lib.django_setup()
    lib.quiet_app_logs()
    from django_tenants.utils import tenant_context

    from analytics import engine
    from analytics.datasets import QueryContext, get_dataset
    from tenants.models import Municipality

    municipality = Municipality.objects.get(schema_name=schema)
    with tenant_context(municipality):
        ctx = QueryContext(MONTH_FROM, MONTH_TO, 10, {})
        started = time.perf_counter()
        result = engine.export_to_file(dataset=get_dataset("usage_events"), ctx=ctx, fmt=fmt, path=Path(out),
                                       municipality=municipality)
        seconds = time.perf_counter() - started
    print(json.dumps({"rows": result.rows, "bytes": result.size, "seconds": seconds,
                      "self_peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "children_peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))


def _probe(argv: list[str]) -> dict:
    completed = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=lib.REPO_ROOT, env=lib.subprocess_env(),
                               capture_output=True, text=True, timeout=3600)
    if completed.returncode != 0:
        raise lib.BenchError(f"probe failed: {completed.stderr[-2000:]}")
    report = json.loads(completed.stdout)
    if report["returncode"] != 0:
        raise lib.BenchError(f"{' '.join(argv[:4])}… failed ({report['returncode']}):\n{report['stderr']}")
    return report


def _export(fmt: str, out: Path) -> dict:
    report = _probe([sys.executable, "-m", "bench.scenarios.analytics_export", "export", SCHEMA, fmt, str(out)])
    child = json.loads(report["stdout"].strip().splitlines()[-1])
    return {**child, "peak_kb": report["peak_kb"], "wall_s": report["wall_s"]}


def _floor_statement() -> str:
    """The usage_events export's exact CSV query as literal SQL, for psql."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from analytics import engine
    from analytics.datasets import QueryContext, get_dataset

    dataset = get_dataset("usage_events")
    with schema_context(SCHEMA):
        sql, params = dataset.query(QueryContext(MONTH_FROM, MONTH_TO, 10, {}))
        with connection.cursor() as cursor:
            literal = cursor.mogrify(engine.csv_select(dataset, sql), params)
    return engine.copy_statement(literal if isinstance(literal, str) else literal.decode())


def _copy_floor(statement: str, out: Path) -> dict:
    """PostgreSQL's own COPY TO STDOUT through psql into a file, with the export's session settings."""
    from django.conf import settings

    url = settings.DATABASE_URL
    settings_sql = [f"SET search_path = {SCHEMA}, public"] + [
        f"SET {name} = '{value}'" for name, value in (("DateStyle", "ISO, YMD"), ("jit", "off"), ("work_mem", "64MB"))]
    argv = ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    for sql in settings_sql:
        argv += ["-c", sql]
    argv += ["-c", statement, "-o", str(out)]
    report = _probe(argv)
    lines = 0
    with open(out, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lines += block.count(b"\n")
    return {"rows": lines, "bytes": out.stat().st_size, "seconds": report["wall_s"], "peak_kb": report["peak_kb"],
            "self_peak_kb": report["peak_kb"], "children_peak_kb": 0}


# --- Aggregation ----------------------------------------------------------------------------------
def _aggregation(rounds: int, count: int, ctx: lib.Context) -> tuple[dict, list[dict]]:
    from django.apps import apps
    from django.conf import settings
    from django.db import connection
    from django_tenants.utils import schema_context

    from analytics import facts
    from analytics.services import fact_rebuild_range

    events = apps.get_model("miniapps", "UsageEvent")._meta.db_table
    days = 30
    first = MONTH_FROM
    last = first + timedelta(days=days - 1)
    ctx.log(f"generating {count:,} usage events over {days} days for the aggregation")
    with schema_context(SCHEMA):
        generated = generate_events(count, first=first, days=days)
    window = {"tz": settings.TIME_ZONE, "start": facts.local_midnight(first),
              "end": facts.local_midnight(last + timedelta(days=1))}
    samples: dict[str, list[float]] = {"scan": [], "group": [], "full": [], "nightly": []}
    rows = {}
    for round_no in range(rounds):
        ctx.log(f"aggregation round {round_no + 1}/{rounds}")
        with schema_context(SCHEMA), connection.cursor() as cursor:
            cursor.execute("SET jit = off")
            with lib.Timer() as timer:
                cursor.execute(f"SELECT count(*) FROM {events} WHERE occurred_at >= %(start)s AND occurred_at < %(end)s",
                               window)
                cursor.fetchone()
            samples["scan"].append(timer.seconds)
            with lib.Timer() as timer:
                cursor.execute(f"""SELECT count(*) FROM (SELECT (occurred_at AT TIME ZONE %(tz)s)::date, miniapp_id,
                                   district_id, age_band, count(*) FROM {events}
                                   WHERE occurred_at >= %(start)s AND occurred_at < %(end)s GROUP BY 1, 2, 3, 4) AS g""",
                               window)
                rows["group"] = cursor.fetchone()[0]
            samples["group"].append(timer.seconds)
            cursor.execute("RESET jit")
            with lib.Timer() as timer:
                result = fact_rebuild_range(fact=facts.USAGE, date_from=first, date_to=last)
            samples["full"].append(timer.seconds)
            rows["full"] = result.rows
            night = last - timedelta(days=1)
            with lib.Timer() as timer:
                result = fact_rebuild_range(fact=facts.USAGE, date_from=night, date_to=night)
            samples["nightly"].append(timer.seconds)
            rows["nightly"] = result.rows
    table_rows = []
    for name, label, scanned in (
        ("scan", f"floor: count(*) over the {days} days (scan only)", count),
        ("group", "floor: GROUP BY day, mini-app, district, age band (no distinct residents, no write)", count),
        ("full", f"rebuild all {days} days: both fact tables (distinct residents, delete + insert)", count),
        ("nightly", "nightly: rebuild one day (yesterday's events)", count // days),
    ):
        median = statistics.median(samples[name])
        table_rows.append({"name": name, "label": label, "median_s": median, "min_s": min(samples[name]),
                           "events_per_s": scanned / median if median else None, "events": scanned,
                           "runs": samples[name]})
    return {"generated_s": generated, "group_rows": rows["group"], "fact_rows": rows["full"]}, table_rows


# --- The scenario ---------------------------------------------------------------------------------
def run(ctx: lib.Context) -> dict:
    lib.django_setup()
    lib.quiet_app_logs()
    from django_tenants.utils import schema_context

    events = ctx.env_int("BENCH_ANALYTICS_EVENTS", 1_000_000)
    agg_events = ctx.env_int("BENCH_ANALYTICS_AGG_EVENTS", 1_000_000)
    rounds = ctx.env_int("BENCH_ANALYTICS_ROUNDS", ctx.rounds)
    agg_rounds = ctx.env_int("BENCH_ANALYTICS_AGG_ROUNDS", rounds)
    ctx.log("preparing the database (shared schema, tenant template)")
    lib.database_prepare()
    municipality = _municipality()
    workdir = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    try:
        ctx.log(f"generating {events:,} usage events for May 2026")
        with schema_context(SCHEMA):
            generated = generate_events(events)
        statement = _floor_statement()
        results: dict[str, list[dict]] = {"copy": [], "csv": [], "parquet": [], "hyper": []}
        for round_no in range(rounds):
            for name in results:  # interleaved: each round measures every target once
                ctx.log(f"round {round_no + 1}/{rounds}: {name}")
                out = workdir / f"out.{name}"
                results[name].append(_copy_floor(statement, out) if name == "copy" else _export(name, out))
                out.unlink()
        export_rows = []
        labels = {"copy": "floor: psql COPY (same query) TO STDOUT → file", "csv": "CSV (UTF-8 BOM)",
                  "parquet": "Parquet (snappy)", "hyper": "Tableau Hyper"}
        for name, runs in results.items():
            median = statistics.median(run["seconds"] for run in runs)
            export_rows.append({
                "name": name, "label": labels[name], "median_s": median,
                "rows_per_s": runs[0]["rows"] / median if median else None,
                "peak_mb": max(run["peak_kb"] for run in runs) / 1024,
                "python_peak_mb": max(run["self_peak_kb"] for run in runs) / 1024 if name != "copy" else None,
                "hyperd_peak_mb": max(run["children_peak_kb"] for run in runs) / 1024 if name == "hyper" else None,
                "mb_out": runs[0]["bytes"] / 1e6, "rows": runs[0]["rows"], "runs": runs,
            })
        agg_params, agg_rows = _aggregation(agg_rounds, agg_events, ctx)
    finally:
        for leftover in workdir.glob("*"):
            leftover.unlink()
        workdir.rmdir()
        if not os.environ.get("BENCH_KEEP"):
            ctx.log(f"dropping {SCHEMA}")
            _drop(municipality)
    by_name = {row["name"]: row for row in export_rows}
    floor = by_name["copy"]["median_s"]
    return {
        "parameters": {"events": events, "aggregation_events": agg_events, "rounds": rounds,
                       "aggregation_rounds": agg_rounds, "residents": RESIDENTS, "districts": 32,
                       "generate_s": generated, **agg_params},
        "tables": [
            {
                "title": f"Export of {events:,} usage events (usage_events dataset, one month), own process each, "
                         f"median of {rounds}",
                "baseline": "copy",
                "columns": [
                    {"key": "median_s", "label": "seconds", "better": "lower", "decimals": 2},
                    {"key": "rows_per_s", "label": "rows/s", "better": "higher", "decimals": 0},
                    {"key": "peak_mb", "label": "peak MB", "better": "lower", "decimals": 0},
                    {"key": "python_peak_mb", "label": "python MB", "ratio": False, "decimals": 0},
                    {"key": "hyperd_peak_mb", "label": "hyperd MB", "ratio": False, "decimals": 0},
                    {"key": "mb_out", "label": "file MB", "ratio": False, "decimals": 1},
                ],
                "rows": export_rows,
            },
            {
                "title": f"Nightly aggregation of {agg_events:,} usage events (30 days), median of {agg_rounds}",
                "baseline": "group",
                "columns": [
                    {"key": "median_s", "label": "seconds", "better": "lower", "decimals": 2},
                    {"key": "events_per_s", "label": "events/s", "better": "higher", "decimals": 0},
                    {"key": "min_s", "label": "min s", "ratio": False, "decimals": 2},
                ],
                "rows": agg_rows,
            },
        ],
        "notes": [
            f"CSV took ×{by_name['csv']['median_s'] / floor:.2f} the floor's time (target: within ×2); peak memory "
            f"CSV {by_name['csv']['peak_mb']:.0f} MB, Parquet {by_name['parquet']['peak_mb']:.0f} MB, Hyper "
            f"{by_name['hyper']['peak_mb']:.0f} MB (target: under 300 MB each). Every export streams: COPY rows are "
            "read as they arrive, Parquet is written in row groups, Hyper loads Arrow chunks, so the peak does not "
            "grow with the number of rows (try BENCH_ANALYTICS_EVENTS=5000000).",
            "The floor is psql running the export's own query (with the k-anonymity pre-pass that blanks small "
            "district/age-band groups) into a file; the gap to it is what the app adds. Times exclude Python and "
            "Django start-up (about a second); 'peak MB' is the probe's RUSAGE_CHILDREN, i.e. the larger of the "
            "Python process and, for Hyper, the hyperd server; both are also shown on their own.",
            "Aggregation: 'rebuild all' rewrites both usage fact tables for 30 days in one statement (grouping sets, "
            "distinct residents per cell); 'nightly' is what runs each night for one day's events. The two floors "
            "scan and group the same events without distinct counting or writing.",
            "The machine is shared: compare ratios within a run rather than absolute times across runs.",
        ],
    }


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "export":
    _export_main(sys.argv[2], sys.argv[3], sys.argv[4])
