"""Celery tasks of the garbage calendar. The beat runs `send_due_reminders` every five minutes in
every municipality (tenants.tasks.fan_out); the task is idempotent."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from superapp.celery import app

from .models import ReminderDispatch
from .reminders import reminder_tick

KEEP_DISPATCH_RECORDS = timedelta(days=31)


@app.task(name="miniapps.garbage.tasks.send_due_reminders", acks_late=True)
def send_due_reminders() -> dict:
    report = reminder_tick()
    # Idempotency records are only needed while a tick could still reach their date.
    ReminderDispatch.objects.filter(collection_date__lt=timezone.localdate() - KEEP_DISPATCH_RECORDS).delete()
    return {"window": report.window, "groups": report.groups, "sent_groups": report.sent_groups,
            "recipients": report.recipients, "empty_groups": report.empty_groups, "already_sent": report.already_sent}
