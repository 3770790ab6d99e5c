"""The community app's only door to push notifications.

Everything the community app pushes (new posts to category followers, waiting-list promotions) goes
through `push_to_residents`, which hands an explicit list of residents (`{"user_ids": [...]}`
audience, per-device sends) to the notifications pipeline: devices, residents' muted topics, the
in-app inbox, FCM, retries and exactly-once delivery all live there.

The notifications app's public `notification_create` is the staff path (it checks the sender's
role); these pushes are sent by the system on a resident's action, so this module creates the
notification row the same way and enqueues it with `notification_enqueue`. If the notifications app
grows a system-send service, this is the one function to switch over."""
from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from django.apps import apps
from django.db import transaction

from accounts.services import audit_record

log = structlog.get_logger(__name__)

# The notifications pipeline's topic for community pushes (residents can mute it).
TOPIC = "community"


@dataclass(frozen=True)
class Push:
    title: str
    body: str
    deep_link: str
    data: dict[str, str] = field(default_factory=dict)
    topic: str = TOPIC


def _chunks(values: list[int], size: int):
    for start in range(0, len(values), size):
        yield values[start:start + size]


@transaction.atomic
def push_to_residents(*, user_ids: list[int], push: Push) -> int:
    """Sends `push` to these residents' devices and inboxes (after commit); returns how many residents
    it reaches (those who muted the topic are left out by the pipeline)."""
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return 0
    if not apps.is_installed("notifications"):
        log.warning("community_push_skipped_no_pipeline", residents=len(user_ids), title=push.title)
        return 0
    from notifications import audience as audiences  # noqa: PLC0415  (optional app)
    from notifications.models import Notification  # noqa: PLC0415
    from notifications.services import notification_enqueue  # noqa: PLC0415

    reached = 0
    for chunk in _chunks(user_ids, audiences.MAX_USER_IDS):
        parsed = audiences.audience_parse({"user_ids": chunk})
        residents = audiences.audience_size(parsed, push.topic)["residents"]
        if residents == 0:
            continue  # everyone in this chunk muted the topic (or left): nothing to send
        notification = Notification.objects.create(
            title=push.title[:100], body=push.body[:1000], topic=push.topic, priority=Notification.Priority.NORMAL,
            deep_link=push.deep_link[:500], audience=parsed.as_json(), mode=Notification.Mode.DEVICE,
            status=Notification.Status.QUEUED, created_by=None,
        )
        audit_record(actor=None, action="notification.create", target=notification,
                     data={"topic": push.topic, "mode": notification.mode, "by": "community",
                           "kind": push.data.get("kind", ""), "residents": residents})
        notification_enqueue(notification=notification)
        reached += residents
    return reached
