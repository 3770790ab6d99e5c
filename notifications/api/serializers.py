"""Input and output serializers for the notifications API. Shape only; rules live in services."""
from __future__ import annotations

from rest_framework import serializers

from superapp.api.fields import StrictCharField

from ..models import ALWAYS_ON_TOPICS, MUTABLE_TOPICS, Device, Notification, Topic
from ..roles import STAFF_TOPICS

# The staff composer's topics (school is sent by the attendance app as the system, not from here).
STAFF_TOPIC_CHOICES = [(value, label) for value, label in Topic.choices if value in STAFF_TOPICS]


# --- devices ------------------------------------------------------------------------------------
class DeviceInput(serializers.Serializer):
    token = StrictCharField(max_length=1024, trim_whitespace=False,
                            help_text="FCM registration token of this app install.")
    platform = serializers.ChoiceField(choices=Device.Platform.choices)
    app_version = StrictCharField(max_length=32, required=False, allow_blank=True, default="")
    locale = StrictCharField(max_length=16, required=False, allow_blank=True, default="")


class DeviceOutput(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = ["id", "platform", "app_version", "locale", "registered_at"]


# --- preferences --------------------------------------------------------------------------------
class TopicSettingOutput(serializers.Serializer):
    topic = serializers.ChoiceField(choices=Topic.choices)
    label = serializers.CharField()
    label_en = serializers.CharField()
    enabled = serializers.BooleanField()
    can_mute = serializers.BooleanField()


class NotificationSettingsOutput(serializers.Serializer):
    topics = TopicSettingOutput(many=True)
    muted_topics = serializers.ListField(child=serializers.ChoiceField(choices=MUTABLE_TOPICS))

    @staticmethod
    def build(muted: list[str]) -> dict:
        topics = []
        for value, label in Topic.choices:
            ja, en = label.split(" / ")
            topics.append({"topic": value, "label": ja, "label_en": en, "enabled": value not in muted,
                           "can_mute": value not in ALWAYS_ON_TOPICS})
        return {"topics": topics, "muted_topics": sorted(muted)}


class NotificationSettingsInput(serializers.Serializer):
    muted_topics = serializers.ListField(
        child=serializers.ChoiceField(choices=MUTABLE_TOPICS), max_length=len(MUTABLE_TOPICS) + 5,
        help_text="Topics to mute; disaster (防災) is always on and cannot be muted.")


# --- audiences and staff notifications ----------------------------------------------------------
class AudienceInput(serializers.Serializer):
    """`{"everyone": true}` or criteria that must all match (any value within a list)."""

    everyone = serializers.BooleanField(required=False, help_text="Every resident (cannot be combined).")
    districts = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False,
                                      min_length=1, max_length=1000, help_text="District ids (小学校区).")
    interests = serializers.ListField(child=StrictCharField(max_length=32), required=False, min_length=1,
                                      max_length=1000)
    age_bands = serializers.ListField(
        child=serializers.RegexField(r"^\d{1,3}(-\d{1,3}|\+)$", max_length=7), required=False, min_length=1,
        max_length=20, help_text='Age this year (Asia/Tokyo), e.g. "20-29", "65+".')
    user_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, min_length=1,
                                     max_length=10000, help_text="An explicit list of residents.")


class AudienceSizeInput(serializers.Serializer):
    audience = AudienceInput()
    topic = serializers.ChoiceField(choices=STAFF_TOPIC_CHOICES, required=False,
                                    help_text="Leave out residents who muted this topic (none for disaster).")


class AudienceSizeOutput(serializers.Serializer):
    residents = serializers.IntegerField()
    devices = serializers.IntegerField()
    mode = serializers.ChoiceField(choices=Notification.Mode.choices)
    fcm_topics = serializers.ListField(child=serializers.CharField())


class NotificationInput(serializers.Serializer):
    title = StrictCharField(max_length=100)
    body = StrictCharField(max_length=1000)
    topic = serializers.ChoiceField(choices=STAFF_TOPIC_CHOICES)
    priority = serializers.ChoiceField(choices=Notification.Priority.choices, required=False,
                                       help_text="Default: high for disaster, normal otherwise.")
    audience = AudienceInput()
    deep_link = StrictCharField(max_length=500, required=False, allow_blank=True, default="")
    send_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                        help_text="Send later (scheduled); omit to send now.")


class NotificationStatsOutput(serializers.Serializer):
    targeted = serializers.IntegerField(help_text="Devices the notification is addressed to.")
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    pending = serializers.IntegerField()
    deactivated = serializers.IntegerField(help_text="Devices deactivated because FCM no longer knows them.")
    read = serializers.IntegerField(help_text="Residents who read it in the inbox.")
    opened = serializers.IntegerField(help_text="Residents who opened the push.")
    topic_messages = serializers.IntegerField()


class NotificationOutput(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "title", "body", "topic", "priority", "deep_link", "audience", "mode", "status", "send_at",
                  "created_by", "created_at", "dispatched_at", "completed_at"]

    def get_created_by(self, notification: Notification) -> str | None:
        user = notification.created_by
        return (user.display_name or user.username) if user else None


class NotificationDetailOutput(NotificationOutput):
    """With delivery stats; the view sets `notification.stats` from `selectors.notification_stats`."""

    stats = NotificationStatsOutput(read_only=True)

    class Meta(NotificationOutput.Meta):
        fields = NotificationOutput.Meta.fields + ["stats"]


# --- inbox --------------------------------------------------------------------------------------
class InboxItemOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    body = serializers.CharField()
    topic = serializers.ChoiceField(choices=Topic.choices)
    priority = serializers.ChoiceField(choices=Notification.Priority.choices)
    deep_link = serializers.CharField()
    sent_at = serializers.DateTimeField(source="dispatched_at")
    read_at = serializers.DateTimeField(allow_null=True)
    opened_at = serializers.DateTimeField(allow_null=True)


class InboxPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    unread_count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = InboxItemOutput(many=True)


class PageQueryInput(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, required=False, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=100, required=False, default=30)


InboxQueryInput = PageQueryInput


class NotificationPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = NotificationOutput(many=True)
