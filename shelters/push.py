"""CAP alerts to residents: one high-priority disaster notification per alert, through the
notifications pipeline (topic broadcast to the affected districts, or to everyone)."""
from __future__ import annotations

from notifications.services import notification_create
from superapp.api.errors import ApiError

from .models import Alert


def _title(alert: Alert) -> str:
    return (alert.headline or alert.event)[:100]


def _body(alert: Alert) -> str:
    parts = [alert.description, alert.instruction]
    text = "\n".join(part for part in parts if part) or alert.event
    return text[:1000]


def alert_push(alert: Alert) -> int | None:
    """Creates the notification (sent on commit by the pipeline); None when nobody is in the
    audience, e.g. the named districts have no residents with the app."""
    audience = {"districts": alert.district_ids} if alert.district_ids else {"everyone": True}
    try:
        notification = notification_create(
            acting_user=alert.received_by, title=_title(alert), body=_body(alert), topic="disaster",
            audience=audience, priority="high", deep_link=f"/alerts/{alert.pk}",
        )
    except ApiError as exc:
        if exc.code == "empty_audience":
            return None
        raise
    return notification.pk
