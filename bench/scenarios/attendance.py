"""The 07:30–08:15 rush of 学校出欠連絡: guardians posting absence reports while teachers refresh
their class lists.

Saga: 20,000 guardians' reports across 50 schools within 45 minutes is about 7 reports/s; the
target is ten times that, 70 reports/s, with teachers refreshing class lists, at zero errors.
Rows (one gunicorn serving the project, the floor on its own gunicorn, same wrk):

  (a) baseline: constant JSON view, plain Django (the floor nothing beats on this machine)
  (a') the framework floor: GET /api/v1/attendance/options/ with a guardian's token (tenant
      middleware, token lookup, DRF; no query of its own)
  (b) POST /api/v1/attendance/reports/ alone, closed loop (as fast as it goes)
  (c) GET  /api/v1/staff/attendance/classes/{id}/ alone, closed loop (teachers' refresh)
  (d) both at once (two wrk processes in parallel), each rate and latency
  (e) paced: reports at exactly BENCH_ATT_RATE/s (default 70) plus class lists at a fifth of that,
      open loop from Python threads for BENCH_SECONDS × 3: p50/p99 and errors at the target rate

Every report is unique (guardian i reports child i for a different day each time, always a future
day so the cut-off never refuses it); a duplicate would be a 409 and counted as an error.
Data lives in a temporary municipality `bench_attendance` (code in prefecture 99), dropped after.
Knobs: BENCH_ATT_SCHOOLS (50), BENCH_ATT_CLASSES (1 per school), BENCH_ATT_CLASS_SIZE (20),
BENCH_ATT_RATE (70). 50 × 1 × 20 = 1,000 guardians keeps the seeding to about a minute;
BENCH_ATT_CLASSES=12 BENCH_ATT_CLASS_SIZE=34 gives Saga's 20,000. BENCH_ATT_THREADS (1) runs both
servers with gthread workers of that many threads: `BENCH_WORKERS=3 BENCH_ATT_THREADS=4` is the
production layout (Dockerfile, docker-compose.yml), where a request waiting on PostgreSQL leaves
the CPU to another (the default, 2 sync workers, is the other scenarios' layout).
"""
from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import timedelta
from http.client import HTTPConnection
from pathlib import Path

from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from bench import lib

NAME = "attendance"
DESCRIPTION = ("morning rush of school absence reports (POST) with teachers' class lists (GET): closed-loop "
               "rates, both at once, and p99 at the 70 reports/s target, beside the plain-Django floor")

SCHEMA = "bench_attendance"
HOST = f"bench-attendance.{settings.PLATFORM_DOMAIN}"
FLOOR_APP = "bench.floor.wsgi:application"
PROJECT_APP = "superapp.wsgi:application"

_LUA = r"""
local lines = {}
local index = 0
local counter = 0
setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
end
init = function(args)
  local n = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % n == id then table.insert(lines, line) end
    i = i + 1
  end
end
request = function()
  index = index + 1
  if index > #lines then index = 1 end
  local line = lines[index]
  local a = string.find(line, "\t", 1, true)
  local b = string.find(line, "\t", a + 1, true)
  local method = string.sub(line, 1, a - 1)
  local token = string.sub(line, a + 1, b - 1)
  local rest = string.sub(line, b + 1)
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  if method == "POST" then
    return wrk.format("POST", "/api/v1/attendance/reports/", headers, rest)
  end
  return wrk.format("GET", rest, headers)
end
"""


def _code() -> str:
    from tenants.models import Municipality
    from tenants.validators import lg_code_check_digit

    used = set(Municipality.objects.filter(code__startswith="99").values_list("code", flat=True))
    for number in range(900, 1000):
        code = f"99{number:03d}{lg_code_check_digit(f'99{number:03d}')}"
        if code not in used:
            return code
    raise lib.BenchError("no free bench municipality code in prefecture 99")


def _drop() -> None:
    from tenants.models import Municipality

    connection.set_schema_to_public()
    for municipality in Municipality.objects.filter(schema_name=SCHEMA):
        municipality.delete(force_drop=True)


def _seed(ctx: lib.Context, *, schools: int, classes: int, size: int) -> dict:
    """A municipality with `schools` elementary schools of `classes` first-grade classes of `size`
    children, each child with one linked guardian, each class with a homeroom teacher. Built with
    the project's services (roster CSV import, link codes); teachers get API tokens directly."""
    from accounts.models import ApiToken, User
    from accounts.roles import Role
    from accounts.services import api_token_issue, resident_create, staff_set_roles
    from miniapps.attendance.models import AbsenceReason, Enrollment, SchoolClass
    from miniapps.attendance.roster import roster_import
    from miniapps.attendance.services import guardian_link_with_code, link_code_issue
    from tenants.services import municipality_onboard

    _drop()
    municipality_onboard(code=_code(), name="ベンチ市", domain=HOST, admin_email="admin@bench-attendance.example",
                         admin_password="bench-pass-2026-x", prefecture="ベンチ県", schema_name=SCHEMA)
    with schema_context(SCHEMA):
        with lib.Timer() as timer:
            teachers = []
            for index in range(schools * classes):
                teacher = User.objects.create_user(f"t{index}@bench.example", None, kind=User.Kind.STAFF,
                                                   is_staff=True, display_name=f"担任{index}")
                staff_set_roles(staff=teacher, roles=[Role.TEACHER])
                teachers.append(teacher)
            lines = ["学校コード,学校名,校種,年度,学年,組,出席番号,児童生徒番号,氏名,ふりがな,担任"]
            from miniapps.attendance.calendar import fiscal_year_of, today_local

            # Reports go up to 55 days ahead: enrol the children in every school year that window touches.
            first_year = fiscal_year_of(today_local() + timedelta(days=1))
            years = sorted({first_year, fiscal_year_of(today_local() + timedelta(days=56))})
            for fiscal_year in years:
                for s in range(schools):
                    for c in range(classes):
                        teacher = teachers[s * classes + c]
                        for n in range(1, size + 1):
                            lines.append(f"B{s:03d},ベンチ第{s}小学校,小学校,{fiscal_year},1,{c + 1}組,{n},"
                                         f"S{s:03d}-{c:02d}-{n:02d},児童{n},じどう,{teacher.username}")
            roster_import(data=("\n".join(lines) + "\n").encode())
            ctx.log(f"roster: {len(lines) - 1} children in {schools * classes} classes")
            guardians = []
            enrollments = list(Enrollment.objects.filter(school_year__fiscal_year=first_year)
                               .select_related("student", "school_class").order_by("school_class_id", "number"))
            for enrollment in enrollments:
                issued = resident_create(nickname="保護者")
                code = link_code_issue(student=enrollment.student, acting_user=None)
                guardian_link_with_code(guardian=issued.token.user, code=code.code, client_ip=f"bench-{issued.raw[:8]}")
                guardians.append((issued.raw, enrollment.student.pk, enrollment.student.school_id))
            reasons = {school_id: pk for school_id, pk in AbsenceReason.objects.filter(label="体調不良")
                       .values_list("school_id", "pk")}
            class_tokens = []
            for school_class in SchoolClass.objects.filter(school_year__fiscal_year=first_year) \
                    .prefetch_related("homeroom_teachers"):
                teacher = school_class.homeroom_teachers.all()[0]
                token = api_token_issue(user=teacher, kind=ApiToken.Kind.STAFF, ttl=timedelta(hours=6)).raw
                class_tokens.append((token, school_class.pk))
        ctx.log(f"seeded {len(guardians)} guardians with linked children in {timer.seconds:.1f} s")
    connection.set_schema_to_public()
    return {"guardians": guardians, "reasons": reasons, "class_tokens": class_tokens}


class _Reports:
    """Unique report bodies: guardian i, day d (tomorrow onwards), cycling guardians first."""

    def __init__(self, data: dict, first_day_offset: int):
        from miniapps.attendance.calendar import today_local

        self.data = data
        self.start = today_local() + timedelta(days=first_day_offset)
        self.next = 0

    def take(self, count: int) -> list[tuple[str, str]]:
        guardians = self.data["guardians"]
        out = []
        for _ in range(count):
            guardian, student, school = guardians[self.next % len(guardians)]
            day = self.start + timedelta(days=self.next // len(guardians))
            body = json.dumps({"student": student, "type": "absent", "reason": self.data["reasons"][school],
                               "date": day.isoformat(), "symptoms": ["fever"], "temperature": 38.1})
            out.append((guardian, body))
            self.next += 1
        if (self.start + timedelta(days=self.next // len(guardians)) - self.start).days > 55:
            raise lib.BenchError("ran out of unique report days (55 ahead); use more guardians or fewer seconds")
        return out


def _wrk_script(port: int, lines: list[str], *, seconds: int, threads: int, connections: int) -> lib.WrkResult:
    workdir = Path(tempfile.mkdtemp(prefix="bench-att-"))
    data, script = workdir / "lines.tsv", workdir / "script.lua"
    data.write_text("\n".join(lines) + "\n")
    script.write_text(_LUA + "\n" + lib.WRK_SCRIPT.read_text())
    argv = [lib.wrk_path(), "--latency", "-t", str(threads), "-c", str(max(connections, threads)), "-d",
            f"{seconds}s", "--timeout", "10s", "-H", f"Host: {HOST}", "-s", str(script),
            f"http://{lib.LOOPBACK}:{port}/", "--", str(data), str(threads)]
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if completed.returncode != 0 or line is None:
        raise lib.BenchError(f"wrk failed ({completed.returncode}): {completed.stderr.strip() or completed.stdout[-500:]}")
    figures = json.loads(line[len("WRK_JSON "):])
    duration = figures["duration_us"] / 1e6
    return lib.WrkResult(
        requests_per_s=figures["requests"] / duration if duration else 0.0, p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000, p99_ms=figures["p99_us"] / 1000, max_ms=figures["max_us"] / 1000,
        mean_ms=figures["mean_us"] / 1000, requests=figures["requests"], duration_s=duration,
        bytes_per_response=figures["bytes"] / figures["requests"] if figures["requests"] else 0.0,
        errors=figures["errors"], threads=threads, connections=connections)


def _paced(port: int, *, posts: list[tuple[str, str]], gets: list[tuple[str, int]], rate: float, seconds: int) -> dict:
    """Open-loop load: requests start on a fixed schedule whatever the answers' latency."""
    schedule = []
    get_every = 5  # one class-list refresh for every five reports
    for index in range(int(rate * seconds)):
        schedule.append(("POST", index))
        if index % get_every == 0:
            schedule.append(("GET", index // get_every))
    interval = 1.0 / (rate * (1 + 1 / get_every))
    latencies: dict[str, list[float]] = {"POST": [], "GET": []}
    errors: dict[str, dict[str, int]] = {"POST": {}, "GET": {}}
    lock = threading.Lock()
    started = time.perf_counter()

    def fire(kind: str, index: int) -> None:
        conn = HTTPConnection(lib.LOOPBACK, port, timeout=30)
        try:
            t0 = time.perf_counter()
            if kind == "POST":
                token, body = posts[index]
                conn.request("POST", "/api/v1/attendance/reports/", body=body.encode(),
                             headers={"Host": HOST, "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                ok = 201
            else:
                token, class_id = gets[index % len(gets)]
                conn.request("GET", f"/api/v1/staff/attendance/classes/{class_id}/",
                             headers={"Host": HOST, "Authorization": f"Bearer {token}"})
                ok = 200
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                latencies[kind].append(elapsed)
                if response.status != ok:
                    errors[kind][str(response.status)] = errors[kind].get(str(response.status), 0) + 1
        except OSError as exc:  # refused, reset, or no answer within the client's 30 s
            with lock:
                errors[kind][type(exc).__name__] = errors[kind].get(type(exc).__name__, 0) + 1
        finally:
            conn.close()

    threads = []
    for position, (kind, index) in enumerate(schedule):
        delay = started + position * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        thread = threading.Thread(target=fire, args=(kind, index), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout=60)
    wall = time.perf_counter() - started

    def pct(values: list[float], q: float) -> float | None:
        if not values:
            return None
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    return {kind: {"rps": len(latencies[kind]) / wall, "p50_ms": pct(latencies[kind], 0.5),
                   "p99_ms": pct(latencies[kind], 0.99), "requests": len(latencies[kind]),
                   "errors": errors[kind], "mean_ms": statistics.mean(latencies[kind]) if latencies[kind] else None}
            for kind in ("POST", "GET")}


def run(ctx: lib.Context) -> dict:
    schools = ctx.env_int("BENCH_ATT_SCHOOLS", 50)
    classes = ctx.env_int("BENCH_ATT_CLASSES", 1)
    size = ctx.env_int("BENCH_ATT_CLASS_SIZE", 20)
    rate = ctx.env_int("BENCH_ATT_RATE", 70)
    threads = ctx.env_int("BENCH_ATT_THREADS", 1)
    server_layout = (f"{ctx.workers} sync workers" if threads == 1
                     else f"{ctx.workers} gthread workers × {threads} threads")
    data = _seed(ctx, schools=schools, classes=classes, size=size)
    reports = _Reports(data, first_day_offset=1)
    get_lines = [f"GET\t{token}\t/api/v1/staff/attendance/classes/{class_id}/" for token, class_id in data["class_tokens"]]
    # The framework floor: same app, middleware, token authentication and DRF, no query of its own.
    options_lines = [f"GET\t{token}\t/api/v1/attendance/options/" for token, _, _ in data["guardians"][:200]]
    rows, notes = [], []
    try:
        with contextlib.ExitStack() as stack:
            floor = stack.enter_context(ctx.gunicorn(FLOOR_APP, env={"DJANGO_SETTINGS_MODULE": "bench.floor.settings",
                                                                     "BENCH_FLOOR_MIDDLEWARE": "none"},
                                                     ready_path="/floor/", host=HOST, threads=threads))
            project = stack.enter_context(ctx.gunicorn(PROJECT_APP, env={"DJANGO_SETTINGS_MODULE": "superapp.settings"},
                                                       ready_path="/api/v1/districts/", host=HOST, threads=threads))
            ctx.log(f"floor on :{floor.port}, project on :{project.port} ({server_layout} each)")
            # Warm-up: every worker opens its connection and imports lazily.
            lib.wrk(floor.port, "/floor/", host=HOST, seconds=1, warmup_seconds=0, threads=ctx.wrk_threads,
                    connections=ctx.wrk_connections)
            _wrk_script(project.port, get_lines, seconds=1, threads=ctx.wrk_threads, connections=ctx.wrk_connections)

            def post_lines(seconds: int) -> list[str]:
                # Enough unique bodies for a generous 600 reports/s; wrk wraps around only past that.
                return [f"POST\t{token}\t{body}" for token, body in reports.take(600 * seconds)]

            measured: dict[str, list[lib.WrkResult]] = {"floor": [], "framework": [], "post": [], "get": [],
                                                        "mix_post": [], "mix_get": []}
            for round_index in range(ctx.rounds):
                measured["floor"].append(lib.wrk(floor.port, "/floor/", host=HOST, seconds=ctx.seconds, warmup_seconds=0,
                                                 threads=ctx.wrk_threads, connections=ctx.wrk_connections))
                measured["framework"].append(_wrk_script(project.port, options_lines, seconds=ctx.seconds,
                                                         threads=ctx.wrk_threads, connections=ctx.wrk_connections))
                measured["post"].append(_wrk_script(project.port, post_lines(ctx.seconds), seconds=ctx.seconds,
                                                    threads=ctx.wrk_threads, connections=ctx.wrk_connections))
                measured["get"].append(_wrk_script(project.port, get_lines, seconds=ctx.seconds,
                                                   threads=ctx.wrk_threads, connections=ctx.wrk_connections))
                results: dict[str, lib.WrkResult] = {}
                post_batch = post_lines(ctx.seconds)
                threads = [threading.Thread(target=lambda: results.__setitem__(
                               "post", _wrk_script(project.port, post_batch, seconds=ctx.seconds, threads=1,
                                                   connections=max(ctx.wrk_connections // 2, 1)))),
                           threading.Thread(target=lambda: results.__setitem__(
                               "get", _wrk_script(project.port, get_lines, seconds=ctx.seconds, threads=1,
                                                  connections=max(ctx.wrk_connections // 2, 1))))]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                measured["mix_post"].append(results["post"])
                measured["mix_get"].append(results["get"])
                ctx.log(f"round {round_index + 1}/{ctx.rounds}: floor {measured['floor'][-1].requests_per_s:,.0f}/s, "
                        f"reports {measured['post'][-1].requests_per_s:,.0f}/s, lists {measured['get'][-1].requests_per_s:,.0f}/s, "
                        f"mixed {results['post'].requests_per_s:,.0f} + {results['get'].requests_per_s:,.0f}/s")
            paced_seconds = ctx.seconds * 3
            paced_posts = reports.take(int(rate * paced_seconds) + 1)
            ctx.log(f"paced: {rate} reports/s + {rate / 5:.0f} class lists/s for {paced_seconds} s")
            paced = _paced(project.port, posts=paced_posts, gets=data["class_tokens"], rate=rate, seconds=paced_seconds)
    finally:
        with schema_context(SCHEMA):
            from miniapps.attendance.models import AbsenceReport

            stored = AbsenceReport.objects.count()
        _drop()

    labels = {"floor": "(a) constant JSON, plain Django",
              "framework": "(a') GET /attendance/options/ (tenant + token + DRF, no query)",
              "post": "(b) POST report (alone)",
              "get": "(c) GET class list (alone)", "mix_post": "(d) POST report, with class lists",
              "mix_get": "(d) GET class list, with reports"}
    for name, label in labels.items():
        figures = lib.combine(measured[name])
        rows.append({"name": name, "label": label, **figures, "error_count": sum(figures["errors"].values())})
    rows.append({"name": "paced_post", "label": f"(e) POST report, paced at {rate}/s", "rps": paced["POST"]["rps"],
                 "p50_ms": paced["POST"]["p50_ms"], "p99_ms": paced["POST"]["p99_ms"],
                 "error_count": sum(paced["POST"]["errors"].values()), "errors": paced["POST"]["errors"]})
    rows.append({"name": "paced_get", "label": f"(e) GET class list, paced at {rate / 5:.0f}/s", "rps": paced["GET"]["rps"],
                 "p50_ms": paced["GET"]["p50_ms"], "p99_ms": paced["GET"]["p99_ms"],
                 "error_count": sum(paced["GET"]["errors"].values()), "errors": paced["GET"]["errors"]})
    total_errors = sum(row["error_count"] for row in rows)
    by_name = {row["name"]: row for row in rows}
    notes.append(f"Target: {rate} reports/s (10× Saga's 7/s morning rush). Closed-loop POST alone reached "
                 f"{by_name['post']['rps']:,.0f}/s; paced at {rate}/s the p99 was {paced['POST']['p99_ms']:.1f} ms.")
    notes.append(f"Errors (non-2xx, connect, timeout) over every row: {total_errors}; paced reports "
                 f"{paced['POST']['errors'] or 'none'}, paced lists {paced['GET']['errors'] or 'none'} "
                 f"(status code, or the client's exception when no answer came within 30 s). Reports stored: {stored}.")
    notes.append(f"Per report, one worker spends about {1000 * ctx.workers / max(by_name['post']['rps'], 0.001):.0f} ms "
                 f"(closed loop, {server_layout}) against {1000 * ctx.workers / max(by_name['floor']['rps'], 0.001):.1f} ms "
                 "for the floor; the machine's load average is in the results file.")
    notes.append(f"{len(data['guardians'])} guardians, {len(data['class_tokens'])} classes of {size}; "
                 "each POST is a unique (child, day); each GET is a whole class list (constant query count).")
    return {
        "parameters": {"schools": schools, "classes_per_school": classes, "class_size": size,
                       "guardians": len(data["guardians"]), "target_rate": rate, "seconds": ctx.seconds,
                       "rounds": ctx.rounds, "gunicorn": server_layout,
                       "wrk": f"{ctx.wrk_threads} threads, {ctx.wrk_connections} connections"},
        "tables": [{
            "title": "School attendance morning rush (same machine, same gunicorn workers)",
            "baseline": "floor",
            "columns": [
                {"key": "rps", "label": "requests/s", "better": "higher", "decimals": 0},
                {"key": "p50_ms", "label": "p50 ms", "better": "lower", "decimals": 2},
                {"key": "p99_ms", "label": "p99 ms", "better": "lower", "decimals": 2},
                {"key": "error_count", "label": "errors", "decimals": 0, "ratio": False},
            ],
            "rows": rows,
        }],
        "notes": notes,
    }
