"""Push notifications of one municipality: residents' devices and topic preferences, the
notifications staff send, per-device and per-topic delivery records, the inbox, outbound email."""
from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q


class Topic(models.TextChoices):
    """What a notification is about. Residents may mute every topic except disaster."""

    DISASTER = "disaster", "防災・災害情報 / Disaster"
    GARBAGE = "garbage", "ごみ収集 / Garbage"
    COMMUNITY = "community", "地域の話題 / Community"
    EVENTS = "events", "イベント / Events"
    CITY_NEWS = "city_news", "市からのお知らせ / City news"
    SCHOOL = "school", "学校からの連絡 / School"


ALWAYS_ON_TOPICS = frozenset({Topic.DISASTER})
MUTABLE_TOPICS: tuple[str, ...] = tuple(t for t in Topic.values if t not in ALWAYS_ON_TOPICS)
# Topics only the system sends (`services.notification_send_system`), to explicit users, one message
# per device: no FCM topic subscriptions (no broadcast can reach them) and not in the staff composer.
PERSONAL_TOPICS = frozenset({Topic.SCHOOL})
BROADCAST_TOPICS: tuple[str, ...] = tuple(t for t in Topic.values if t not in PERSONAL_TOPICS)


class Device(models.Model):
    """An app install's FCM registration token. A token belongs to one resident at a time;
    registering it again moves it. Removal and UNREGISTERED errors deactivate, never delete, so
    delivery records keep their device and the topic sync can unsubscribe the token."""

    class Platform(models.TextChoices):
        IOS = "ios", "iOS"
        ANDROID = "android", "Android"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="devices")
    token = models.CharField(max_length=1024, unique=True)
    platform = models.CharField(max_length=8, choices=Platform.choices)
    app_version = models.CharField(max_length=32, blank=True)
    locale = models.CharField(max_length=16, blank=True)
    is_active = models.BooleanField(default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivated_reason = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    registered_at = models.DateTimeField()
    # FCM topic subscriptions as last confirmed by FCM, and whether they may differ from what the
    # resident's district and preferences call for (`topics_version` guards against a change that
    # lands while a sync of the older state is in flight).
    subscribed_topics = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    topics_dirty = models.BooleanField(default=True)
    topics_version = models.PositiveIntegerField(default=1)
    topics_claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "is_active"]),
            models.Index(fields=["id"], condition=Q(topics_dirty=True), name="device_topics_dirty"),
            # Devices subscribed to a topic, for a broadcast's delivery stats.
            GinIndex(fields=["subscribed_topics"], name="device_subscribed_topics"),
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.token[:12]}…"


class NotificationPreference(models.Model):
    """Topics a resident muted; residents without a row receive every topic."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="notification_preference")
    muted_topics = ArrayField(models.CharField(max_length=16, choices=Topic.choices), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class Notification(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "予約済み / Scheduled"
        QUEUED = "queued", "送信待ち / Queued"
        SENDING = "sending", "送信中 / Sending"
        SENT = "sent", "送信済み / Sent"
        CANCELLED = "cancelled", "取消 / Cancelled"

    class Priority(models.TextChoices):
        NORMAL = "normal", "通常 / Normal"
        HIGH = "high", "高 / High"

    class Mode(models.TextChoices):
        # Everyone / district audiences: one FCM message per topic; the inbox resolves it per
        # resident at read time. Everything else: one message per device, one inbox row per resident.
        TOPIC = "topic", "トピック配信 / Topic broadcast"
        DEVICE = "device", "端末ごとの配信 / Per-device"

    title = models.CharField(max_length=100)
    body = models.TextField(max_length=1000)
    topic = models.CharField(max_length=16, choices=Topic.choices)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    deep_link = models.CharField(max_length=500, blank=True)
    # Extra string values for the push payload (system sends: e.g. {"report": "12"}); the pipeline's
    # own keys (notification_id, topic, deep_link) take precedence.
    data = models.JSONField(default=dict, blank=True)
    audience = models.JSONField(default=dict)
    mode = models.CharField(max_length=8, choices=Mode.choices)
    # For topic broadcasts: who the inbox shows it to (everyone, or residents of these districts).
    broadcast_everyone = models.BooleanField(default=False)
    broadcast_districts = ArrayField(models.BigIntegerField(), default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    send_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)  # inbox-visible from here
    completed_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)  # last chunk or fan-out step committed
    # Per-device fan-out: last device id materialised into deliveries, and whether all are.
    fanout_cursor = models.BigIntegerField(default=0)
    fanout_done = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "send_at"]),
            models.Index(fields=["-dispatched_at"], condition=Q(mode="topic"), name="notification_broadcasts"),
        ]

    def __str__(self) -> str:
        return f"[{self.topic}] {self.title}"

    @property
    def is_disaster(self) -> bool:
        return self.topic == Topic.DISASTER


class SystemSendKey(models.Model):
    """The idempotency key of a system send (`notification_send_system(key=...)`): claimed once, in
    the same transaction as the notifications it created, so the same key never sends again."""

    key = models.CharField(max_length=200, unique=True)
    app = models.CharField(max_length=40)
    notification_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key


class Delivery(models.Model):
    """One device's copy of a per-device notification: the unit of idempotency. A chunk task only
    sends deliveries still pending, so a retried or redelivered chunk never sends twice."""

    class Status(models.TextChoices):
        PENDING = "pending", "未送信 / Pending"
        SENT = "sent", "送信済み / Sent"
        FAILED = "failed", "失敗 / Failed"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    message_name = models.CharField(max_length=200, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notification", "device"], name="delivery_once_per_device")]
        indexes = [models.Index(fields=["notification", "status", "device"])]


class TopicMessage(models.Model):
    """One FCM topic message of a broadcast (one per municipality- or district-topic)."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="topic_messages")
    fcm_topic = models.CharField(max_length=100)
    device_count = models.PositiveIntegerField(default=0)  # subscribed devices when sent
    status = models.CharField(max_length=8, choices=Delivery.Status.choices, default=Delivery.Status.PENDING)
    message_name = models.CharField(max_length=200, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notification", "fcm_topic"], name="topic_message_once")]


class InboxEntry(models.Model):
    """A resident's inbox row. Pre-created for per-device notifications; for broadcasts created
    only when the resident reads or opens it (the broadcast itself is stored once)."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="inbox_entries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox_entries")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "notification"], name="inbox_entry_once")]
        indexes = [models.Index(fields=["notification", "opened_at"])]


class OutboundEmail(models.Model):
    """A rendered email waiting for (or done with) the SMTP hand-off; the task sends it once."""

    class Status(models.TextChoices):
        PENDING = "pending", "未送信 / Pending"
        SENT = "sent", "送信済み / Sent"
        FAILED = "failed", "失敗 / Failed"

    to = ArrayField(models.EmailField())
    template = models.CharField(max_length=64)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
