"""Helpers every benchmark scenario can use: knobs from the environment, Django setup, a timer,
gunicorn on a free local port, wrk with latency percentiles, machine facts, and the result shape.

A scenario's `run(ctx)` returns a dict:

    {
      "parameters": {...},                       # what was measured and how (knobs, sizes)
      "tables": [                                # each printed with its baseline side by side
        {"title": "...", "baseline": "<row name>",
         "columns": [{"key": "rps", "label": "requests/s", "better": "higher", "decimals": 0},
                     {"key": "spread", "label": "spread %", "ratio": False}, ...],   # no ratio column
         "rows": [{"name": "<row name>", "label": "...", "rps": 2334.0, ...}, ...]},
      ],
      "notes": ["...", ...],                     # how to read the figures
    }

Load only ever goes to 127.0.0.1, and every measurement is bounded (BENCH_SECONDS, whole seconds, default 5).
"""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
WRK_SCRIPT = BENCH_DIR / "wrk_report.lua"
LOOPBACK = "127.0.0.1"


class BenchError(RuntimeError):
    """A scenario cannot measure what it claims to (server did not start, wrong status, ...)."""


# --- Knobs ----------------------------------------------------------------------------------------
def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BenchError(f"{name} must be an integer, not {raw!r}") from None
    if value < 1:
        raise BenchError(f"{name} must be at least 1, not {value}")
    return value


def port_range() -> range:
    """Ports the bench may listen on (BENCH_PORTS, e.g. 8100-8199)."""
    raw = os.environ.get("BENCH_PORTS", "8100-8199")
    try:
        low, high = (int(part) for part in raw.split("-", 1))
    except ValueError:
        raise BenchError(f"BENCH_PORTS must look like 8100-8199, not {raw!r}") from None
    return range(low, high + 1)


@dataclass
class Context:
    """What the runner hands each scenario: the shared knobs and a progress logger."""

    seconds: int = field(default_factory=lambda: env_int("BENCH_SECONDS", 5))
    warmup_seconds: int = field(default_factory=lambda: env_int("BENCH_WARMUP_SECONDS", 1))
    workers: int = field(default_factory=lambda: env_int("BENCH_WORKERS", 2))
    wrk_threads: int = field(default_factory=lambda: env_int("BENCH_WRK_THREADS", 2))
    wrk_connections: int = field(default_factory=lambda: env_int("BENCH_WRK_CONNECTIONS", 16))
    rounds: int = field(default_factory=lambda: env_int("BENCH_ROUNDS", 3))

    def log(self, message: str) -> None:
        print(f"  · {message}", file=sys.stderr, flush=True)

    def env_int(self, name: str, default: int) -> int:
        return env_int(name, default)

    def gunicorn(self, wsgi_app: str, **kwargs) -> contextlib.AbstractContextManager[Server]:
        kwargs.setdefault("workers", self.workers)
        return gunicorn(wsgi_app, **kwargs)

    def wrk(self, port: int, path: str, **kwargs) -> WrkResult:
        kwargs.setdefault("seconds", self.seconds)
        kwargs.setdefault("warmup_seconds", self.warmup_seconds)
        kwargs.setdefault("threads", self.wrk_threads)
        kwargs.setdefault("connections", self.wrk_connections)
        return wrk(port, path, **kwargs)

    def wrk_rounds(self, targets: dict[str, Target], **kwargs) -> dict[str, list[WrkResult]]:
        kwargs.setdefault("rounds", self.rounds)
        kwargs.setdefault("seconds", self.seconds)
        kwargs.setdefault("warmup_seconds", self.warmup_seconds)
        kwargs.setdefault("threads", self.wrk_threads)
        kwargs.setdefault("connections", self.wrk_connections)
        kwargs.setdefault("log", self.log)
        return wrk_rounds(targets, **kwargs)


# --- Django ---------------------------------------------------------------------------------------
def django_setup(settings_module: str = "superapp.settings") -> None:
    """Imports the project from this checkout and sets Django up (idempotent)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def quiet_app_logs() -> None:
    """The app's structlog info events (e.g. municipality_onboarded) would interleave with the
    figures on stdout; keep warnings and errors. BENCH_VERBOSE=1 keeps everything."""
    if os.environ.get("BENCH_VERBOSE"):
        return
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def database_prepare() -> float:
    """Brings the shared schema and the tenant template up to date, as a deploy does. Returns seconds."""
    from django.core.management import call_command
    from django.db import connection

    from tenants.services import tenant_template_prepare

    with Timer() as timer:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        tenant_template_prepare()
        connection.set_schema_to_public()
    return timer.seconds


def schema_is_current(schema_name: str) -> bool:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django_tenants.utils import schema_context

    with schema_context(schema_name):
        executor = MigrationExecutor(connection)
        return not executor.migration_plan(executor.loader.graph.leaf_nodes())


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: this checkout first on PYTHONPATH, same DATABASE_URL/REDIS_URL."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


# --- Timing ---------------------------------------------------------------------------------------
class Timer:
    """`with Timer() as t: ...` then `t.seconds` (wall clock, perf_counter)."""

    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc_info) -> None:
        self.seconds = time.perf_counter() - self.started


def summarize(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples)}


# --- gunicorn -------------------------------------------------------------------------------------
def free_port() -> int:
    for port in port_range():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    raise BenchError(f"no free port in BENCH_PORTS={os.environ.get('BENCH_PORTS', '8100-8199')}")


def http_get(port: int, path: str, *, host: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: Path
    wsgi_app: str
    workers: int
    threads: int

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def cpu_seconds(self) -> float:
        """CPU used so far by the master and its workers (see process_tree_cpu_seconds)."""
        return process_tree_cpu_seconds(self.process.pid)

    def stop(self, grace: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers gracefully
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the group this process leads: master and workers
            self.process.wait()


def process_tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its live children, e.g. a gunicorn master
    and its workers. Unlike a request rate it does not drop when other work shares the machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_path.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        own, parent = int(stat_path.parent.name), int(fields[1])
        if own == pid or parent == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@contextlib.contextmanager
def gunicorn(wsgi_app: str, *, workers: int = 2, threads: int = 1, env: dict[str, str] | None = None,
             ready_path: str = "/", host: str = "localhost", ready_timeout: float = 60.0,
             expect_status: int = 200) -> Iterator[Server]:
    """Runs `gunicorn <wsgi_app>` on a free port of BENCH_PORTS with sync workers (threads=1) or
    gthread workers (threads>1), waits until `ready_path` answers `expect_status`, stops it on exit."""
    port = free_port()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-gunicorn-"))
    log_path = log_dir / "gunicorn.log"
    argv = [
        sys.executable, "-m", "gunicorn", wsgi_app,
        "--bind", f"{LOOPBACK}:{port}",
        "--workers", str(workers),
        "--threads", str(threads),
        "--worker-class", "sync" if threads == 1 else "gthread",
        "--log-level", "warning",
        "--error-logfile", str(log_path),
        "--graceful-timeout", "5",
        "--no-control-socket",
    ]
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(argv, cwd=REPO_ROOT, env=subprocess_env(**(env or {})),
                                   stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(process, port, log_path, wsgi_app, workers, threads)
    try:
        _wait_ready(server, ready_path, host, ready_timeout, expect_status)
        yield server
    finally:
        server.stop()
        shutil.rmtree(log_dir, ignore_errors=True)


def _wait_ready(server: Server, path: str, host: str, timeout: float, expect_status: int) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(f"gunicorn {server.wsgi_app} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            status, body = http_get(server.port, path, host=host)
        except OSError as exc:
            last = str(exc)
            time.sleep(0.1)
            continue
        if status == expect_status:
            return
        raise BenchError(f"GET {path} (Host: {host}) on {server.wsgi_app} answered {status}, "
                         f"expected {expect_status}: {body[:300]!r}\n{server.log_tail()}")
    raise BenchError(f"gunicorn {server.wsgi_app} not ready after {timeout:.0f} s ({last}):\n{server.log_tail()}")


# --- wrk ------------------------------------------------------------------------------------------
@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    requests: int
    duration_s: float
    bytes_per_response: float
    errors: dict[str, int]
    threads: int
    connections: int

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict:
        return asdict(self)


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise BenchError("wrk is not installed: `apt-get install -y wrk` (make bench installs it)")
    return path


def wrk(port: int, path: str, *, host: str, seconds: int = 5, threads: int = 2, connections: int = 16,
        warmup_seconds: int = 1, timeout_s: int = 10, script: Path = WRK_SCRIPT,
        env: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> WrkResult:
    """Load on http://127.0.0.1:<port><path> with a Host header; an unmeasured warm-up run first
    (lazy imports, first database connection of each worker). Non-2xx/3xx answers count as errors.
    `script` replaces the reporter with a Lua script that builds its own requests (it must print the
    same WRK_JSON line, see wrk_report.lua); `env` reaches that script through os.getenv; `headers`
    are sent with every request (like the Host header)."""
    if not path.startswith("/"):
        raise BenchError(f"path must start with '/': {path!r}")
    if warmup_seconds > 0:
        _wrk_once(port, path, host=host, seconds=warmup_seconds, threads=threads, connections=connections,
                  timeout_s=timeout_s, script=script, env=env, headers=headers)
    return _wrk_once(port, path, host=host, seconds=seconds, threads=threads, connections=connections,
                     timeout_s=timeout_s, script=script, env=env, headers=headers)


def wrk_argv(port: int, path: str, *, host: str, seconds: int, threads: int, connections: int,
             timeout_s: int = 10, script: Path = WRK_SCRIPT, headers: dict[str, str] | None = None) -> list[str]:
    extra = [part for name, value in (headers or {}).items() for part in ("-H", f"{name}: {value}")]
    return [wrk_path(), "--latency", "-t", str(threads), "-c", str(max(connections, threads)),
            "-d", f"{seconds}s", "--timeout", f"{timeout_s}s",
            "-H", f"Host: {host}", *extra, "-s", str(script), f"http://{LOOPBACK}:{port}{path}"]


def wrk_parse(completed: subprocess.CompletedProcess, *, threads: int, connections: int) -> WrkResult:
    """The figures of a finished wrk run whose script printed the WRK_JSON line."""
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if completed.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({completed.returncode}): {completed.stderr.strip() or completed.stdout[-500:]}")
    data = json.loads(line[len("WRK_JSON "):])
    duration_s = data["duration_us"] / 1e6
    requests = data["requests"]
    return WrkResult(
        requests_per_s=requests / duration_s if duration_s else 0.0,
        p50_ms=data["p50_us"] / 1000, p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000, mean_ms=data["mean_us"] / 1000,
        requests=requests, duration_s=duration_s,
        bytes_per_response=data["bytes"] / requests if requests else 0.0,
        errors=data["errors"], threads=threads, connections=connections,
    )


def _wrk_once(port: int, path: str, *, host: str, seconds: int, threads: int, connections: int,
              timeout_s: int, script: Path = WRK_SCRIPT, env: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> WrkResult:
    argv = wrk_argv(port, path, host=host, seconds=seconds, threads=threads, connections=connections,
                    timeout_s=timeout_s, script=script, headers=headers)
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + timeout_s + 30,
                               env={**os.environ, **env} if env else None)
    return wrk_parse(completed, threads=threads, connections=connections)


def wrk_together(runs: dict[str, dict], *, seconds: int, timeout_s: int = 10) -> dict[str, WrkResult]:
    """Several wrk processes started at the same moment for the same duration (e.g. clients that write
    while others read the same server). Each run is a dict of port, path, host, threads, connections
    and optionally script, env and headers. No warm-up: do that beforehand."""
    started = {}
    for name, run in runs.items():
        argv = wrk_argv(run["port"], run["path"], host=run["host"], seconds=seconds, threads=run["threads"],
                        connections=run["connections"], timeout_s=timeout_s, script=run.get("script", WRK_SCRIPT),
                        headers=run.get("headers"))
        env = run.get("env")
        started[name] = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                         env={**os.environ, **env} if env else None)
    results = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=seconds + timeout_s + 30)
        completed = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        results[name] = wrk_parse(completed, threads=runs[name]["threads"], connections=runs[name]["connections"])
    return results


@dataclass(frozen=True)
class Target:
    """One thing to load: a path on a local port with a Host header."""

    port: int
    path: str
    host: str


def wrk_rounds(targets: dict[str, Target], *, rounds: int = 3, seconds: int = 5, warmup_seconds: int = 1,
               threads: int = 2, connections: int = 16, log=None) -> dict[str, list[WrkResult]]:
    """Measures several servers that run side by side in interleaved rounds (the order rotates each
    round), so background load on a shared machine lands on all of them alike rather than on
    whichever happened to run during a burst. Each target is warmed up once before the first round."""
    names = list(targets)
    results: dict[str, list[WrkResult]] = {name: [] for name in names}
    for name in names:
        target = targets[name]
        _wrk_once(target.port, target.path, host=target.host, seconds=warmup_seconds, threads=threads,
                  connections=connections, timeout_s=10)
    for round_index in range(rounds):
        order = names[round_index % len(names):] + names[:round_index % len(names)]
        for name in order:
            target = targets[name]
            result = _wrk_once(target.port, target.path, host=target.host, seconds=seconds, threads=threads,
                               connections=connections, timeout_s=10)
            results[name].append(result)
            if log is not None:
                log(f"round {round_index + 1}/{rounds} {name}: {result.requests_per_s:,.0f} req/s, "
                    f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms")
    return results


def combine(results: list[WrkResult]) -> dict:
    """The median round of several (each figure's median across rounds) plus the spread of the rate."""
    rates = [r.requests_per_s for r in results]
    errors: dict[str, int] = {}
    for result in results:
        for key, value in result.errors.items():
            errors[key] = errors.get(key, 0) + value
    median_rps = statistics.median(rates)
    return {
        "rps": median_rps,
        "p50_ms": statistics.median(r.p50_ms for r in results),
        "p90_ms": statistics.median(r.p90_ms for r in results),
        "p99_ms": statistics.median(r.p99_ms for r in results),
        "rps_min": min(rates),
        "rps_max": max(rates),
        "rps_spread_pct": (max(rates) - min(rates)) / median_rps * 100 if median_rps and len(rates) > 1 else None,
        "requests": sum(r.requests for r in results),
        "bytes_per_response": round(statistics.median(r.bytes_per_response for r in results), 1),
        "errors": errors,
        "rounds": [r.as_dict() for r in results],
    }


# --- Machine facts --------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def wrk_version() -> str | None:
    path = shutil.which("wrk")
    if path is None:
        return None
    out = subprocess.run([path, "--version"], capture_output=True, text=True)
    first = (out.stdout or out.stderr).splitlines()
    return first[0].split(" Copyright")[0] if first else None


def machine_info() -> dict:
    import django

    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgres": postgres_version(),
        "wrk": wrk_version(),
        "git_commit": _git_commit(),
        "load_average_1_5_15": load_average(),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
