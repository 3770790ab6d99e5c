"""The community app's only door to push notifications.

Everything the community app pushes (new posts to category followers, waiting-list promotions) goes
through `push_to_residents`, which hands an explicit list of residents (`{"user_ids": [...]}`
audience, per-device sends) to the notifications pipeline: devices, residents' muted topics, the
in-app inbox, FCM, retries and exactly-once delivery all live there.

These pushes are sent by the system on a resident's action, so they go through the notifications
app's `notification_send_system` (no staff sender, audited as `community`), not the staff path."""
from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from django.apps import apps

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


def push_to_residents(*, user_ids: list[int], push: Push) -> int:
    """Sends `push` to these residents' devices and inboxes (after commit); returns how many residents
    it reaches (those who muted the topic are left out, and a chunk where everyone did sends nothing)."""
    if not user_ids:
        return 0
    if not apps.is_installed("notifications"):
        log.warning("community_push_skipped_no_pipeline", residents=len(set(user_ids)), title=push.title)
        return 0
    from notifications.services import notification_send_system  # noqa: PLC0415  (optional app)

    created = notification_send_system(app="community", user_ids=user_ids, title=push.title, body=push.body,
                                       topic=push.topic, deep_link=push.deep_link[:500], data=push.data)
    return sum(notification.recipients for notification in created)
