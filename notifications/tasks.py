"""Celery tasks of the push pipeline and the email channel. Each takes ids, runs in the schema it
was sent from (tenant-schemas-celery) and is idempotent; `acks_late` so a task whose worker dies is
delivered again, which the pipeline makes harmless (see pipeline.py)."""
from __future__ import annotations

from django.conf import settings

from superapp.celery import app

from . import pipeline, services
from .models import Notification, OutboundEmail, Topic

# Retries are counted by Celery; the per-token attempt count (NOTIFICATIONS_MAX_ATTEMPTS) decides
# when a token's failure is final, so the task may retry once more than that.
_RETRY_OPTIONS = {"bind": True, "acks_late": True, "max_retries": None}


def queue_for(notification: Notification) -> str | None:
    """Disaster notifications go on their own queue; the rest on the default queue."""
    return settings.CELERY_DISASTER_QUEUE if notification.topic == Topic.DISASTER else None


@app.task(name="notifications.tasks.dispatch", **_RETRY_OPTIONS)
def dispatch(self, notification_id: int) -> str:
    what = pipeline.dispatch(notification_id)
    if what == "topic":
        outcome = pipeline.send_topic_messages(notification_id)
        if outcome.retry:
            raise self.retry(countdown=pipeline.backoff_seconds(self.request.retries))
    return what


@app.task(name="notifications.tasks.send_chunk", **_RETRY_OPTIONS)
def send_chunk(self, notification_id: int, low: int, high: int) -> dict:
    outcome = pipeline.send_chunk(notification_id, low, high)
    if outcome.retry:
        raise self.retry(countdown=pipeline.backoff_seconds(self.request.retries))
    return outcome.__dict__


@app.task(name="notifications.tasks.dispatch_due", acks_late=True)
def dispatch_due() -> dict:
    return pipeline.dispatch_due()


@app.task(name="notifications.tasks.sync_topic_subscriptions", acks_late=True)
def sync_topic_subscriptions() -> dict:
    return pipeline.sync_topic_subscriptions()


@app.task(name="notifications.tasks.deliver_email", **_RETRY_OPTIONS)
def deliver_email(self, email_id: int) -> str:
    status = services.email_deliver(email_id=email_id)
    if status == OutboundEmail.Status.PENDING:
        raise self.retry(countdown=pipeline.backoff_seconds(self.request.retries))
    return status
