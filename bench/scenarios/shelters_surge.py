"""Disaster surge: residents hammer the shelter list and active alerts while reception desks check
evacuees in, side by side with the plain-Django floor on the same gunicorn configuration.

Rows: (a) floor — constant JSON, plain Django, no database; (b) GET /api/v1/shelters/; (c) GET
/api/v1/alerts/active/. During (b) and (c), a background client posts check-ins to the same server
(each one invalidates the cached list). Then check-in throughput on its own.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from bench import lib

NAME = "shelters_surge"
DESCRIPTION = ("GET /api/v1/shelters/ and /api/v1/alerts/active/ under 200 connections with check-ins arriving, "
               "beside the plain-Django floor; check-in throughput")

FLOOR_APP = "bench.floor.wsgi:application"
PROJECT_APP = "superapp.wsgi:application"
SAGA_CODE = "412015"
CAP_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>bench-{n}</identifier>
<sender>bench@saga.example</sender><sent>2026-07-10T16:49:00+09:00</sent><status>Exercise</status>
<msgType>Alert</msgType><scope>Public</scope><info><category>Met</category><event>洪水警報</event>
<urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>
<headline>【訓練】避難指示</headline><area><areaDesc>嘉瀬</areaDesc></area></info></alert>"""


def _prepare(host_label: str = "saga") -> dict:
    """Saga with the demo shelters, a flood with six shelters open and two exercise alerts; a
    reception token. Leaves everything it made closed again at the end (see _cleanup)."""
    from accounts.models import User
    from accounts.roles import Role
    from accounts.services import staff_create, staff_token_issue
    from shelters.models import Shelter
    from shelters.services import alert_receive, disaster_open, shelter_open, shelters_import
    from tenants.demo.data import DEMO_PASSWORD
    from tenants.models import Domain
    from tenants.services import municipality_onboard

    host = f"{host_label}.{settings.PLATFORM_DOMAIN}"
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    municipality = domain.tenant if domain else municipality_onboard(
        code=SAGA_CODE, name="佐賀市", domain=host, admin_email="admin@saga.example",
        admin_password=DEMO_PASSWORD).municipality
    with schema_context(municipality.schema_name):
        csv_path = Path(settings.BASE_DIR) / "shelters" / "demo" / "saga_shelters.csv"
        shelters_import(data=csv_path.read_bytes())
        staff = User.objects.filter(username="bench-reception@saga.example").first() or staff_create(
            username="bench-reception@saga.example", password="bench-pass-2026!", roles=[Role.SHELTER_STAFF,
                                                                                      Role.DISASTER_STAFF])
        disaster = disaster_open(name="ベンチマーク用豪雨", type="flood", acting_user=staff)
        shelters = list(Shelter.objects.order_by("id")[:6])
        for shelter in shelters:
            shelter_open(disaster=disaster, shelter=shelter, acting_user=staff)
        run = uuid.uuid4().hex[:8]
        for n in range(2):
            alert_receive(document=CAP_TEMPLATE.format(n=f"{run}-{n}").encode(), acting_user=staff)
        token = staff_token_issue(user=staff, client_ip="127.0.0.1").raw
    connection.set_schema_to_public()
    return {"host": host, "schema": municipality.schema_name, "disaster_id": disaster.pk,
            "shelter_ids": [s.pk for s in shelters], "token": token}


def _cleanup(state: dict) -> None:
    from accounts.models import User
    from shelters.models import Disaster
    from shelters.services import disaster_close

    with schema_context(state["schema"]):
        staff = User.objects.get(username="bench-reception@saga.example")
        disaster = Disaster.objects.get(pk=state["disaster_id"])
        if disaster.closed_at is None:
            disaster_close(disaster=disaster, acting_user=staff)
    connection.set_schema_to_public()


class CheckInTraffic(threading.Thread):
    """Posts check-ins (manual entries, one Idempotency-Key each) round-robin over the open shelters
    at up to `rate` per second until stopped; counts successes and errors."""

    def __init__(self, port: int, state: dict, rate: float):
        super().__init__(daemon=True)
        self.port, self.state, self.rate = port, state, rate
        self.stop_event = threading.Event()
        self.ok = 0
        self.errors: dict[str, int] = {}
        self.latencies: list[float] = []

    def post_one(self, conn: http.client.HTTPConnection, n: int) -> None:
        shelter_id = self.state["shelter_ids"][n % len(self.state["shelter_ids"])]
        body = json.dumps({"person": {"name": f"ベンチ避難者{n}", "birth_date": "1960-01-01", "sex": "female"}})
        started = time.perf_counter()
        conn.request("POST", f"/api/v1/staff/shelters/{shelter_id}/check-ins/", body=body, headers={
            "Host": self.state["host"], "Authorization": f"Bearer {self.state['token']}",
            "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex})
        response = conn.getresponse()
        response.read()
        self.latencies.append(time.perf_counter() - started)
        if response.status in (200, 201):
            self.ok += 1
        else:
            self.errors[str(response.status)] = self.errors.get(str(response.status), 0) + 1

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        n = 0
        interval = 1.0 / self.rate if self.rate else 0
        next_at = time.perf_counter()
        while not self.stop_event.is_set():
            try:
                self.post_one(conn, n)
            except (OSError, http.client.HTTPException) as exc:
                self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            n += 1
            next_at += interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                self.stop_event.wait(delay)


def _check_in_throughput(port: int, state: dict, *, total: int, concurrency: int) -> dict:
    workers = [CheckInTraffic(port, state, rate=0) for _ in range(concurrency)]
    per_worker = total // concurrency
    started = time.perf_counter()

    def drive(worker: CheckInTraffic, offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for n in range(per_worker):
            try:
                worker.post_one(conn, offset + n)
            except (OSError, http.client.HTTPException) as exc:
                worker.errors[type(exc).__name__] = worker.errors.get(type(exc).__name__, 0) + 1
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    threads = [threading.Thread(target=drive, args=(w, i * 1_000_000)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies = sorted(x for w in workers for x in w.latencies)
    errors: dict[str, int] = {}
    for worker in workers:
        for key, value in worker.errors.items():
            errors[key] = errors.get(key, 0) + value
    ok = sum(w.ok for w in workers)
    return {"check_ins": ok, "seconds": elapsed, "per_s": ok / elapsed if elapsed else 0.0,
            "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else None,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else None, "errors": errors}


def _service_throughput(state: dict, *, total: int) -> dict:
    """The floor for check-ins: the same service called in-process, no HTTP, one transaction each."""
    from accounts.models import User
    from shelters.models import Shelter
    from shelters.services import Evacuee, shelter_check_in

    with schema_context(state["schema"]):
        staff = User.objects.get(username="bench-reception@saga.example")
        shelters = list(Shelter.objects.filter(pk__in=state["shelter_ids"]))
        started = time.perf_counter()
        for n in range(total):
            shelter_check_in(shelter=shelters[n % len(shelters)], acting_user=staff,
                             evacuees=[Evacuee(name=f"直接{n}", birth_date=None, sex="male")])
        elapsed = time.perf_counter() - started
    connection.set_schema_to_public()
    return {"check_ins": total, "seconds": elapsed, "per_s": total / elapsed, "p50_ms": None, "p99_ms": None}


def run(ctx: lib.Context) -> dict:
    state = _prepare()
    seconds = ctx.env_int("BENCH_SURGE_SECONDS", 20)
    connections = ctx.env_int("BENCH_SURGE_CONNECTIONS", 200)
    check_in_rate = ctx.env_int("BENCH_SURGE_CHECKINS_PER_S", 20)
    workers, threads = ctx.workers, ctx.env_int("BENCH_SURGE_THREADS", 4)
    rows, during = [], {}
    try:
        with contextlib.ExitStack() as stack:
            floor = stack.enter_context(lib.gunicorn(
                FLOOR_APP, workers=workers, threads=threads, ready_path="/floor/", host=state["host"],
                env={"DJANGO_SETTINGS_MODULE": "bench.floor.settings", "BENCH_FLOOR_MIDDLEWARE": "none"}))
            app = stack.enter_context(lib.gunicorn(
                PROJECT_APP, workers=workers, threads=threads, ready_path="/api/v1/shelters/", host=state["host"],
                env={"DJANGO_SETTINGS_MODULE": "superapp.settings"}))
            ctx.log(f"floor on {floor.port}, project on {app.port}: {workers} workers × {threads} threads; "
                    f"wrk {connections} connections × {seconds} s per row")
            cases = [("floor", "(a) floor: constant JSON, plain Django", floor.port, "/floor/", False),
                     ("shelters", "(b) GET /api/v1/shelters/ + check-ins", app.port, "/api/v1/shelters/", True),
                     ("alerts", "(c) GET /api/v1/alerts/active/ + check-ins", app.port, "/api/v1/alerts/active/", True)]
            for name, label, port, path, with_check_ins in cases:
                traffic = CheckInTraffic(app.port, state, check_in_rate) if with_check_ins else None
                if traffic:
                    traffic.start()
                try:
                    result = lib.wrk(port, path, host=state["host"], seconds=seconds, threads=ctx.wrk_threads,
                                     connections=connections, warmup_seconds=ctx.warmup_seconds)
                finally:
                    if traffic:
                        traffic.stop_event.set()
                        traffic.join(15)
                ctx.log(f"{label}: {result.requests_per_s:,.0f} req/s, p99 {result.p99_ms:.1f} ms, "
                        f"errors {result.errors}" + (f"; check-ins ok {traffic.ok}, errors {traffic.errors}"
                                                     if traffic else ""))
                rows.append({"name": name, "label": label, "rps": result.requests_per_s, "p50_ms": result.p50_ms,
                             "p99_ms": result.p99_ms, "errors": result.error_count,
                             "check_ins_during": traffic.ok if traffic else None,
                             "check_in_errors": sum(traffic.errors.values()) if traffic else None})
            throughput = _check_in_throughput(app.port, state, total=ctx.env_int("BENCH_CHECKINS", 1000),
                                              concurrency=ctx.env_int("BENCH_CHECKIN_CONCURRENCY", 8))
            ctx.log(f"check-in throughput: {throughput['per_s']:,.0f}/s, errors {throughput['errors']}")
            direct = _service_throughput(state, total=ctx.env_int("BENCH_CHECKINS", 1000) // 4)
            ctx.log(f"service in-process: {direct['per_s']:,.0f}/s")
    finally:
        _cleanup(state)
    return {
        "parameters": {"gunicorn": f"{workers} workers × {threads} threads (gthread)", "wrk_connections": connections,
                       "seconds": seconds, "check_ins_per_s_during_reads": check_in_rate,
                       "open_shelters": len(state["shelter_ids"])},
        "tables": [
            {"title": "Disaster surge: reads with check-ins arriving (same gunicorn configuration)",
             "baseline": "floor",
             "columns": [{"key": "rps", "label": "requests/s", "better": "higher", "decimals": 0},
                         {"key": "p50_ms", "label": "p50 ms", "better": "lower", "decimals": 1},
                         {"key": "p99_ms", "label": "p99 ms", "better": "lower", "decimals": 1},
                         {"key": "errors", "label": "errors", "decimals": 0, "ratio": False},
                         {"key": "check_ins_during", "label": "check-ins done", "decimals": 0, "ratio": False},
                         {"key": "check_in_errors", "label": "check-in errors", "decimals": 0, "ratio": False}],
             "rows": rows},
            {"title": "Check-in throughput (manual entries, one household each, Idempotency-Key each)",
             "baseline": "service",
             "columns": [{"key": "per_s", "label": "check-ins/s", "better": "higher", "decimals": 0},
                         {"key": "p50_ms", "label": "p50 ms", "better": "lower", "decimals": 1},
                         {"key": "p99_ms", "label": "p99 ms", "better": "lower", "decimals": 1},
                         {"key": "check_ins", "label": "done", "decimals": 0, "ratio": False}],
             "rows": [{"name": "service", "label": "shelter_check_in() in-process, one client", **direct},
                      {"name": "check_in", "label": f"POST .../check-ins/ over HTTP, {ctx.env_int('BENCH_CHECKIN_CONCURRENCY', 8)} clients",
                       **throughput, "errors": sum(throughput["errors"].values())}]},
        ],
        "notes": [
            "Target: (b) and (c) at ≥ 0.8× the floor's requests/s with zero errors. Both are served from a "
            "per-municipality pre-rendered payload, so a warm request makes no database query; each check-in "
            "bumps a version after commit and one reader rebuilds the payload (3 queries) while the others "
            "keep serving the previous copy.",
            "Check-ins during the reads come from one client at the configured rate, on the same server.",
            f"BENCH_SURGE_SECONDS (default 20; the issue's figure is 60), BENCH_SURGE_CONNECTIONS ({connections}), "
            "BENCH_SURGE_CHECKINS_PER_S, BENCH_CHECKINS, BENCH_CHECKIN_CONCURRENCY change the load.",
        ],
    }
