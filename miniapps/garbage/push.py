"""The seam between garbage reminders and the notifications pipeline: one notification per reminder
group (topic `garbage`, per-device delivery to the group's residents, an inbox item each).

The notifications app has no service for system-initiated notifications yet (`notification_create`
checks a staff sender's role), so this module creates the rows the pipeline consumes and enqueues
them with `notification_enqueue`. When notifications grows such a service, only this module changes.
"""
from __future__ import annotations

from notifications.audience import MAX_USER_IDS
from notifications.models import Notification, Topic
from notifications.services import notification_enqueue

DEEP_LINK = "/miniapps/garbage"


def send_reminder_groups(batch: list[tuple[list[int], str, str]]) -> list[int]:
    """batch: [(user_ids, title, body), ...]; returns the ids of the notifications created. Sending
    starts when the caller's transaction commits."""
    rows = []
    for user_ids, title, body in batch:
        for start in range(0, len(user_ids), MAX_USER_IDS):
            rows.append(Notification(
                title=title[:100], body=body, topic=Topic.GARBAGE, priority=Notification.Priority.NORMAL,
                deep_link=DEEP_LINK, audience={"user_ids": user_ids[start:start + MAX_USER_IDS]},
                mode=Notification.Mode.DEVICE, status=Notification.Status.QUEUED,
            ))
    created = Notification.objects.bulk_create(rows)
    for notification in created:
        notification_enqueue(notification=notification)
    return [n.pk for n in created]
