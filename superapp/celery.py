"""The Celery app. tenant-schemas-celery stamps the current schema on every task sent and switches
the worker's connection to it before the task runs, so tasks are written tenant-unaware."""
from __future__ import annotations

import os

from celery import bootsteps
from tenant_schemas_celery.app import CeleryApp as TenantAwareCeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "superapp.settings")

app = TenantAwareCeleryApp("superapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _apply_connection_reuse() -> None:
    # Celery's Django fixup reads this literal key; under the CELERY_ namespace it would be renamed.
    from django.conf import settings

    app.conf.CELERY_DB_REUSE_MAX = settings.CELERY_DB_REUSE_MAX


app.on_after_configure.connect(lambda **_: _apply_connection_reuse(), weak=False)


class HeartbeatStep(bootsteps.StartStopStep):
    """Writes this worker's heartbeat to Redis so /healthz can tell whether any worker is alive
    without a broadcast round-trip on every probe."""

    requires = {"celery.worker.components:Timer"}

    def start(self, worker):
        from superapp.health import worker_heartbeat

        worker_heartbeat(worker.hostname)
        from django.conf import settings

        self._timer = worker.timer.call_repeatedly(
            settings.CELERY_HEARTBEAT_SECONDS, worker_heartbeat, (worker.hostname,), priority=10
        )

    def stop(self, worker):
        from superapp.health import worker_gone

        timer = getattr(self, "_timer", None)
        if timer is not None:
            timer.cancel()
        worker_gone(worker.hostname)

    # A cold shutdown (second Ctrl-C, SIGQUIT) terminates steps instead of stopping them.
    terminate = stop


app.steps["worker"].add(HeartbeatStep)


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Sends `task` once the current transaction commits, in the schema that is current NOW.

    `task.delay_on_commit` reads the schema when the commit happens; by then the connection may be
    on another schema (a management command looping over municipalities, a test client that
    restores the schema after a request), and the task would run in the wrong one."""
    from django.db import connection, transaction

    headers = {"_schema_name": connection.schema_name}
    transaction.on_commit(lambda: task.apply_async(args=args, kwargs=kwargs, headers=headers))
