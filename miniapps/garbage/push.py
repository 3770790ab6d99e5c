"""The seam between garbage reminders and the notifications pipeline: one system notification per
reminder group (topic `garbage`, per-device delivery to the group's residents, an inbox item each),
through `notifications.services.notification_send_system`."""
from __future__ import annotations

from notifications.models import Topic
from notifications.services import notification_send_system

DEEP_LINK = "/miniapps/garbage"


def send_reminder_groups(batch: list[tuple[list[int], str, str]]) -> list[int]:
    """batch: [(user_ids, title, body), ...]; returns the ids of the notifications created (none for
    a group whose residents all muted garbage reminders). Sending starts when the caller's
    transaction commits; the caller's dispatch records make a repeated tick send nothing twice."""
    ids: list[int] = []
    for user_ids, title, body in batch:
        ids += [n.pk for n in notification_send_system(app="garbage", user_ids=user_ids, title=title, body=body,
                                                       topic=Topic.GARBAGE, deep_link=DEEP_LINK)]
    return ids
