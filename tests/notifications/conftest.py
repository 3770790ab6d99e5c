"""Fixtures for the notifications tests: a real fake-FCM server (HTTP, in a thread) that the real
firebase-admin code path talks to through FCM_ENDPOINT, a real Celery worker thread on this test
process's own queues, and clean-up for tests that commit."""
from __future__ import annotations

import os

import pytest
import requests
from celery.contrib.testing.worker import start_worker
from django.db import connection

from notifications.fake_fcm import ThreadedFakeFcm, read_log
from notifications.models import Device, Notification, NotificationPreference, OutboundEmail
from superapp.celery import app as celery_app

from .helpers import created_users

WORKER_ID = os.environ.get("PYTEST_XDIST_WORKER", "main")
QUEUE = f"test-notif-{WORKER_ID}"
DISASTER_QUEUE = f"test-notif-disaster-{WORKER_ID}"


class FakeFcmFixture:
    def __init__(self, server: ThreadedFakeFcm, log_path) -> None:
        self.server, self.log_path = server, log_path

    @property
    def url(self) -> str:
        return self.server.url

    def log(self) -> list[dict]:
        return read_log(self.log_path)

    def stats(self) -> dict:
        return requests.get(f"{self.url}/_fake/stats", timeout=5).json()["stats"]

    def topic_tokens(self, topic: str) -> set[str]:
        return set(requests.get(f"{self.url}/_fake/topics/{topic}", timeout=5).json()["tokens"])

    def reset(self) -> None:
        requests.post(f"{self.url}/_fake/reset", timeout=5).raise_for_status()


@pytest.fixture(scope="session")
def _fake_fcm_server(tmp_path_factory):
    log_path = tmp_path_factory.mktemp("fcm") / "fcm.log"
    server = ThreadedFakeFcm(log_path=log_path).start()
    yield FakeFcmFixture(server, log_path)
    server.stop()


@pytest.fixture
def fake_fcm(_fake_fcm_server, settings):
    """The fake FCM server with no subscriptions and an empty log; FCM_ENDPOINT points at it."""
    _fake_fcm_server.reset()
    settings.FCM_ENDPOINT = _fake_fcm_server.url
    return _fake_fcm_server


def _close_other_connections() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")


def _purge(*queues: str) -> None:
    with celery_app.connection_for_write() as conn:
        for queue in queues:
            conn.default_channel.queue_purge(queue)


@pytest.fixture
def committed(tenants_pair, django_db_blocker):
    """For tests whose data a worker must see: no test transaction; everything the test created in
    notifications (and the residents it made with helpers) is deleted afterwards."""
    with django_db_blocker.unblock():
        yield tenants_pair
        for tenant in tenants_pair:
            with tenant.schema():
                Notification.objects.all().delete()
                Device.objects.all().delete()
                NotificationPreference.objects.all().delete()
                OutboundEmail.objects.all().delete()
                created_users(tenant).delete()
        connection.set_schema_to_public()


@pytest.fixture
def worker(committed, fake_fcm, settings, django_db_blocker):
    """A real Celery worker thread consuming this process's routine and disaster queues."""
    settings.CELERY_DISASTER_QUEUE = DISASTER_QUEUE
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 0.2
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = QUEUE
    with django_db_blocker.unblock():
        _purge(QUEUE, DISASTER_QUEUE)
        with start_worker(celery_app, pool="solo", perform_ping_check=False, queues=[DISASTER_QUEUE, QUEUE],
                          shutdown_timeout=20) as running:
            yield running
        connection.set_schema_to_public()
        _close_other_connections()
    celery_app.conf.task_default_queue = previous
