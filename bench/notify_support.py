"""Shared set-up for the notification benchmarks (bench/scenarios/notify_*.py).

A throw-away municipality `bench_notify` (code in the non-existent prefecture 99, dropped at the
end), residents and devices seeded in SQL, the fake FCM server (`manage.py fake_fcm`) and Celery
workers as real child processes, and the staff API called in process through the tenant host.
Needs DATABASE_URL / REDIS_URL like every scenario; never point it at production.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"
SCHEMA = "bench_notify"
HOST = "bench-notify.localhost"
QUEUE = "bench-notify"
DISASTER_QUEUE = "bench-notify-disaster"
ADMIN_EMAIL = "admin@bench-notify.example"
PASSWORD = "bench-pass-2026-x"


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def log(ctx, message: str) -> None:
    if ctx is not None and hasattr(ctx, "log"):
        ctx.log(message)
    else:
        print(f"  · {message}", file=sys.stderr, flush=True)


def django_setup() -> None:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "superapp.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def free_port() -> int:
    low, high = (int(p) for p in os.environ.get("BENCH_FCM_PORTS", "9100-9199").split("-", 1))
    for port in range(low, high + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in BENCH_FCM_PORTS")


def wait_until(predicate, *, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:g}s waiting for {what}")


# --- the municipality -----------------------------------------------------------------------------
def municipality_create():
    """Brings the database up to date and onboards a fresh bench municipality."""
    from django.core.management import call_command
    from django.db import connection

    from tenants.services import municipality_onboard, tenant_template_prepare
    from tenants.validators import is_valid_lg_code

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    tenant_template_prepare()
    municipality_drop()
    connection.set_schema_to_public()
    code = next(f"99{n:03d}{d}" for n in range(900, 1000) for d in range(10) if is_valid_lg_code(f"99{n:03d}{d}"))
    result = municipality_onboard(code=code, name="ベンチ市", name_en="Bench City", domain=HOST, schema_name=SCHEMA,
                                  admin_email=ADMIN_EMAIL, admin_password=PASSWORD)
    connection.set_schema_to_public()
    return result.municipality


def municipality_drop() -> None:
    from django.db import connection

    from tenants.models import Municipality

    connection.set_schema_to_public()
    for municipality in Municipality.objects.filter(schema_name=SCHEMA):
        municipality.delete(force_drop=True)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')


def staff_client():
    from django_tenants.utils import schema_context

    from accounts.models import User
    from accounts.services import staff_token_issue
    from tests.base import TenantApiClient

    with schema_context(SCHEMA):
        admin = User.objects.get(username=ADMIN_EMAIL)
        return TenantApiClient(HOST, staff_token_issue(user=admin, client_ip="127.0.0.1").raw)


def seed(*, residents: int, interests: list[str], districts: int = 0, subscribe_all_topic: bool = False,
         token_prefix: str = "bench") -> list[int]:
    """`residents` residents with one device each, in SQL (a realistic 150-character token).
    Returns the district ids created. With `subscribe_all_topic` the devices are recorded as
    subscribed to every topic they should be in (the fake server is told separately)."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from accounts.models import District, User
    from notifications.models import BROADCAST_TOPICS, Device

    with schema_context(SCHEMA), connection.cursor() as cursor:
        district_ids = [District.objects.get_or_create(name=f"ベンチ校区{n + 1}", defaults={"sort_order": n + 1})[0].pk
                        for n in range(districts)]
        cursor.execute(
            f"INSERT INTO {User._meta.db_table} (username, password, is_superuser, email, kind, display_name, nickname,"
            " district_id, interests, birth_year, language, is_active, is_staff, date_joined)"
            " SELECT 'bench-' || i, '!', false, '', 'resident', '', '', (%s::bigint[])"
            "   [CASE WHEN cardinality(%s::bigint[]) = 0 THEN NULL ELSE 1 + i %% GREATEST(cardinality(%s::bigint[]), 1) END],"
            " %s::varchar[], 1940 + i %% 70, 'ja', true, false, now() - interval '1 day'"
            " FROM generate_series(1, %s) AS i",
            [district_ids, district_ids, district_ids, interests, residents])
        topics_sql = "ARRAY[]::varchar[]"
        if subscribe_all_topic:
            city = [f"'{SCHEMA}.all.{t}'" for t in BROADCAST_TOPICS]
            parts = city + [f"'{SCHEMA}.d' || u.district_id || '.{t}'" for t in BROADCAST_TOPICS]
            topics_sql = f"CASE WHEN u.district_id IS NULL THEN ARRAY[{', '.join(city)}]::varchar[] ELSE ARRAY[{', '.join(parts)}]::varchar[] END"
        cursor.execute(
            f"INSERT INTO {Device._meta.db_table} (user_id, token, platform, app_version, locale, is_active,"
            " deactivated_reason, created_at, registered_at, subscribed_topics, topics_dirty, topics_version)"
            f" SELECT u.id, %s || '-' || lpad(u.id::text, 8, '0') || ':APA91b' || md5(u.id::text) || md5(u.username)"
            "   || md5('x' || u.id) || substr(md5('y' || u.id), 1, 8),"
            f" CASE WHEN u.id %% 3 = 0 THEN 'ios' ELSE 'android' END, '2.0.0', 'ja-JP', true, '', now(), now(),"
            f" {topics_sql}, false, 1"
            f" FROM {User._meta.db_table} u WHERE u.kind = 'resident' AND u.username LIKE 'bench-%%'",
            [token_prefix])
        cursor.execute("ANALYZE")
    return district_ids


def tokens(limit: int | None = None) -> list[str]:
    from django_tenants.utils import schema_context

    from notifications.models import Device

    with schema_context(SCHEMA):
        query = Device.objects.filter(is_active=True).order_by("pk").values_list("token", flat=True)
        return list(query[:limit] if limit else query)


# --- child processes ------------------------------------------------------------------------------
def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    env.setdefault("DJANGO_SETTINGS_MODULE", "superapp.settings")
    env.update(CELERY_DEFAULT_QUEUE=QUEUE, CELERY_DISASTER_QUEUE=DISASTER_QUEUE, LOG_LEVEL="WARNING")
    env.update(extra)
    return env


class FakeFcm:
    """`manage.py fake_fcm` as a child process."""

    def __init__(self, *, latency_ms: int, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "fake_fcm", "--port", str(self.port), "--latency-ms", str(latency_ms),
             "--log", str(log_path)], cwd=REPO_ROOT, env=child_env(), stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "listening" not in line:
            raise RuntimeError(f"fake FCM did not start: {line!r}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict:
        import requests

        return requests.get(f"{self.url}/_fake/stats", timeout=30).json()["stats"]

    def subscribe_legacy(self, topic: str, tokens_: list[str]) -> None:
        """Seeds subscriptions through the Instance ID batch API (1,000 tokens a request)."""
        import requests

        with requests.Session() as session:
            for start in range(0, len(tokens_), 1000):
                session.post(f"{self.url}/iid/v1:batchAdd", json={"to": f"/topics/{topic}",
                             "registration_tokens": tokens_[start:start + 1000]}, timeout=60).raise_for_status()

    def deliveries(self, notification_id: int) -> Counter:
        wanted = f'"notification_id": "{notification_id}"'
        counts: Counter = Counter()
        with open(self.log_path, encoding="utf-8") as handle:
            for line in handle:
                if wanted in line:
                    counts[json.loads(line)["token"]] += 1
        return counts

    def stop(self) -> None:
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        if self.proc.poll() is None:
            self.proc.kill()


class Workers:
    """Celery workers (one process each, solo pool) on the bench queues."""

    def __init__(self, count: int, *, fcm_url: str, visibility_timeout: int = 3600,
                 extra_env: dict[str, str] | None = None) -> None:
        self.env = child_env(FCM_ENDPOINT=fcm_url, CELERY_VISIBILITY_TIMEOUT=str(visibility_timeout), **(extra_env or {}))
        self.procs: list[subprocess.Popen | None] = [None] * count
        self._purge()
        for index in range(count):
            self.start(index)

    def _purge(self) -> None:
        from superapp.celery import app

        with app.connection_for_write() as conn:
            for queue in (QUEUE, DISASTER_QUEUE):
                conn.default_channel.queue_purge(queue)

    def start(self, index: int) -> None:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "superapp", "worker", "-P", "solo", "-c", "1",
             "-Q", f"{DISASTER_QUEUE},{QUEUE}", "-n", f"bench-notify-{index}@%h", "--without-gossip",
             "--without-mingle", "--loglevel", "WARNING"],
            cwd=REPO_ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0)
        self.procs[index] = proc
        time.sleep(0.2)

    def wait_ready(self) -> None:
        """Until every worker answers a ping."""
        from superapp.celery import app

        def all_up():
            replies = app.control.ping(timeout=1.0) or []
            names = {name for reply in replies for name in reply}
            return sum(1 for i in range(len(self.procs)) if any(n.startswith(f"bench-notify-{i}@") for n in names)) \
                == sum(1 for p in self.procs if p is not None)
        wait_until(all_up, timeout=60, interval=0.5, what="workers to answer a ping")

    def kill(self, index: int) -> None:
        """SIGKILL to the worker's whole process group: no warm shutdown, no acknowledgement."""
        proc = self.procs[index]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self.procs[index] = None

    def stop(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            if proc is not None:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self._purge()


def configure_process(fcm_url: str) -> None:
    """This process sends tasks to the bench queues and talks to the fake FCM server too."""
    from django.conf import settings

    from superapp.celery import app

    settings.FCM_ENDPOINT = fcm_url
    settings.CELERY_DISASTER_QUEUE = DISASTER_QUEUE
    app.conf.task_default_queue = QUEUE


def notification_status(notification_id: int) -> str:
    from django_tenants.utils import schema_context

    from notifications.models import Notification

    with schema_context(SCHEMA):
        return Notification.objects.get(pk=notification_id).status


def sent_count(notification_id: int) -> int:
    from django_tenants.utils import schema_context

    from notifications.models import Delivery

    with schema_context(SCHEMA):
        return Delivery.objects.filter(notification_id=notification_id, status="sent").count()


def write_result(name: str, result: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    return path


def main(module) -> None:
    """`python -m bench.scenarios.<name>`: run one scenario without bench.run and write its result."""
    django_setup()
    started = time.time()
    result = module.run(None)
    result.setdefault("seconds", round(time.time() - started, 1))
    print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    print(f"written to {write_result(module.NAME, result)}", file=sys.stderr)
