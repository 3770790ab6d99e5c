"""Reads for notifications: a resident's devices, preferences and inbox; staff's delivery stats.

A resident's inbox is resolved at read time: per-device notifications through their inbox rows,
broadcasts (stored once) through the resident's current district and muted topics.
"""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.http import Http404

from accounts.models import User

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
