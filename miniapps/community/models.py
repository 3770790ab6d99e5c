"""Community boards of a municipality's school districts: posts (with images, tags, an optional event
and an optional map location), comments, RSVPs, thank-yous and their points ledger, reports and
district suspensions. Every table lives in the municipality's own schema."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import District


class Category(models.TextChoices):
    """Board categories. Values are the API contract; labels are 日本語 / English."""

    NOTICE = "notice", "お知らせ / Notice"
    EVENT = "event", "イベント / Event"
    DISASTER = "disaster", "防災 / Disaster prevention"
    CHILDCARE = "childcare", "子育て / Child-rearing"
    TRAFFIC_SAFETY = "traffic_safety", "交通安全 / Traffic safety"
    HISTORY = "history", "歴史 / History"
    OTHER = "other", "その他 / Other"


class Post(models.Model):
    class Status(models.TextChoices):
        VISIBLE = "visible", "公開 / Visible"
        HIDDEN = "hidden", "非表示 / Hidden by a moderator"

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="community_posts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_posts")
    category = models.CharField(max_length=32, choices=Category.choices)
    title = models.CharField(max_length=100)
    body = models.TextField(max_length=4000, blank=True)
    tags = ArrayField(models.CharField(max_length=20), default=list, blank=True)
    # A map post (デジタルマップ) has a location; decimal degrees, WGS84.
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.VISIBLE)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_reason = models.CharField(max_length=500, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    comment_count = models.PositiveIntegerField(default=0)
    thanks_count = models.PositiveIntegerField(default=0)
    # Set once the followers' push has been handed to the notifications pipeline (idempotent task).
    notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The district feed: newest first, visible posts only.
            models.Index(fields=["district", "-created_at", "-id"], name="community_feed_idx",
                         condition=Q(status="visible", deleted_at__isnull=True)),
            # The map: visible located posts of a district inside a bounding box.
            models.Index(fields=["district", "latitude", "longitude"], name="community_map_idx",
                         condition=Q(status="visible", deleted_at__isnull=True, latitude__isnull=False)),
            GinIndex(fields=["tags"], name="community_post_tags_gin"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                name="community_post_location_complete"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_visible(self) -> bool:
        return self.status == self.Status.VISIBLE and self.deleted_at is None

    @property
    def has_location(self) -> bool:
        return self.latitude is not None


def _image_path(instance: "PostImage", filename: str) -> str:
    # Random names: a photo's URL cannot be guessed from its post or its neighbours.
    return f"community/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{filename[filename.rfind('.'):]}"


class PostImage(models.Model):
    """An uploaded photo, re-encoded without metadata. Unattached (post is null) until a post claims it."""

    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField(default=0)
    image = models.FileField(upload_to=_image_path, max_length=200)
    thumbnail = models.FileField(upload_to=_image_path, max_length=200)
    content_type = models.CharField(max_length=32)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["post", "position"]),
                   models.Index(fields=["created_at"], name="community_orphan_img_idx", condition=Q(post__isnull=True))]


class Comment(models.Model):
    class Status(models.TextChoices):
        VISIBLE = "visible", "公開 / Visible"
        HIDDEN = "hidden", "非表示 / Hidden by a moderator"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_comments")
    body = models.TextField(max_length=1000)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.VISIBLE)
    hidden_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    thanks_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["post", "created_at", "id"])]

    @property
    def is_visible(self) -> bool:
        return self.status == self.Status.VISIBLE and self.deleted_at is None


class Event(models.Model):
    """The event side of a post: its id is the post's id, so /events/{id}/ and /posts/{id}/ agree."""

    post = models.OneToOneField(Post, primary_key=True, on_delete=models.CASCADE, related_name="event")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    place = models.CharField(max_length=200)
    capacity = models.PositiveIntegerField(null=True, blank=True, help_text="null: no limit")
    rsvp_deadline = models.DateTimeField()
    joined_count = models.PositiveIntegerField(default=0)
    waiting_count = models.PositiveIntegerField(default=0)
    # オープンデータ: published in the municipality's イベント一覧 (CC BY) only when the organiser or a
    # community moderator says so; residents' posts are not public by default.
    open_data = models.BooleanField("オープンデータとして公開 / Publish as open data", default=False)
    open_data_since = models.DateTimeField(null=True, blank=True,
                                           help_text="When it was last marked for open data (掲載開始日)")

    class Meta:
        indexes = [models.Index(fields=["starts_at", "post"], name="community_event_open_data_idx",
                                condition=Q(open_data=True))]
        constraints = [
            # The last line of defence for "concurrent joins never exceed capacity".
            models.CheckConstraint(condition=Q(capacity__isnull=True) | Q(joined_count__lte=models.F("capacity")),
                                   name="community_event_within_capacity"),
            models.CheckConstraint(condition=Q(rsvp_deadline__lte=models.F("starts_at")),
                                   name="community_event_deadline_before_start"),
            models.CheckConstraint(condition=Q(open_data=False) | Q(open_data_since__isnull=False),
                                   name="community_event_open_data_since"),
        ]

    @property
    def id(self) -> int:
        return self.post_id

    def is_open(self, now=None) -> bool:
        return (now or timezone.now()) < self.rsvp_deadline


class Rsvp(models.Model):
    class Answer(models.TextChoices):
        JOIN = "join", "参加 / Join"
        DECLINE = "decline", "不参加 / Decline"

    class Status(models.TextChoices):
        GOING = "going", "参加確定 / Going"
        WAITING = "waiting", "キャンセル待ち / Waiting list"
        DECLINED = "declined", "不参加 / Declined"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="rsvps")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_rsvps")
    answer = models.CharField(max_length=8, choices=Answer.choices)
    status = models.CharField(max_length=8, choices=Status.choices)
    # Place in the waiting list: the moment this person joined the queue (first come, first promoted).
    queued_at = models.DateTimeField(null=True, blank=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    promotion_notified_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "user"], name="community_one_rsvp_per_person")]
        indexes = [models.Index(fields=["event", "status", "queued_at", "id"])]


class Thanks(models.Model):
    """「ありがとう」 to a post or to a comment: once per target per person, never to oneself."""

    giver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="thanks")
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="thanks")
    # What this thank-you actually credited (0 once the giver's monthly cap for this author is reached).
    points = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["giver", "post"], condition=Q(comment__isnull=True),
                                    name="community_thanks_once_per_post"),
            models.UniqueConstraint(fields=["giver", "comment"], condition=Q(comment__isnull=False),
                                    name="community_thanks_once_per_comment"),
            models.CheckConstraint(condition=~Q(giver=models.F("recipient")), name="community_thanks_not_self"),
        ]
        indexes = [models.Index(fields=["giver", "created_at"]),
                   models.Index(fields=["giver", "recipient", "created_at"])]


class PointsAccount(models.Model):
    """The running balance, locked while an entry is appended so entries chain without gaps."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="community_points")
    balance = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)


class PointsEntry(models.Model):
    """地域貢献ポイント ledger. Append-only (a database trigger refuses UPDATE): corrections are new
    entries, and every entry carries the balance after it, so balance == sum(amount) is checkable."""

    class Kind(models.TextChoices):
        THANKS = "thanks", "ありがとう / Thank-you received"
        MODERATION_REVERSAL = "moderation_reversal", "非表示による取消 / Reversed: content hidden"
        MODERATION_RESTORE = "moderation_restore", "再表示による復元 / Restored: content shown again"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_points_entries")
    amount = models.IntegerField()
    balance_after = models.IntegerField()
    kind = models.CharField(max_length=32, choices=Kind.choices)
    thanks = models.ForeignKey(Thanks, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    district = models.ForeignKey(District, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at", "-id"]),
                   models.Index(fields=["district", "created_at"])]


class CategoryFollow(models.Model):
    """A resident follows a category: new posts of that category in their district are pushed to them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_follows")
    category = models.CharField(max_length=32, choices=Category.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "category"], name="community_follow_once")]
        indexes = [models.Index(fields=["category", "user"])]


class PostReport(models.Model):
    class Reason(models.TextChoices):
        SPAM = "spam", "宣伝・スパム / Spam or advertising"
        ABUSE = "abuse", "誹謗中傷・嫌がらせ / Abuse or harassment"
        PRIVACY = "privacy", "個人情報・プライバシー / Personal information"
        DANGEROUS = "dangerous", "危険・違法 / Dangerous or illegal"
        MISINFORMATION = "misinformation", "誤った情報 / Misinformation"
        OTHER = "other", "その他 / Other"

    class Status(models.TextChoices):
        OPEN = "open", "未対応 / Open"
        ACTIONED = "actioned", "非表示にした / Post hidden"
        DISMISSED = "dismissed", "対応不要 / Dismissed"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    detail = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "reporter"], name="community_report_once")]
        indexes = [models.Index(fields=["status", "created_at"])]


class DistrictSuspension(models.Model):
    """A member barred by a moderator from posting and commenting on one district's board."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_suspensions")
    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=500)
    until = models.DateTimeField(null=True, blank=True, help_text="null: until lifted")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "district"], condition=Q(lifted_at__isnull=True),
                                               name="community_one_open_suspension")]

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.lifted_at is None and (self.until is None or self.until > now)
