"""The community app's only door to push notifications.

Everything the community app pushes (new posts to category followers, waiting-list promotions) goes
through `push_to_residents`, which hands an explicit list of residents to the notifications pipeline
(devices, per-resident topic preferences, inbox, FCM). Keeping it in one function means the pipeline
can change without touching the community code."""
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
    """Sends `push` to these residents' devices and inboxes; returns how many residents were targeted."""
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return 0
    if not apps.is_installed("notifications"):
        log.warning("community_push_skipped_no_pipeline", residents=len(user_ids), title=push.title)
        return 0
    from notifications.services import notification_send_to_users  # noqa: PLC0415  (optional app)

    notification_send_to_users(user_ids=user_ids, title=push.title, body=push.body, topic=push.topic,
                               deep_link=push.deep_link, data=push.data)
    return len(user_ids)
