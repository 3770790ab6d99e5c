"""Disaster surge: residents hammer the shelter list and the active alerts while reception desks check
evacuees in by citizen-ID QR, side by side with the plain-Django floor on the same gunicorn configuration.

Table 1, the issue's surge (BENCH_SURGE_CONNECTIONS, default 200): (a) the floor — constant JSON, plain
Django, no database; (b) GET /api/v1/shelters/; (c) GET /api/v1/alerts/active/, in interleaved rounds;
(b0) is (b) without check-ins, to tell the read path's own cost from the check-ins' share of the CPU.
During (b) and (c) reception desks (BENCH_SURGE_DESKS clients) check evacuees in by QR at a steady
rate in all on the same server (each check-in invalidates both cached payloads).
Table 2, QR check-in throughput: wrk POSTs a never-used citizen-ID QR per request (each from a different
enrolled citizen, one Idempotency-Key each), alone and while residents poll the list and the alerts,
beside the floor at the same connection count. Every check-in is counted again in the database.
Table 3: the same QR check-in in process (no HTTP, one client) against over HTTP.

Bench data, in the bench's own municipality (schema bench_surge, prefecture 99, Saga's demo shelters;
dropped at the end unless BENCH_KEEP=1): BENCH_SURGE_CITIZENS enrolled citizen IDs (resident accounts
with sealed 基本4情報), built as rows directly rather than through the JPKI enrolment (an RSA signature
check per card). Every load run checks into freshly reopened shelters, so the same citizens serve
every run and nobody is "already checked in".
"""
from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import random
import secrets
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from bench import lib

NAME = "shelters_surge"
DESCRIPTION = ("GET /api/v1/shelters/ and /api/v1/alerts/active/ under 200 connections with QR check-ins arriving, "
               "beside the plain-Django floor; QR check-in throughput over HTTP (wrk) with residents polling")

FLOOR_APP = "bench.floor.wsgi:application"
PROJECT_APP = "superapp.wsgi:application"
SCHEMA = "bench_surge"
DOMAIN = f"bench-surge.{settings.PLATFORM_DOMAIN}"
WRK_SCRIPT = Path(__file__).resolve().parent.parent / "shelters_surge.lua"
STAFF_USERNAME = "bench-reception@bench-surge.example"
EVACUEE_PREFIX = "bench-evacuee-"
TOKEN_TTL = 3600  # the QR tokens are made before the run and must outlive it; the server gets the same setting
LIST_PATH, ALERTS_PATH = "/api/v1/shelters/", "/api/v1/alerts/active/"
CAP_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>bench-{n}</identifier>
<sender>bench@bench-surge.example</sender><sent>2026-07-10T16:49:00+09:00</sent><status>Exercise</status>
<msgType>Alert</msgType><scope>Public</scope><info><category>Met</category><event>洪水警報</event>
<urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>
<headline>【訓練】避難指示</headline><area><areaDesc>嘉瀬</areaDesc></area></info></alert>"""
CAP_CANCEL_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>bench-cancel-{n}</identifier>
<sender>bench@bench-surge.example</sender><sent>2026-07-10T18:00:00+09:00</sent><status>Exercise</status>
<msgType>Cancel</msgType><scope>Public</scope><references>{references}</references></alert>"""
FAMILY_NAMES = ["佐賀", "鍋島", "江藤", "大隈", "副島", "中島", "山口", "古賀", "池田", "松尾", "田中", "原", "陣内", "執行"]
GIVEN_NAMES = [("花子", 2), ("太郎", 1), ("陽菜", 2), ("翔", 1), ("さくら", 2), ("健一", 1), ("美咲", 2), ("大輔", 1),
               ("千代", 2), ("正男", 1), ("結衣", 2), ("蓮", 1)]
TOWNS = ["栄町", "松原四丁目", "東佐賀町", "兵庫町", "鍋島町", "嘉瀬町", "本庄町", "神野東二丁目", "高木瀬町", "諸富町"]


# --- Fixtures -------------------------------------------------------------------------------------
def _code() -> str:
    """A 全国地方公共団体コード no real municipality has (prefecture 99) and no other tenant uses."""
    from tenants.models import Municipality
    from tenants.validators import lg_code_check_digit

    used = set(Municipality.objects.filter(code__startswith="99").values_list("code", flat=True))
    for number in range(800, 1000):
        first_five = f"99{number:03d}"
        code = f"{first_five}{lg_code_check_digit(first_five)}"
        if code not in used:
            return code
    raise lib.BenchError("no free bench municipality code left in 99800-99999")


def _municipality():
    """The bench's own municipality (schema bench_surge, prefecture 99): ten thousand bench residents
    stay out of Saga's figures. Made on first use, dropped at the end unless BENCH_KEEP=1."""
    from django.core.management import call_command

    from tenants.models import Municipality
    from tenants.services import municipality_onboard

    existing = Municipality.objects.filter(schema_name=SCHEMA).first()
    if existing is not None:
        if not lib.schema_is_current(SCHEMA):
            call_command("migrate_schemas", tenant=True, schema_name=SCHEMA, interactive=False, verbosity=0)
        return existing
    return municipality_onboard(code=_code(), name="ベンチ市", name_en="Bench City", domain=DOMAIN,
                                admin_email="admin@bench-surge.example", admin_password=secrets.token_urlsafe(24),
                                prefecture="ベンチ県", schema_name=SCHEMA).municipality


def _drop() -> None:
    from tenants.models import Municipality

    connection.set_schema_to_public()
    for municipality in Municipality.objects.filter(schema_name=SCHEMA):
        municipality.delete(force_drop=True)


def _prepare() -> dict:
    """The bench municipality with Saga's demo shelters, a flood with six shelters open and two
    exercise alerts; a reception token. Leaves everything it made closed again at the end (see
    _cleanup)."""
    from accounts.models import User
    from accounts.roles import Role
    from accounts.services import staff_create, staff_token_issue
    from shelters.models import Shelter
    from shelters.services import alert_receive, disaster_open, shelter_open, shelters_import

    municipality = _municipality()
    host = DOMAIN
    with schema_context(municipality.schema_name):
        csv_path = Path(settings.BASE_DIR) / "shelters" / "demo" / "saga_shelters.csv"
        shelters_import(data=csv_path.read_bytes())
        staff = User.objects.filter(username=STAFF_USERNAME).first() or staff_create(
            username=STAFF_USERNAME, password=secrets.token_urlsafe(16), roles=[Role.SHELTER_STAFF,
                                                                                Role.DISASTER_STAFF])
        _cancel_bench_alerts(staff)  # left active by an interrupted run: same payload size every run
        disaster = disaster_open(name="ベンチマーク用豪雨", type="flood", acting_user=staff)
        shelters = list(Shelter.objects.order_by("id")[:6])
        for shelter in shelters:
            shelter_open(disaster=disaster, shelter=shelter, acting_user=staff)
        run = uuid.uuid4().hex[:8]
        for n in range(2):
            alert_receive(document=CAP_TEMPLATE.format(n=f"{run}-{n}").encode(), acting_user=staff)
        token = staff_token_issue(user=staff, client_ip="127.0.0.1").raw
    connection.set_schema_to_public()
    return {"host": host, "schema": municipality.schema_name, "code": municipality.code,
            "disaster_id": disaster.pk, "shelter_ids": [s.pk for s in shelters], "token": token}


def _reopen(state: dict) -> None:
    """Closes and reopens the bench shelters: the next load run checks into empty shelters."""
    from accounts.models import User
    from shelters.models import Disaster, Shelter
    from shelters.services import shelter_close, shelter_open

    with schema_context(state["schema"]):
        staff = User.objects.get(username=STAFF_USERNAME)
        disaster = Disaster.objects.get(pk=state["disaster_id"])
        for shelter in Shelter.objects.filter(pk__in=state["shelter_ids"]).order_by("id"):
            shelter_close(disaster=disaster, shelter=shelter, acting_user=staff)
            shelter_open(disaster=disaster, shelter=shelter, acting_user=staff)
    connection.set_schema_to_public()


def _checked_in(state: dict) -> dict:
    """QR check-ins in the currently open bench shelters, and how many distinct citizens they are."""
    from django.db.models import Count, Q

    from shelters.models import CheckIn

    with schema_context(state["schema"]):
        figures = CheckIn.objects.filter(opening__disaster_id=state["disaster_id"], opening__closed_at__isnull=True,
                                         source=CheckIn.Source.QR).aggregate(
            rows=Count("id"), citizens=Count("citizen_ref", distinct=True),
            flagged=Count("id", filter=Q(possible_duplicate_of__isnull=False)))
    connection.set_schema_to_public()
    return figures


def _cancel_bench_alerts(staff) -> None:
    """Withdraws the bench's exercise alerts still active, with a CAP Cancel as an integration would."""
    from shelters.models import Alert
    from shelters.services import alert_receive

    active = list(Alert.objects.filter(is_active=True, identifier__startswith="bench-",
                                       sender="bench@bench-surge.example"))
    if active:
        references = " ".join(f"{a.sender},{a.identifier},{a.sent.isoformat()}" for a in active)
        alert_receive(document=CAP_CANCEL_TEMPLATE.format(n=uuid.uuid4().hex[:12], references=references).encode(),
                      acting_user=staff)


def _cleanup(state: dict) -> None:
    from accounts.models import User
    from shelters.models import Disaster
    from shelters.services import disaster_close

    with schema_context(state["schema"]):
        staff = User.objects.get(username=STAFF_USERNAME)
        disaster = Disaster.objects.get(pk=state["disaster_id"])
        if disaster.closed_at is None:
            disaster_close(disaster=disaster, acting_user=staff)
        _cancel_bench_alerts(staff)
    connection.set_schema_to_public()


def _birth_era(born: dt.date) -> str:
    for start, digit in ((dt.date(2019, 5, 1), "5"), (dt.date(1989, 1, 8), "4"), (dt.date(1926, 12, 25), "3")):
        if born >= start:
            return digit
    return "2"


def _ensure_citizens(schema: str, wanted: int) -> tuple[list[str], int, float]:
    """`wanted` active citizen IDs of bench residents; the missing ones are built as rows (bulk
    inserts, 基本4情報 sealed exactly as enrolment seals them). Returns (references, built, seconds)."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import User
    from citizen_id import qr
    from citizen_id import services as citizen_services
    from citizen_id.jpki.profile import BasicInfo
    from citizen_id.models import CitizenId

    with schema_context(schema):
        references = list(CitizenId.objects.filter(status=CitizenId.Status.ACTIVE,
                                                   user__username__startswith=EVACUEE_PREFIX)
                          .order_by("id").values_list("reference", flat=True)[:wanted])
        missing = wanted - len(references)
        with lib.Timer() as timer:
            if missing > 0:
                rng = random.Random(len(references))
                batch = secrets.token_hex(4)
                now = timezone.now()
                with transaction.atomic():
                    users = User.objects.bulk_create([
                        User(username=f"{EVACUEE_PREFIX}{batch}-{i}", kind=User.Kind.RESIDENT, nickname="ベンチ避難者",
                             password=make_password(None), date_joined=now) for i in range(missing)], batch_size=2000)
                    citizens = []
                    for user in users:
                        given, sex = rng.choice(GIVEN_NAMES)
                        born = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(365 * 94))
                        citizen = CitizenId(reference=qr.reference_from_bytes(secrets.token_bytes(10)), user=user,
                                            status=CitizenId.Status.ACTIVE, verified_at=now,
                                            card_issuer_key_id="bench", card_not_after=now + dt.timedelta(days=5 * 365))
                        citizen_services._seal_info(citizen, BasicInfo(
                            name=f"{rng.choice(FAMILY_NAMES)} {given}",
                            address=f"佐賀県佐賀市{rng.choice(TOWNS)}{rng.randint(1, 30)}番{rng.randint(1, 20)}号",
                            birth_date=born, birth_era=_birth_era(born), sex=sex))
                        citizens.append(citizen)
                    CitizenId.objects.bulk_create(citizens, batch_size=2000)
                references += [c.reference for c in citizens]
    connection.set_schema_to_public()
    return references, max(missing, 0), timer.seconds


def _qr_tokens(state: dict, references: list[str]) -> list[str]:
    """A fresh app QR per citizen, signed with the municipality's current key, as the app shows it."""
    from citizen_id import qr, signing

    with schema_context(state["schema"]):
        key = signing.signing_key()
    connection.set_schema_to_public()
    now = int(time.time())
    return [qr.encode(qr.QrClaims(prefix=qr.APP_PREFIX, kid=key.kid, municipality_code=state["code"],
                                  reference=reference, iat=now, exp=now + TOKEN_TTL, nonce=secrets.token_hex(8)),
                      key.private_key) for reference in references]


def _check_in_requests(state: dict, references: list[str]) -> list[tuple[int, str, str]]:
    """(shelter id, Idempotency-Key, QR token) per evacuee, shelters in turn."""
    shelters = state["shelter_ids"]
    return [(shelters[n % len(shelters)], uuid.uuid4().hex, token)
            for n, token in enumerate(_qr_tokens(state, references))]


# --- Load -----------------------------------------------------------------------------------------
class CheckInTraffic:
    """Reception desks posting QR check-ins, `rate` per second in all, until stopped or out of
    evacuees. Several desks work in parallel (each its own connection, rate ÷ desks), so the rate
    holds even when one check-in takes longer than 1 ÷ rate under load. Counts successes and errors."""

    def __init__(self, port: int, state: dict, items: list[tuple[int, str, str]], rate: float, desks: int):
        self.port, self.state, self.rate = port, state, rate
        self.stop_event = threading.Event()
        self.ok = 0
        self.retried = 0
        self.errors: dict[str, int] = {}
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._desk, args=(items[n::desks], rate / desks), daemon=True)
                         for n in range(desks)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self._threads:
            thread.join(15)

    def _count_error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    def _post(self, conn: http.client.HTTPConnection, item: tuple[int, str, str]) -> None:
        shelter_id, key, token = item
        conn.request("POST", f"/api/v1/staff/shelters/{shelter_id}/check-ins/",
                     body=json.dumps({"qr_token": token}), headers={
                         "Host": self.state["host"], "Authorization": f"Bearer {self.state['token']}",
                         "Content-Type": "application/json", "Idempotency-Key": key})
        response = conn.getresponse()
        body = response.read()
        if response.status in (200, 201):
            with self._lock:
                self.ok += 1
            return
        code = str(response.status)
        with contextlib.suppress(ValueError, KeyError, TypeError):
            code += " " + json.loads(body)["error"]["code"]
        self._count_error(code)

    def _desk(self, items: list[tuple[int, str, str]], rate: float) -> None:
        conn = http.client.HTTPConnection(lib.LOOPBACK, self.port, timeout=10)
        interval = 1.0 / rate
        next_at = time.perf_counter()
        for item in items:
            if self.stop_event.is_set():
                break
            for attempt in (1, 2):
                try:
                    self._post(conn, item)
                    break
                except (OSError, http.client.HTTPException) as exc:
                    # A keep-alive connection the server closed while the desk was idle (gunicorn's
                    # keepalive is 2 s): retry once on a new one with the same Idempotency-Key, as a
                    # client should; the server answers a retry of a processed request from its record.
                    conn.close()
                    conn = http.client.HTTPConnection(lib.LOOPBACK, self.port, timeout=10)
                    if attempt == 2:
                        self._count_error(type(exc).__name__)
                    else:
                        with self._lock:
                            self.retried += 1
            next_at += interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                self.stop_event.wait(delay)
        else:
            self._count_error("ran out of evacuees")
        conn.close()


def _check_in_env(workdir: Path, state: dict, items: list[tuple[int, str, str]], threads: int) -> dict[str, str]:
    path = workdir / f"check-ins-{uuid.uuid4().hex[:8]}.txt"
    path.write_text("".join(f"{shelter} {key} {token}\n" for shelter, key, token in items))
    return {"BENCH_SURGE_MODE": "checkin", "BENCH_SURGE_FILE": str(path), "BENCH_SURGE_THREADS": str(threads),
            "BENCH_SURGE_AUTH": f"Bearer {state['token']}"}


def _service_throughput(state: dict, references: list[str]) -> dict:
    """The QR check-in without HTTP: the scan (signature, single use, lookup, decrypt, audit) and the
    check-in service, one transaction each, one client."""
    from accounts.models import User
    from shelters.citizen import evacuee_from_qr
    from shelters.models import Shelter
    from shelters.services import shelter_check_in
    from tenants.models import Municipality

    tokens = _qr_tokens(state, references)
    with schema_context(state["schema"]):
        connection.tenant = Municipality.objects.get(schema_name=state["schema"])  # as the middleware leaves it
        staff = User.objects.get(username=STAFF_USERNAME)
        shelters = list(Shelter.objects.filter(pk__in=state["shelter_ids"]).order_by("id"))
        latencies = []
        started = time.perf_counter()
        for n, token in enumerate(tokens):
            began = time.perf_counter()
            shelter_check_in(shelter=shelters[n % len(shelters)], acting_user=staff,
                             evacuees=[evacuee_from_qr(token=token, acting_user=staff)])
            latencies.append(time.perf_counter() - began)
        elapsed = time.perf_counter() - started
    connection.set_schema_to_public()
    latencies.sort()
    return {"rps": len(tokens) / elapsed, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000, "requests": len(tokens), "errors": 0}


class CpuMeter:
    """CPU used by a gunicorn server (master and workers) and by the PostgreSQL backends serving this
    database while a block runs: what a request costs, whatever else shares the machine."""

    def __init__(self, server: lib.Server | None):
        self.server = server

    @staticmethod
    def _backend_pids() -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid()")
            return [row[0] for row in cursor.fetchall()]

    @staticmethod
    def _pid_cpu(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0  # not on this machine, or gone
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def __enter__(self) -> CpuMeter:
        self.pids = set(self._backend_pids())
        self.db_before = {pid: self._pid_cpu(pid) for pid in self.pids}
        self.app_before = self.server.cpu_seconds() if self.server else 0.0
        return self

    def __exit__(self, *exc_info) -> None:
        self.app_seconds = (self.server.cpu_seconds() - self.app_before) if self.server else 0.0
        pids = self.pids | set(self._backend_pids())
        self.db_seconds = sum(self._pid_cpu(pid) - self.db_before.get(pid, 0.0) for pid in pids)


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _row(name: str, label: str, results: list[lib.WrkResult], cpu: list[tuple[float, float]] | None = None,
         **extra) -> dict:
    """Median figures over the rounds; `cpu` is (server, database) CPU seconds per round."""
    figures = lib.combine(results)
    row = {"name": name, "label": label, **figures, "errors": sum(figures["errors"].values()),
           "error_kinds": figures["errors"], **extra}
    if cpu:
        row["app_cpu_us"] = statistics.median(app / r.requests * 1e6 for (app, _db), r in zip(cpu, results))
        row["db_cpu_us"] = statistics.median(db / r.requests * 1e6 for (_app, db), r in zip(cpu, results))
    return row


def run(ctx: lib.Context) -> dict:
    settings.CITIZEN_ID_QR_TTL_SECONDS = TOKEN_TTL  # for the in-process rows; the server gets it below
    seconds = ctx.env_int("BENCH_SURGE_SECONDS", 20)
    connections = ctx.env_int("BENCH_SURGE_CONNECTIONS", 200)
    arrival_rate = ctx.env_int("BENCH_SURGE_CHECKINS_PER_S", 20)
    desks = ctx.env_int("BENCH_SURGE_DESKS", 10)
    rounds = ctx.env_int("BENCH_SURGE_ROUNDS", ctx.rounds)
    qr_seconds = ctx.env_int("BENCH_QR_SECONDS", 10)
    qr_connections = ctx.env_int("BENCH_QR_CONNECTIONS", 16)
    poll_connections = ctx.env_int("BENCH_QR_POLL_CONNECTIONS", connections)
    citizens_wanted = ctx.env_int("BENCH_SURGE_CITIZENS", 10000)
    service_n = ctx.env_int("BENCH_QR_SERVICE_CHECKINS", 500)
    workers, threads = ctx.workers, ctx.env_int("BENCH_SURGE_THREADS", 4)
    wrk_threads = ctx.wrk_threads

    state = _prepare()
    references, built, build_seconds = _ensure_citizens(state["schema"], citizens_wanted)
    ctx.log(f"{len(references):,} enrolled bench citizens ({built:,} built now in {build_seconds:.1f} s)")
    arrivals_needed = arrival_rate * (seconds + 5)
    if arrivals_needed > len(references):
        raise lib.BenchError(f"{arrivals_needed} arrivals need as many citizens: raise BENCH_SURGE_CITIZENS")
    workdir = Path(tempfile.mkdtemp(prefix="bench-surge-"))
    server_env = {"DJANGO_SETTINGS_MODULE": "superapp.settings", "CITIZEN_ID_QR_TTL_SECONDS": str(TOKEN_TTL)}
    surge: dict[str, list[lib.WrkResult]] = {"floor": [], "shelters_quiet": [], "shelters": [], "alerts": []}
    surge_cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in surge}
    arrivals: dict[str, list[CheckInTraffic]] = {"shelters": [], "alerts": []}
    qr: dict[str, list[lib.WrkResult]] = {"floor": [], "qr": [], "qr_polled": [], "polling": []}
    qr_cpu: dict[str, list[tuple[float, float]]] = {"floor": [], "qr": []}
    created: dict[str, list[dict]] = {"qr": [], "qr_polled": []}
    try:
        with contextlib.ExitStack() as stack:
            floor = stack.enter_context(lib.gunicorn(
                FLOOR_APP, workers=workers, threads=threads, ready_path="/floor/", host=state["host"],
                env={"DJANGO_SETTINGS_MODULE": "bench.floor.settings", "BENCH_FLOOR_MIDDLEWARE": "none"}))
            app = stack.enter_context(lib.gunicorn(
                PROJECT_APP, workers=workers, threads=threads, ready_path=LIST_PATH, host=state["host"],
                env=server_env))
            ctx.log(f"floor on {floor.port}, project on {app.port}: {workers} workers × {threads} threads (gthread)")
            host = state["host"]
            paths = {"floor": (floor, "/floor/"), "shelters_quiet": (app, LIST_PATH), "shelters": (app, LIST_PATH),
                     "alerts": (app, ALERTS_PATH)}

            # Table 1: the surge, interleaved rounds; each warmed up once.
            for name, (server, path) in paths.items():
                lib.wrk(server.port, path, host=host, seconds=ctx.warmup_seconds, threads=wrk_threads,
                        connections=connections, warmup_seconds=0)
            ctx.log(f"surge: {rounds} rounds × {len(paths)} rows × {seconds} s, {connections} connections, "
                    f"QR check-ins at {arrival_rate}/s during (b) and (c)")
            for round_index in range(rounds):
                shift = round_index % len(paths)
                for name in list(paths)[shift:] + list(paths)[:shift]:
                    server, path = paths[name]
                    traffic = None
                    if name in arrivals:
                        _reopen(state)
                        traffic = CheckInTraffic(app.port, state, _check_in_requests(
                            state, references[:arrivals_needed]), arrival_rate, desks)
                        traffic.start()
                    try:
                        with CpuMeter(server) as cpu:
                            result = lib.wrk(server.port, path, host=host, seconds=seconds, threads=wrk_threads,
                                             connections=connections, warmup_seconds=0)
                    finally:
                        if traffic:
                            traffic.stop()
                            arrivals[name].append(traffic)
                    surge[name].append(result)
                    surge_cpu[name].append((cpu.app_seconds, cpu.db_seconds))
                    ctx.log(f"round {round_index + 1}/{rounds} {name}: {result.requests_per_s:,.0f} req/s, p50 "
                            f"{result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, errors {result.error_count}, "
                            f"server CPU {cpu.app_seconds / max(result.requests, 1) * 1e6:,.0f} µs/request"
                            + (f"; QR check-ins ok {traffic.ok}, errors {traffic.errors}, retried on a new "
                               f"connection {traffic.retried}" if traffic else ""))

            # Table 2: QR check-in throughput, alone and with residents polling, beside the floor.
            poll_env = {"BENCH_SURGE_MODE": "poll", "BENCH_SURGE_PATHS": f"{LIST_PATH},{ALERTS_PATH}"}
            _reopen(state)
            warm = _check_in_requests(state, references[:min(len(references), 2000)])
            lib.wrk(app.port, "/", host=host, seconds=ctx.warmup_seconds, threads=wrk_threads,
                    connections=qr_connections, warmup_seconds=0, script=WRK_SCRIPT,
                    env=_check_in_env(workdir, state, warm, wrk_threads))
            ctx.log(f"QR check-ins: {rounds} rounds × {qr_seconds} s, {qr_connections} connections; residents "
                    f"polling with {poll_connections} connections; {len(references):,} evacuees per run")
            cases = ["floor", "qr", "qr_polled"]
            for round_index in range(rounds):
                for name in cases[round_index % 3:] + cases[:round_index % 3]:
                    if name == "floor":
                        with CpuMeter(floor) as cpu:
                            result = lib.wrk(floor.port, "/floor/", host=host, seconds=qr_seconds,
                                             threads=wrk_threads, connections=qr_connections, warmup_seconds=0)
                        qr["floor"].append(result)
                        qr_cpu["floor"].append((cpu.app_seconds, cpu.db_seconds))
                        ctx.log(f"round {round_index + 1}/{rounds} floor ({qr_connections} connections): "
                                f"{result.requests_per_s:,.0f} req/s")
                        continue
                    _reopen(state)
                    items = _check_in_requests(state, references)
                    runs = {"qr": {"port": app.port, "path": "/", "host": host, "threads": wrk_threads,
                                   "connections": qr_connections, "script": WRK_SCRIPT,
                                   "env": _check_in_env(workdir, state, items, wrk_threads)}}
                    if name == "qr_polled":
                        runs["polling"] = {"port": app.port, "path": "/", "host": host, "threads": wrk_threads,
                                           "connections": poll_connections, "script": WRK_SCRIPT, "env": poll_env}
                    with CpuMeter(app) as cpu:
                        results = lib.wrk_together(runs, seconds=qr_seconds)
                    in_db = _checked_in(state)
                    check_ins = results["qr"]
                    if check_ins.requests > len(items):
                        raise lib.BenchError(f"wrk sent {check_ins.requests} check-ins with {len(items)} QR tokens: "
                                             "raise BENCH_SURGE_CITIZENS so that no QR is sent twice")
                    qr[name].append(check_ins)
                    created[name].append(in_db)
                    if name == "qr":
                        qr_cpu["qr"].append((cpu.app_seconds, cpu.db_seconds))
                    line = (f"round {round_index + 1}/{rounds} {name}: {check_ins.requests_per_s:,.0f} check-ins/s, "
                            f"p50 {check_ins.p50_ms:.1f} ms, p99 {check_ins.p99_ms:.1f} ms, errors "
                            f"{check_ins.error_count}; in the database {in_db['rows']} rows, "
                            f"{in_db['citizens']} citizens")
                    if name == "qr":
                        line += (f"; CPU per check-in: server {cpu.app_seconds / max(check_ins.requests, 1) * 1e3:.1f}"
                                 f" ms, PostgreSQL {cpu.db_seconds / max(check_ins.requests, 1) * 1e3:.1f} ms")
                    if "polling" in results:
                        qr["polling"].append(results["polling"])
                        line += (f"; polling {results['polling'].requests_per_s:,.0f} req/s, p99 "
                                 f"{results['polling'].p99_ms:.1f} ms, errors {results['polling'].error_count}")
                    ctx.log(line)
        _reopen(state)
        service = _service_throughput(state, references[:service_n])
        ctx.log(f"QR check-in in process: {service['rps']:,.0f}/s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        _cleanup(state)
        if not os.environ.get("BENCH_KEEP"):
            ctx.log(f"dropping {SCHEMA} (BENCH_KEEP=1 keeps it, and its citizens, for the next run)")
            _drop()

    def arrival_figures(name: str) -> dict:
        runs = arrivals[name]
        return {"check_ins_during": statistics.median(t.ok for t in runs),
                "check_in_errors": sum(sum(t.errors.values()) for t in runs),
                "check_in_retries": sum(t.retried for t in runs),
                "check_in_error_kinds": [t.errors for t in runs]}

    surge_rows = [
        _row("floor", "(a) floor: constant JSON, plain Django", surge["floor"], surge_cpu["floor"]),
        _row("shelters_quiet", "(b0) GET /api/v1/shelters/, no check-ins", surge["shelters_quiet"],
             surge_cpu["shelters_quiet"]),
        _row("shelters", "(b) GET /api/v1/shelters/ + QR check-ins", surge["shelters"], surge_cpu["shelters"],
             **arrival_figures("shelters")),
        _row("alerts", "(c) GET /api/v1/alerts/active/ + QR check-ins", surge["alerts"], surge_cpu["alerts"],
             **arrival_figures("alerts")),
    ]

    def db_figures(name: str) -> dict:
        runs = created[name]
        return {"created": statistics.median(r["rows"] for r in runs),
                "all_distinct": all(r["rows"] == r["citizens"] for r in runs),
                "flagged": sum(r["flagged"] for r in runs), "created_per_round": runs}

    qr_rows = [
        _row("floor", f"floor: constant JSON, plain Django ({qr_connections} connections)", qr["floor"],
             qr_cpu["floor"]),
        _row("qr", f"POST check-ins/ with a QR, {qr_connections} connections", qr["qr"], qr_cpu["qr"],
             **db_figures("qr")),
        _row("qr_polled", f"  same, while {poll_connections} residents poll list + alerts", qr["qr_polled"],
             **db_figures("qr_polled")),
        _row("polling", "  the residents' GETs meanwhile (list, alerts alternately)", qr["polling"]),
    ]
    for rows in (surge_rows, qr_rows):  # each round's rate ÷ the floor's in the same round, median over rounds
        floor_rounds = rows[0]["rounds"]
        for row in rows:
            row["round_ratio"] = statistics.median(
                mine["requests_per_s"] / base["requests_per_s"] for mine, base in zip(row["rounds"], floor_rounds))
    by_name = {row["name"]: row for row in qr_rows}
    surge_by_name = {row["name"]: row for row in surge_rows}
    errors_total = (sum(row["errors"] for row in surge_rows) + sum(row["errors"] for row in qr_rows)
                    + sum(row.get("check_in_errors") or 0 for row in surge_rows))
    distinct = all(by_name[n]["all_distinct"] for n in ("qr", "qr_polled"))
    per_check_in_ms = (by_name["qr"]["app_cpu_us"] + by_name["qr"]["db_cpu_us"]) / 1000
    cpus = os.cpu_count() or 1
    return {
        "parameters": {"gunicorn": f"{workers} workers × {threads} threads (gthread)", "surge_connections": connections,
                       "surge_seconds": seconds, "rounds": rounds, "qr_check_ins_per_s_during_surge": arrival_rate,
                       "reception_desks": desks,
                       "qr_seconds": qr_seconds, "qr_connections": qr_connections,
                       "poll_connections": poll_connections, "open_shelters": len(state["shelter_ids"]),
                       "citizens": len(references), "server_env": server_env,
                       "SHELTERS_PUBLIC_RECHECK_SECONDS": settings.SHELTERS_PUBLIC_RECHECK_SECONDS},
        "tables": [
            {"title": f"Disaster surge: reads at {connections} connections, QR check-ins arriving at {arrival_rate}/s "
                      "(same gunicorn configuration)",
             "baseline": "floor",
             "columns": [{"key": "rps", "label": "requests/s", "better": "higher", "decimals": 0},
                         {"key": "p50_ms", "label": "p50 ms", "better": "lower", "decimals": 1},
                         {"key": "p99_ms", "label": "p99 ms", "better": "lower", "decimals": 1},
                         {"key": "round_ratio", "label": "×floor per round", "decimals": 2, "ratio": False},
                         {"key": "app_cpu_us", "label": "server CPU µs/req", "better": "lower", "decimals": 0},
                         {"key": "errors", "label": "errors", "decimals": 0, "ratio": False},
                         {"key": "check_ins_during", "label": "check-ins ok", "decimals": 0, "ratio": False},
                         {"key": "check_in_errors", "label": "check-in errors", "decimals": 0, "ratio": False},
                         {"key": "check_in_retries", "label": "retries", "decimals": 0, "ratio": False},
                         {"key": "bytes_per_response", "label": "bytes/resp", "decimals": 0, "ratio": False},
                         {"key": "rps_spread_pct", "label": "spread %", "decimals": 0, "ratio": False}],
             "rows": surge_rows},
            {"title": "QR check-in throughput over HTTP (wrk; a never-used QR of a different citizen per request)",
             "baseline": "floor",
             "columns": [{"key": "rps", "label": "requests/s", "better": "higher", "decimals": 0},
                         {"key": "p50_ms", "label": "p50 ms", "better": "lower", "decimals": 1},
                         {"key": "p99_ms", "label": "p99 ms", "better": "lower", "decimals": 1},
                         {"key": "round_ratio", "label": "×floor per round", "decimals": 2, "ratio": False},
                         {"key": "app_cpu_us", "label": "server CPU µs/req", "better": "lower", "decimals": 0},
                         {"key": "db_cpu_us", "label": "PostgreSQL CPU µs/req", "decimals": 0, "ratio": False},
                         {"key": "errors", "label": "errors", "decimals": 0, "ratio": False},
                         {"key": "created", "label": "rows in DB", "decimals": 0, "ratio": False},
                         {"key": "rps_spread_pct", "label": "spread %", "decimals": 0, "ratio": False}],
             "rows": qr_rows},
            {"title": "QR check-in without HTTP (scan + check-in services in process, one client)",
             "baseline": "service",
             "columns": [{"key": "rps", "label": "check-ins/s", "better": "higher", "decimals": 0},
                         {"key": "p50_ms", "label": "p50 ms", "better": "lower", "decimals": 1},
                         {"key": "p99_ms", "label": "p99 ms", "better": "lower", "decimals": 1}],
             "rows": [{"name": "service", "label": "evacuee_from_qr() + shelter_check_in()", **service},
                      {**{k: by_name["qr"][k] for k in ("rps", "p50_ms", "p99_ms")}, "name": "http",
                       "label": f"over HTTP, {qr_connections} connections (table above)"}]},
        ],
        "notes": [
            f"Targets (issue 7): list and alerts ≥ 0.8× the floor with zero errors — measured "
            f"×{surge_by_name['shelters']['round_ratio']:.2f} and ×{surge_by_name['alerts']['round_ratio']:.2f} "
            f"in requests/s with check-ins arriving (the list without them "
            f"×{surge_by_name['shelters_quiet']['round_ratio']:.2f}; median of each round's ratio), "
            f"×{surge_by_name['shelters']['app_cpu_us'] / surge_by_name['floor']['app_cpu_us']:.2f} and "
            f"×{surge_by_name['alerts']['app_cpu_us'] / surge_by_name['floor']['app_cpu_us']:.2f} the floor's server "
            f"CPU per request; QR check-ins ≥ 200/s — measured {by_name['qr']['rps']:,.0f}/s alone and "
            f"{by_name['qr_polled']['rps']:,.0f}/s with residents polling; errors in all rows: {errors_total}.",
            f"A QR check-in cost {by_name['qr']['app_cpu_us'] / 1000:.1f} ms of server CPU and "
            f"{by_name['qr']['db_cpu_us'] / 1000:.1f} ms of PostgreSQL CPU: {cpus} CPUs can do at most "
            f"~{cpus / per_check_in_ms * 1000:,.0f} per second with nothing else running (wrk, Redis and the "
            "machine's other work come on top).",
            "'server CPU µs/req' is the CPU the gunicorn master and workers used during the run divided by the "
            "requests wrk counted (Linux /proc), 'PostgreSQL CPU' the same for this database's backends: unlike "
            "requests/s it does not drop when other work shares the machine. In the surge table it includes "
            "the arriving check-ins' share (each costs as much CPU as dozens of reads).",
            "Both public reads are served from a per-municipality pre-rendered payload answered before most of "
            "the middleware (shelters.middleware); each process re-reads the payload's version from Redis at most "
            f"every SHELTERS_PUBLIC_RECHECK_SECONDS ({settings.SHELTERS_PUBLIC_RECHECK_SECONDS}); each check-in "
            "replaces the version after commit and one reader rebuilds the payload while the others keep serving "
            "the previous copy. wrk sends no Accept-Encoding, so these rows get the uncompressed JSON.",
            f"Each QR check-in is a fresh app QR (Ed25519, {TOKEN_TTL} s lifetime so that tokens made before the "
            f"run stay valid; the server runs with CITIZEN_ID_QR_TTL_SECONDS={TOKEN_TTL}) of a different enrolled "
            "citizen, sent once with its own Idempotency-Key to one of the six open shelters in turn. 'rows in "
            "DB' counts the QR check-ins found afterwards (the median round; a few more than wrk's count are "
            "requests still in flight when wrk stopped); every round had as many distinct citizens as rows: "
            f"{'yes' if distinct else 'NO'}.",
            "wrk, gunicorn, PostgreSQL and Redis share the machine's CPUs (and, on a shared machine, other "
            "people's work): read the ratios to the floor measured in the same run, not the absolute rates. "
            "'×floor per round' divides each round's rate by the floor's in the same round (rows run back to "
            "back) and takes the median: steadier than the ratio of the medians when the load moves.",
            f"Knobs: BENCH_SURGE_SECONDS ({seconds}; the issue's figure is 60), BENCH_SURGE_CONNECTIONS, "
            "BENCH_SURGE_CHECKINS_PER_S, BENCH_SURGE_DESKS, BENCH_SURGE_ROUNDS, BENCH_QR_SECONDS, "
            "BENCH_QR_CONNECTIONS, "
            "BENCH_QR_POLL_CONNECTIONS, BENCH_SURGE_CITIZENS, BENCH_QR_SERVICE_CHECKINS, BENCH_SURGE_THREADS.",
        ],
    }
