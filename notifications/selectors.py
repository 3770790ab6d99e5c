"""Reads for notifications: a resident's devices, preferences and inbox; staff's delivery stats.

A resident's inbox is resolved at read time: per-device notifications through their inbox rows,
broadcasts (stored once) through the resident's current district and muted topics.
"""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Exists, F, Func, OuterRef, Q, QuerySet, Subquery, Sum
from django.http import Http404

from accounts.models import User

from . import audience as audiences
from .models import ALWAYS_ON_TOPICS, Delivery, Device, InboxEntry, Notification, NotificationPreference, TopicMessage


def access_device(*, user: User, device_id: int) -> Device:
    """The resident's active device, or the same 404 for "missing" and "not yours"."""
    device = Device.objects.filter(pk=device_id, user=user, is_active=True).first()
    if device is None:
        raise Http404
    return device


def muted_topics(*, user: User) -> list[str]:
    return list(NotificationPreference.objects.filter(user=user).values_list("muted_topics", flat=True).first() or [])


def _visible_q(user: User, muted: list[str]) -> Q:
    own = Exists(InboxEntry.objects.filter(notification=OuterRef("pk"), user=user))
    personal = Q(mode=Notification.Mode.DEVICE) & own
    if user.kind != User.Kind.RESIDENT:  # staff: only what was sent to them by name
        return Q(dispatched_at__isnull=False) & personal
    joined_since = user.date_joined - timedelta(days=settings.NOTIFICATIONS_INBOX_BACKFILL_DAYS)
    reach = Q(broadcast_everyone=True)
    if user.district_id is not None:
        reach |= Q(broadcast_districts__contains=[user.district_id])
    broadcast = Q(mode=Notification.Mode.TOPIC, dispatched_at__gte=joined_since) & reach
    mutable_muted = [topic for topic in muted if topic not in ALWAYS_ON_TOPICS]
    if mutable_muted:
        broadcast &= ~Q(topic__in=mutable_muted)
    return Q(dispatched_at__isnull=False) & (broadcast | personal)


def inbox(*, user: User, muted: list[str]) -> QuerySet[Notification]:
    """Notifications in the resident's inbox, newest first, with their read/opened times."""
    entry = InboxEntry.objects.filter(notification=OuterRef("pk"), user=user)
    return (Notification.objects.filter(_visible_q(user, muted))
            .annotate(read_at=Subquery(entry.values("read_at")[:1]), opened_at=Subquery(entry.values("opened_at")[:1]))
            .only("pk", "title", "body", "topic", "priority", "deep_link", "dispatched_at")
            .order_by("-dispatched_at", "-pk"))


def inbox_counts(*, user: User, muted: list[str]) -> dict[str, int]:
    return inbox(user=user, muted=muted).aggregate(count=Count("pk"), unread=Count("pk", filter=Q(read_at__isnull=True)))


def access_inbox_item(*, user: User, notification_id: int) -> Notification:
    """A notification in the resident's inbox, or the same 404 for "missing" and "not yours"."""
    notification = Notification.objects.filter(_visible_q(user, muted_topics(user=user)), pk=notification_id).first()
    if notification is None:
        raise Http404
    return notification


# --- staff --------------------------------------------------------------------------------------
def access_notification(*, notification_id: int) -> Notification:
    notification = Notification.objects.select_related("created_by").filter(pk=notification_id).first()
    if notification is None:
        raise Http404
    return notification


def audience_preview(*, audience: dict, topic: str) -> dict:
    """What an audience reaches now, before sending: residents and devices (one query), how it would
    be sent (topic broadcast or per device) and the FCM topics of a broadcast. Raises ApiError
    (`validation_error`, fields `audience.<criterion>`) for an invalid audience."""
    parsed = audiences.audience_parse(audience)
    size = audiences.audience_size(parsed, topic)
    return {**size, "mode": Notification.Mode.TOPIC if parsed.is_broadcast else Notification.Mode.DEVICE,
            "fcm_topics": audiences.broadcast_topics(parsed, schema=connection.schema_name, topic=topic)
            if parsed.is_broadcast else []}


INTEREST_TAGS_CACHE_SECONDS = 300


def audience_interest_tags(*, minimum_residents: int, limit: int = 50) -> list[str]:
    """The interest tags residents use most, for staff building an audience. Tags fewer than
    `minimum_residents` residents chose are left out: residents type them, and a rare one could
    name a person. Cached per municipality for a few minutes (the cache key carries the schema)."""
    key = f"notifications:interest-tags:{minimum_residents}:{limit}"
    tags = cache.get(key)
    if tags is None:
        rows = (User.objects.filter(kind=User.Kind.RESIDENT, is_active=True)
                .annotate(tag=Func(F("interests"), function="unnest")).values("tag")
                .annotate(residents=Count("pk")).filter(residents__gte=max(1, minimum_residents))
                .order_by("-residents", "tag")[:limit])
        tags = [row["tag"] for row in rows]
        cache.set(key, tags, INTEREST_TAGS_CACHE_SECONDS)
    return tags


def notification_stats(*, notification: Notification) -> dict[str, int]:
    """targeted, sent, failed, pending, deactivated (devices), read and opened (residents)."""
    opened = InboxEntry.objects.filter(notification=notification).aggregate(
        read=Count("pk", filter=Q(read_at__isnull=False)), opened=Count("pk", filter=Q(opened_at__isnull=False)))
    if notification.mode == Notification.Mode.TOPIC:
        rows = TopicMessage.objects.filter(notification=notification).aggregate(
            targeted=Sum("device_count", default=0),
            sent=Sum("device_count", filter=Q(status=Delivery.Status.SENT), default=0),
            failed=Sum("device_count", filter=Q(status=Delivery.Status.FAILED), default=0),
            pending=Sum("device_count", filter=Q(status=Delivery.Status.PENDING), default=0),
            topic_messages=Count("pk"),
        )
        rows["deactivated"] = 0
    else:
        rows = Delivery.objects.filter(notification=notification).aggregate(
            targeted=Count("pk"),
            sent=Count("pk", filter=Q(status=Delivery.Status.SENT)),
            failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
            pending=Count("pk", filter=Q(status=Delivery.Status.PENDING)),
            deactivated=Count("pk", filter=Q(error_code="UNREGISTERED")),
        )
        rows["topic_messages"] = 0
    return {**rows, **opened}


def notification_list() -> QuerySet[Notification]:
    return Notification.objects.select_related("created_by").order_by("-created_at", "-pk")


_EMPTY_STATS = {"targeted": 0, "sent": 0, "failed": 0, "pending": 0, "deactivated": 0, "topic_messages": 0,
                "read": 0, "opened": 0}


def notification_stats_many(*, notifications: list[Notification]) -> dict[int, dict[str, int]]:
    """`notification_stats` for a page of notifications in three grouped queries (per-device
    deliveries, topic messages, inbox rows), whatever the page holds."""
    stats = {notification.pk: dict(_EMPTY_STATS) for notification in notifications}
    # Deliveries exist only for per-device notifications and topic messages only for broadcasts:
    # asking for the whole page keeps the number of queries the same whatever the page's mix.
    ids = list(stats)
    deliveries = (Delivery.objects.filter(notification_id__in=ids).values("notification_id").annotate(
        targeted=Count("pk"),
        sent=Count("pk", filter=Q(status=Delivery.Status.SENT)),
        failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
        pending=Count("pk", filter=Q(status=Delivery.Status.PENDING)),
        deactivated=Count("pk", filter=Q(error_code="UNREGISTERED")),
    ).order_by())
    topic_messages = (TopicMessage.objects.filter(notification_id__in=ids).values("notification_id").annotate(
        targeted=Sum("device_count", default=0),
        sent=Sum("device_count", filter=Q(status=Delivery.Status.SENT), default=0),
        failed=Sum("device_count", filter=Q(status=Delivery.Status.FAILED), default=0),
        pending=Sum("device_count", filter=Q(status=Delivery.Status.PENDING), default=0),
        topic_messages=Count("pk"),
    ).order_by())
    inbox_rows = (InboxEntry.objects.filter(notification_id__in=ids).values("notification_id").annotate(
        read=Count("pk", filter=Q(read_at__isnull=False)), opened=Count("pk", filter=Q(opened_at__isnull=False)),
    ).order_by())
    for rows in (deliveries, topic_messages, inbox_rows):
        for row in rows:
            stats[row.pop("notification_id")].update(row)
    return stats
