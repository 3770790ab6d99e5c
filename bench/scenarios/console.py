"""Staff console server time with a city's worth of data: the dashboard (resident counts, residents
by district and by age band) with 230,000 residents, the audit log viewer over 200,000 rows, the
push composer and its live audience size (everyone, the largest district, a district × 65+), and the
mini-app catalog, against the console home page (same sign-in, session and layout, no aggregates) as
the baseline.

Server time is measured in process with Django's test client: middleware, view, queries and template
rendering, no network. The data lives in its own municipality (schema `console_bench`, a code in the
non-existent prefecture 99) and is kept between runs, since generating it takes a while; set
BENCH_CONSOLE_DROP=1 to drop it at the end.

Knobs: BENCH_CONSOLE_RESIDENTS (230000), BENCH_CONSOLE_AUDIT_EVENTS (200000), BENCH_CONSOLE_REQUESTS
(30 timed requests per page after 3 warm-up ones).

    python -m bench.run console           # with the bench runner
    python -m bench.scenarios.console     # on its own (prints the table, writes bench/results/console.json)
"""
from __future__ import annotations

import io
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

NAME = "console"
DESCRIPTION = ("staff console server time: dashboard with 230,000 residents, audit log with 200,000 rows, push "
               "composer and live audience size, mini-app catalog, against the console home page")

DOMAIN = "console-bench.localhost"
SCHEMA = "console_bench"
ADMIN = "admin@console-bench.example"
REPO_ROOT = Path(__file__).resolve().parents[2]

# Saga City's 32 school districts with rough weights (bigger urban ones first), and age bands with
# shares close to Saga's population pyramid (2020 census, rounded); 5% chose no district, 6% gave no
# birth year.
DISTRICT_WEIGHTS = [9, 8, 8, 7, 7, 6, 6, 6, 5, 5, 5, 5, 4, 4, 4, 4, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1]
AGE_BAND_SHARES = [(0, 0.08), (10, 0.09), (20, 0.09), (30, 0.11), (40, 0.13), (50, 0.13), (60, 0.13),
                   (70, 0.14), (80, 0.10)]
AUDIT_ACTIONS = ["staff.console_login", "staff.token_issued", "district.create", "staff.roles_changed",
                 "shelter.check_in", "citizen_id.pii_read", "notification.sent", "attendance.viewed"]


def _log(ctx, message: str) -> None:
    (getattr(ctx, "log", None) or (lambda text: print(f"  · {text}", file=sys.stderr, flush=True)))(message)


def _env_int(ctx, name: str, default: int) -> int:
    if hasattr(ctx, "env_int"):
        return ctx.env_int(name, default)
    return int(os.environ.get(name) or default)


def _setup_django() -> None:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "superapp.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def _bench_code() -> str:
    from tenants.validators import lg_code_check_digit

    return "99901" + str(lg_code_check_digit("99901"))


def _ensure_municipality():
    from django.core.management import call_command
    from django.db import connection

    from tenants.models import Municipality
    from tenants.services import municipality_onboard, tenant_template_prepare

    connection.set_schema_to_public()
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    tenant_template_prepare()
    existing = Municipality.objects.filter(schema_name=SCHEMA).first()
    if existing is not None:
        call_command("migrate_schemas", tenant=True, schema_name=SCHEMA, interactive=False, verbosity=0)
        return existing
    return municipality_onboard(code=_bench_code(), name="ベンチ市", name_en="Bench City", domain=DOMAIN,
                                admin_email=ADMIN, admin_password=f"bench-{os.getpid()}-long-password",
                                schema_name=SCHEMA).municipality


def _copy_rows(table: str, columns: list[str], rows) -> None:
    """COPY … FROM STDIN: about 20× faster than bulk_create for a quarter of a million rows."""
    from django.db import connection

    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if value is None else str(value) for value in row) + "\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)


def _ensure_data(ctx, residents_wanted: int, audit_wanted: int) -> dict:
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from accounts.models import AuditEvent, District, User
    from accounts.services import district_create
    from tenants.demo.data import SAGA_DISTRICTS

    rng = random.Random(20260401)
    seconds = {}
    with schema_context(SCHEMA):
        for name, kana in SAGA_DISTRICTS:
            if not District.objects.filter(name=name).exists():
                district_create(name=name, kana=kana)
        district_ids = list(District.objects.order_by("sort_order", "id").values_list("id", flat=True))
        have = User.objects.filter(kind=User.Kind.RESIDENT).count()
        if have < residents_wanted:
            started = time.perf_counter()
            this_year = timezone.localdate().year
            bands, shares = zip(*AGE_BAND_SHARES)
            now = timezone.now().isoformat()
            rows = []
            for i in range(have, residents_wanted):
                district = rng.choices(district_ids, DISTRICT_WEIGHTS[: len(district_ids)])[0] \
                    if rng.random() > 0.05 else None
                birth_year = None
                if rng.random() > 0.06:
                    band = rng.choices(bands, shares)[0]
                    birth_year = this_year - band - rng.randrange(10 if band < 80 else 20)
                rows.append(("!", "f", f"bench-resident-{i:07d}", "", "resident", "", "", district, "{}",
                             birth_year, "ja", "t", "f", now))
            _copy_rows(connection.ops.quote_name(User._meta.db_table),
                       ["password", "is_superuser", "username", "email", "kind", "display_name", "nickname",
                        "district_id", "interests", "birth_year", "language", "is_active", "is_staff",
                        "date_joined"], rows)
            seconds["residents"] = round(time.perf_counter() - started, 1)
            _log(ctx, f"generated {residents_wanted - have:,} residents in {seconds['residents']} s")
        have_audit = AuditEvent.objects.count()
        if have_audit < audit_wanted:
            started = time.perf_counter()
            staff_ids = list(User.objects.filter(kind=User.Kind.STAFF).values_list("id", flat=True))
            start = timezone.now() - timedelta(days=365)
            rows = []
            for i in range(have_audit, audit_wanted):
                at = (start + timedelta(seconds=i * 365 * 86400 // max(audit_wanted, 1))).isoformat()
                rows.append((rng.choice(staff_ids), rng.choice(AUDIT_ACTIONS), "User", str(rng.randrange(1, 1000)),
                             json.dumps({"n": i}), "10.0.0.1", at))
            _copy_rows(connection.ops.quote_name(AuditEvent._meta.db_table),
                       ["actor_id", "action", "target_type", "target_id", "data", "ip_address", "created_at"], rows)
            seconds["audit_events"] = round(time.perf_counter() - started, 1)
            _log(ctx, f"generated {audit_wanted - have_audit:,} audit events in {seconds['audit_events']} s")
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(User._meta.db_table)}")
            cursor.execute(f"ANALYZE {connection.ops.quote_name(AuditEvent._meta.db_table)}")
        return {
            "residents": User.objects.filter(kind=User.Kind.RESIDENT).count(),
            "districts": len(district_ids),
            "audit_events": AuditEvent.objects.count(),
            "generated_seconds": seconds,
        }


def _measure(client, path: str, requests: int, post: dict | None = None) -> dict:
    """GET `path` (or POST `post` to it) after three warm-up requests."""
    from django.core.signals import request_started
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    def call():
        return client.get(path) if post is None else client.post(path, post)

    for _ in range(3):  # warm-up: template loading, the host cache, the first database connection
        response = call()
        if response.status_code != 200:
            raise RuntimeError(f"{'GET' if post is None else 'POST'} {path} answered {response.status_code}")
    samples = []
    # Django empties the query log when a request starts; keep it for the one counted request.
    request_started.disconnect(reset_queries)
    try:
        with CaptureQueriesContext(connection) as captured:
            call()
        query_count = len(captured.captured_queries)  # read now: the log is emptied again below
    finally:
        request_started.connect(reset_queries)
    for _ in range(requests):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median_ms": statistics.median(samples),
        "p90_ms": samples[max(0, int(len(samples) * 0.9) - 1)],
        "max_ms": samples[-1],
        "queries": query_count,
        "n": len(samples),
    }


def run(ctx) -> dict:
    _setup_django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings
    from django_tenants.utils import schema_context

    from accounts.models import User

    residents = _env_int(ctx, "BENCH_CONSOLE_RESIDENTS", 230_000)
    audit_events = _env_int(ctx, "BENCH_CONSOLE_AUDIT_EVENTS", 200_000)
    requests = _env_int(ctx, "BENCH_CONSOLE_REQUESTS", 30)

    _ensure_municipality()
    facts = _ensure_data(ctx, residents, audit_events)
    _log(ctx, f"data: {facts['residents']:,} residents, {facts['audit_events']:,} audit events")

    client = Client(HTTP_HOST=DOMAIN)
    with schema_context(SCHEMA):
        client.force_login(User.objects.get(username=ADMIN))
        from accounts.models import District

        largest_district = District.objects.order_by("sort_order", "id").values_list("id", flat=True).first()
    connection.set_schema_to_public()
    size_path = "/console/notifications/audience-size/"

    pages = [
        ("home", "console home (sign-in, session, layout)", "/console/", {}),
        ("dashboard", "dashboard, aggregate computed every time", "/console/dashboard/",
         {"CONSOLE_DASHBOARD_CACHE_SECONDS": 0}),
        ("dashboard_cached", "dashboard, aggregate from the 60 s cache", "/console/dashboard/",
         {"CONSOLE_DASHBOARD_CACHE_SECONDS": 60}),
        ("audit", "audit log, newest page", "/console/audit/", {}),
        ("audit_filtered", "audit log, one action, one month",
         f"/console/audit/?action=shelter.&date_from={_month_ago()}&date_to={_today()}", {}),
        ("staff", "staff list", "/console/staff/", {}),
        ("notification_compose", "push composer", "/console/notifications/new/", {}),
        ("audience_everyone", "live audience size: everyone (htmx POST)", size_path,
         {"post": {"topic": "city_news", "audience": "everyone"}}),
        ("audience_district", "live audience size: the largest district", size_path,
         {"post": {"topic": "city_news", "audience": "filtered", "districts": [str(largest_district)]}}),
        ("audience_district_age", "live audience size: district × 65+", size_path,
         {"post": {"topic": "city_news", "audience": "filtered", "districts": [str(largest_district)],
                   "age_bands": ["65+"]}}),
        ("miniapps", "mini-app catalog", "/console/miniapps/", {}),
    ]
    rows = []
    for name, label, path, overrides in pages:
        post = overrides.pop("post", None)
        with override_settings(**overrides):
            figures = _measure(client, path, requests, post=post)
        _log(ctx, f"{label}: median {figures['median_ms']:.1f} ms, {figures['queries']} queries")
        rows.append({"name": name, "label": label, **figures})

    if os.environ.get("BENCH_CONSOLE_DROP") == "1":
        from tenants.models import Municipality

        connection.set_schema_to_public()
        for municipality in Municipality.objects.filter(schema_name=SCHEMA):
            municipality.domains.all().delete()
            municipality.delete(force_drop=True)

    return {
        "parameters": {"residents": facts["residents"], "districts": facts["districts"],
                       "audit_events": facts["audit_events"], "requests_per_page": requests,
                       "generated_s": facts["generated_seconds"] or "kept from an earlier run"},
        "tables": [{
            "title": "Console server time per page (in process: middleware + view + queries + template)",
            "baseline": "home",
            "columns": [
                {"key": "median_ms", "label": "median ms", "better": "lower", "decimals": 1},
                {"key": "p90_ms", "label": "p90 ms", "better": "lower", "decimals": 1},
                {"key": "max_ms", "label": "max ms", "better": "lower", "decimals": 1},
                {"key": "queries", "label": "queries", "better": "lower", "decimals": 0, "ratio": False},
            ],
            "rows": rows,
        }],
        "notes": [
            "The target is under 200 ms server time per console page with a city's data.",
            "The dashboard's resident figures come from one GROUP BY (district, birth year) over all "
            "residents; in production it is reused for CONSOLE_DASHBOARD_CACHE_SECONDS (60 s), so at most "
            "one request a minute per municipality pays for it (the 'computed every time' row).",
            "Mini-app usage (1M events), devices and citizen IDs are not in the dashboard yet: their apps "
            "add widgets through admin_console.dashboard when they land, and this scenario measures them then.",
        ],
    }


def _today() -> str:
    from django.utils import timezone

    return timezone.localdate().isoformat()


def _month_ago() -> str:
    from django.utils import timezone

    return (timezone.localdate() - timedelta(days=30)).isoformat()


def _main() -> None:
    """Runs this scenario alone, without bench/run.py: prints the figures, writes the result file."""
    result = run(object())
    table = result["tables"][0]
    base = next(row for row in table["rows"] if row["name"] == table["baseline"])
    print(f"\n== {NAME}: {DESCRIPTION}\n   parameters: {result['parameters']}\n\n  {table['title']}")
    for row in table["rows"]:
        print(f"  {row['label']:<48} median {row['median_ms']:7.1f} ms (×{row['median_ms'] / base['median_ms']:.2f})"
              f"  p90 {row['p90_ms']:7.1f} ms  max {row['max_ms']:7.1f} ms  {row['queries']} queries")
    for note in result["notes"]:
        print(f"  * {note}")
    results = REPO_ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{NAME}.json").write_text(json.dumps({"scenario": NAME, "description": DESCRIPTION, **result},
                                                     ensure_ascii=False, indent=2, default=str) + "\n")
    print(f"\n  written: bench/results/{NAME}.json")


if __name__ == "__main__":
    _main()
