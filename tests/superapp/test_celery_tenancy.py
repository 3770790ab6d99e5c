"""A task sent while serving tenant A runs in schema A and never touches B (real worker, real Redis)."""
from __future__ import annotations

import os
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import ApiToken
from accounts.services import api_token_issue
from superapp.celery import app as celery_app
from superapp.health import _heartbeat_key, _redis
from tenants.tasks import send_to_every_tenant
from tests.base import TenantApiClient

QUEUE = f"test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def _close_worker_connections() -> None:
    """The worker thread's connections outlive it; close them so the test database can be dropped."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")


@pytest.fixture
def worker(tenants_pair, django_db_blocker):
    """A real Celery worker thread consuming this test process's own queue. No test transaction:
    the worker reads what the test committed (and Celery's Django fixup closes connections)."""
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = QUEUE
    with django_db_blocker.unblock():
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(QUEUE)
        with start_worker(celery_app, pool="solo", perform_ping_check=False, queues=[QUEUE],
                          shutdown_timeout=10) as running:
            yield running
        connection.set_schema_to_public()
        _close_worker_connections()
    celery_app.conf.task_default_queue = previous


def _expired_token(tenant) -> int:
    with tenant.schema():
        issued = api_token_issue(user=tenant.resident, kind="resident", ttl=timedelta(seconds=1))
        ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(days=90))
        return issued.token.pk


def _exists(tenant, pk: int) -> bool:
    with tenant.schema():
        return ApiToken.objects.filter(pk=pk).exists()


def test_task_sent_in_tenant_a_runs_in_schema_a_only(tenants_pair, worker):
    saga, kanzaki = tenants_pair
    saga_token, kanzaki_token = _expired_token(saga), _expired_token(kanzaki)
    with schema_context(saga.schema_name):
        result = celery_app.send_task("accounts.tasks.purge_expired_tokens")
    assert result.get(timeout=20) >= 1
    assert not _exists(saga, saga_token)
    assert _exists(kanzaki, kanzaki_token), "a task sent for Saga touched Kanzaki's schema"
    with schema_context(kanzaki.schema_name):
        ApiToken.objects.filter(pk=kanzaki_token).delete()


def test_fan_out_runs_the_task_once_in_every_active_tenant(tenants_pair, worker):
    saga, kanzaki = tenants_pair
    tokens = {saga.schema_name: _expired_token(saga), kanzaki.schema_name: _expired_token(kanzaki)}
    result = celery_app.send_task("tenants.tasks.fan_out", args=["accounts.tasks.purge_expired_tokens"])
    schemas = result.get(timeout=20)
    assert set(schemas) >= {saga.schema_name, kanzaki.schema_name}
    deadline = timezone.now() + timedelta(seconds=20)
    while timezone.now() < deadline and (_exists(saga, tokens["saga"]) or _exists(kanzaki, tokens["kanzaki"])):
        pass
    assert not _exists(saga, tokens["saga"]) and not _exists(kanzaki, tokens["kanzaki"])


def test_the_beat_schedule_fans_out_over_tenants():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-expired-api-tokens"]
    assert entry["task"] == "tenants.tasks.fan_out"
    assert entry["args"][0] in celery_app.tasks


def test_send_to_every_tenant_skips_suspended(tenants_pair, db):
    saga, kanzaki = tenants_pair
    kanzaki.municipality.status = "suspended"
    kanzaki.municipality.save(update_fields=["status"])
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = f"{QUEUE}-unconsumed"
    try:
        assert send_to_every_tenant("accounts.tasks.purge_expired_tokens") == [saga.schema_name]
    finally:
        celery_app.conf.task_default_queue = previous
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(f"{QUEUE}-unconsumed")


def test_connection_reuse_and_tenant_cache_are_configured():
    assert celery_app.conf.get("CELERY_DB_REUSE_MAX") == settings.CELERY_DB_REUSE_MAX > 0
    assert celery_app.conf.task_tenant_cache_seconds == settings.CELERY_TASK_TENANT_CACHE_SECONDS > 0


def test_healthz_reports_celery_down_then_up(tenants_pair, django_db_blocker):
    saga = tenants_pair[0]
    _redis().delete(_heartbeat_key())
    with django_db_blocker.unblock():
        down = TenantApiClient(saga.host).get("/healthz")
    assert down.status_code == 503
    body = down.json()
    assert body["checks"]["celery"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok" and body["checks"]["redis"]["status"] == "ok"
    assert body["error"]["code"] == "service_unavailable" and "celery" in body["error"]["message_en"]


def test_healthz_ok_with_a_live_worker(tenants_pair, worker, django_db_blocker):
    with django_db_blocker.unblock():
        up = TenantApiClient(tenants_pair[0].host).get("/healthz")
    assert up.status_code == 200, up.content
    assert up.json() == {"status": "ok", "checks": {"database": {"status": "ok"}, "redis": {"status": "ok"},
                                                    "celery": {"status": "ok"}}}


def test_a_stopped_worker_takes_its_heartbeat_with_it(tenants_pair, django_db_blocker):
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = QUEUE
    try:
        with django_db_blocker.unblock():
            with start_worker(celery_app, pool="solo", perform_ping_check=False, queues=[QUEUE], shutdown_timeout=10):
                assert _redis().zcard(_heartbeat_key()) == 1
            _close_worker_connections()
            # Gone at once on shutdown: the probe does not wait for the heartbeat to go stale.
            assert TenantApiClient(tenants_pair[0].host).get("/healthz").status_code == 503
    finally:
        celery_app.conf.task_default_queue = previous


def test_healthz_reports_redis_down(tenants_pair, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    _redis.cache_clear()
    try:
        response = TenantApiClient("localhost").get("/healthz")
    finally:
        _redis.cache_clear()
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"]["status"] == "down" and checks["celery"]["status"] == "down"
    assert checks["database"]["status"] == "ok"
