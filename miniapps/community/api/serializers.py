"""Input and output serializers for the community API. Shapes only; the rules live in services."""
from __future__ import annotations

import math

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from superapp.api.fields import StrictBooleanField, StrictCharField

from ..models import Category, Comment, DistrictSuspension, Event, PointsEntry, Post, PostImage, PostReport, Rsvp

CATEGORY_CHOICES = Category.choices


class StrictFloatField(serializers.FloatField):
    """A number: refuses booleans, strings, NaN and infinities instead of coercing them."""

    default_error_messages = {"not_a_number": "数値で指定してください。 / Must be a finite number."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)) or not math.isfinite(data):
            self.fail("not_a_number")
        return super().to_internal_value(data)


def _label_ja(label: str) -> str:
    return label.split(" / ")[0]


def _label_en(label: str) -> str:
    return label.split(" / ")[-1]


# --- Outputs ----------------------------------------------------------------------------------------
class CommunityAuthorOutput(serializers.Serializer):
    id = serializers.IntegerField()
    nickname = serializers.CharField()


class CommunityImageOutput(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = PostImage
        fields = ["id", "url", "thumbnail_url", "width", "height", "content_type"]

    def get_url(self, image: PostImage) -> str:
        return image.image.url

    def get_thumbnail_url(self, image: PostImage) -> str:
        return image.thumbnail.url


class CommunityLocationOutput(serializers.Serializer):
    lat = serializers.FloatField()
    lng = serializers.FloatField()


class CommunityEventSummaryOutput(serializers.ModelSerializer):
    id = serializers.IntegerField(source="post_id")
    is_open = serializers.SerializerMethodField()
    my_rsvp_status = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = ["id", "starts_at", "ends_at", "place", "capacity", "rsvp_deadline", "joined_count",
                  "waiting_count", "is_open", "open_data", "my_rsvp_status"]

    def get_is_open(self, event: Event) -> bool:
        return event.is_open()

    @extend_schema_field(serializers.ChoiceField(choices=Rsvp.Status.choices, allow_null=True))
    def get_my_rsvp_status(self, event: Event) -> str | None:
        return self.context.get("my_rsvp_status")


class CommunityPostOutput(serializers.ModelSerializer):
    district_id = serializers.IntegerField()
    author = CommunityAuthorOutput()
    category_label = serializers.SerializerMethodField()
    images = CommunityImageOutput(many=True)
    location = serializers.SerializerMethodField()
    event = serializers.SerializerMethodField()
    thanked_by_me = serializers.SerializerMethodField()
    is_mine = serializers.SerializerMethodField()

    class Meta:
        model = Post
        fields = ["id", "district_id", "author", "category", "category_label", "title", "body", "tags", "images",
                  "location", "event", "comment_count", "thanks_count", "thanked_by_me", "is_mine", "status",
                  "created_at", "updated_at"]

    def get_category_label(self, post: Post) -> str:
        return _label_ja(post.get_category_display())

    @extend_schema_field(CommunityLocationOutput(allow_null=True))
    def get_location(self, post: Post):
        if post.latitude is None:
            return None
        return {"lat": float(post.latitude), "lng": float(post.longitude)}

    @extend_schema_field(CommunityEventSummaryOutput(allow_null=True))
    def get_event(self, post: Post):
        event = getattr(post, "event", None) if _has_event(post) else None
        if event is None:
            return None
        context = {**self.context, "my_rsvp_status": getattr(post, "my_rsvp_status", None)}
        return CommunityEventSummaryOutput(event, context=context).data

    def get_thanked_by_me(self, post: Post) -> bool:
        return bool(getattr(post, "thanked_by_me", False))

    def get_is_mine(self, post: Post) -> bool:
        return post.author_id == self.context["request"].user.pk


def _has_event(post: Post) -> bool:
    try:
        return post.event is not None
    except Event.DoesNotExist:
        return False


class CommunityCommentOutput(serializers.ModelSerializer):
    author = CommunityAuthorOutput()
    thanked_by_me = serializers.SerializerMethodField()
    is_mine = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = ["id", "post_id", "author", "body", "thanks_count", "thanked_by_me", "is_mine", "created_at"]

    def get_thanked_by_me(self, comment: Comment) -> bool:
        return bool(getattr(comment, "thanked_by_me", False))

    def get_is_mine(self, comment: Comment) -> bool:
        return comment.author_id == self.context["request"].user.pk


class CommunityMyRsvpOutput(serializers.Serializer):
    answer = serializers.ChoiceField(choices=Rsvp.Answer.choices)
    status = serializers.ChoiceField(choices=Rsvp.Status.choices)
    waiting_position = serializers.IntegerField(allow_null=True, help_text="1 = next to be promoted")
    responded_at = serializers.DateTimeField()


class CommunityEventDetailOutput(serializers.ModelSerializer):
    id = serializers.IntegerField(source="post_id")
    title = serializers.CharField(source="post.title")
    organiser = CommunityAuthorOutput(source="post.author")
    is_open = serializers.SerializerMethodField()
    is_organiser = serializers.SerializerMethodField()
    my_rsvp = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = ["id", "title", "organiser", "starts_at", "ends_at", "place", "capacity", "rsvp_deadline",
                  "joined_count", "waiting_count", "is_open", "open_data", "is_organiser", "my_rsvp"]

    def get_is_open(self, event: Event) -> bool:
        return event.is_open()

    def get_is_organiser(self, event: Event) -> bool:
        return event.post.author_id == self.context["request"].user.pk

    @extend_schema_field(CommunityMyRsvpOutput(allow_null=True))
    def get_my_rsvp(self, event: Event):
        rsvp = self.context.get("my_rsvp")
        if rsvp is None:
            return None
        return CommunityMyRsvpOutput({"answer": rsvp.answer, "status": rsvp.status, "responded_at": rsvp.responded_at,
                             "waiting_position": self.context.get("waiting_position")}).data


class CommunityRsvpOutput(serializers.Serializer):
    event = CommunityEventDetailOutput()
    promoted_count = serializers.IntegerField(help_text="People moved from the waiting list by this answer")


class CommunityAttendeeOutput(serializers.ModelSerializer):
    nickname = serializers.CharField(source="user.nickname")
    user_id = serializers.IntegerField()
    position = serializers.IntegerField(allow_null=True, help_text="Place in the waiting list (waiting only)")

    class Meta:
        model = Rsvp
        fields = ["user_id", "nickname", "answer", "status", "position", "responded_at", "promoted_at"]


class CommunityAttendeesOutput(serializers.Serializer):
    event = CommunityEventDetailOutput()
    going = CommunityAttendeeOutput(many=True)
    waiting = CommunityAttendeeOutput(many=True)
    declined = CommunityAttendeeOutput(many=True)


class CommunityThanksOutput(serializers.Serializer):
    points_credited = serializers.IntegerField()
    thanks_count = serializers.IntegerField()


class CommunityReportOutput(serializers.ModelSerializer):
    class Meta:
        model = PostReport
        fields = ["id", "post_id", "reason", "detail", "status", "created_at"]


class CommunityPointsEntryOutput(serializers.ModelSerializer):
    kind_label = serializers.SerializerMethodField()
    post_id = serializers.SerializerMethodField()

    class Meta:
        model = PointsEntry
        fields = ["id", "amount", "balance_after", "kind", "kind_label", "district_id", "post_id", "created_at"]

    def get_kind_label(self, entry: PointsEntry) -> str:
        return _label_ja(entry.get_kind_display())

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_post_id(self, entry: PointsEntry):
        return entry.thanks.post_id if entry.thanks_id and entry.thanks else None


class CommunityPointsOutput(serializers.Serializer):
    balance = serializers.IntegerField()
    this_month = serializers.IntegerField(help_text="Points earned this calendar month (Asia/Tokyo)")
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = CommunityPointsEntryOutput(many=True)


class CommunityRankingRowOutput(serializers.Serializer):
    rank = serializers.IntegerField()
    user_id = serializers.IntegerField()
    nickname = serializers.CharField()
    points = serializers.IntegerField()
    is_me = serializers.BooleanField()


class CommunityRankingOutput(serializers.Serializer):
    district_id = serializers.IntegerField()
    month = serializers.CharField(help_text="YYYY-MM (Asia/Tokyo)")
    ranking = CommunityRankingRowOutput(many=True)


class CommunityCategoryOutput(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField()


class CommunityBoundsOutput(serializers.Serializer):
    min_lat = serializers.FloatField()
    max_lat = serializers.FloatField()
    min_lng = serializers.FloatField()
    max_lng = serializers.FloatField()


class CommunityMetaOutput(serializers.Serializer):
    categories = CommunityCategoryOutput(many=True)
    report_reasons = CommunityCategoryOutput(many=True)
    map_bounds = CommunityBoundsOutput(allow_null=True)
    max_images_per_post = serializers.IntegerField()
    max_image_bytes = serializers.IntegerField()
    max_tags = serializers.IntegerField()
    my_district_id = serializers.IntegerField(allow_null=True)
    can_write = serializers.BooleanField()
    write_blocked_reason = serializers.CharField(allow_null=True, help_text="Error code when can_write is false")


class CommunityFollowsOutput(serializers.Serializer):
    categories = serializers.ListField(child=serializers.ChoiceField(choices=CATEGORY_CHOICES))


# GeoJSON (RFC 7946) for the map.
class CommunityPointGeometryOutput(serializers.Serializer):
    type = serializers.ChoiceField(choices=["Point"])
    coordinates = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2,
                                        help_text="[longitude, latitude]")


class CommunityMapFeaturePropertiesOutput(serializers.Serializer):
    title = serializers.CharField()
    category = serializers.ChoiceField(choices=CATEGORY_CHOICES)
    category_label = serializers.CharField()
    district_id = serializers.IntegerField()
    author_nickname = serializers.CharField()
    thumbnail_url = serializers.CharField(allow_null=True)
    thanks_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class CommunityMapFeatureOutput(serializers.Serializer):
    type = serializers.ChoiceField(choices=["Feature"])
    id = serializers.IntegerField()
    geometry = CommunityPointGeometryOutput()
    properties = CommunityMapFeaturePropertiesOutput()


class CommunityMapMetaOutput(serializers.Serializer):
    count = serializers.IntegerField()
    limit = serializers.IntegerField()
    truncated = serializers.BooleanField(help_text="More posts match: zoom in")


class CommunityMapOutput(serializers.Serializer):
    type = serializers.ChoiceField(choices=["FeatureCollection"])
    bbox = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4)
    features = CommunityMapFeatureOutput(many=True)
    meta = CommunityMapMetaOutput()


# --- Inputs -----------------------------------------------------------------------------------------
OPEN_DATA_HELP = ("オープンデータとして公開: publish in the municipality's open-data イベント一覧 (CC BY 4.0, no login) "
                  "with title, description, place, times, capacity, tags and location; the organiser is shown as "
                  "the district board, never the nickname")


class CommunityLocationInput(serializers.Serializer):
    lat = StrictFloatField(min_value=-90, max_value=90)
    lng = StrictFloatField(min_value=-180, max_value=180)


class CommunityEventInput(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    place = StrictCharField(max_length=200)
    capacity = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=100_000,
                                        help_text="null or absent: no limit")
    rsvp_deadline = serializers.DateTimeField(required=False, help_text="Defaults to starts_at")
    open_data = StrictBooleanField(required=False, default=False,
                                   help_text=OPEN_DATA_HELP + ". Default false")


class CommunityEventUpdateInput(serializers.Serializer):
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    place = StrictCharField(max_length=200, required=False)
    capacity = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=100_000)
    rsvp_deadline = serializers.DateTimeField(required=False)
    open_data = StrictBooleanField(required=False, help_text=OPEN_DATA_HELP + ". Organiser only")


class CommunityPostCreateInput(serializers.Serializer):
    title = StrictCharField(max_length=100)
    body = StrictCharField(max_length=4000, required=False, allow_blank=True, default="", trim_whitespace=False)
    category = serializers.ChoiceField(choices=CATEGORY_CHOICES)
    tags = serializers.ListField(child=StrictCharField(max_length=40), required=False, default=list, max_length=5)
    image_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**62), required=False,
                                      default=list, max_length=4,
                                      help_text="Ids from POST /api/v1/community/images/, in display order")
    location = CommunityLocationInput(required=False, allow_null=True, help_text="Makes this a map post")
    event = CommunityEventInput(required=False, allow_null=True, help_text="Makes this an event with join/decline")


class CommunityPostUpdateInput(serializers.Serializer):
    title = StrictCharField(max_length=100, required=False)
    body = StrictCharField(max_length=4000, required=False, allow_blank=True, trim_whitespace=False)
    category = serializers.ChoiceField(choices=CATEGORY_CHOICES, required=False)
    tags = serializers.ListField(child=StrictCharField(max_length=40), required=False, max_length=5)


class CommunityImageUploadInput(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False, help_text="JPEG, PNG or HEIC")


class CommunityCommentInput(serializers.Serializer):
    body = StrictCharField(max_length=1000)


class CommunityRsvpInput(serializers.Serializer):
    answer = serializers.ChoiceField(choices=Rsvp.Answer.choices, help_text="join 参加 / decline 不参加")


class CommunityReportInput(serializers.Serializer):
    reason = serializers.ChoiceField(choices=PostReport.Reason.choices)
    detail = StrictCharField(max_length=500, required=False, allow_blank=True, default="")


class CommunityFollowsInput(serializers.Serializer):
    categories = serializers.ListField(child=serializers.ChoiceField(choices=CATEGORY_CHOICES), max_length=20)


# --- Staff ------------------------------------------------------------------------------------------
class CommunityDistrictRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CommunityModerationPostOutput(serializers.ModelSerializer):
    district = CommunityDistrictRefOutput()
    author = CommunityAuthorOutput()
    report_total = serializers.IntegerField(required=False)
    last_reported_at = serializers.DateTimeField(required=False)

    class Meta:
        model = Post
        fields = ["id", "district", "author", "category", "title", "body", "status", "hidden_at", "hidden_reason",
                  "comment_count", "thanks_count", "created_at", "report_total", "last_reported_at"]


class CommunityModerationCommentOutput(serializers.ModelSerializer):
    author = CommunityAuthorOutput()

    class Meta:
        model = Comment
        fields = ["id", "post_id", "author", "body", "status", "hidden_at", "created_at"]


class CommunityHideInput(serializers.Serializer):
    reason = StrictCharField(max_length=500, required=False, allow_blank=True, default="")


class CommunityDismissOutput(serializers.Serializer):
    dismissed = serializers.IntegerField()


class CommunitySuspensionInput(serializers.Serializer):
    user = serializers.IntegerField(min_value=1, max_value=2**62)
    district = serializers.IntegerField(min_value=1, max_value=2**62)
    reason = StrictCharField(max_length=500)
    until = serializers.DateTimeField(required=False, allow_null=True, help_text="null or absent: until lifted")


class CommunitySuspensionOutput(serializers.ModelSerializer):
    user = CommunityAuthorOutput()
    district = CommunityDistrictRefOutput()
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = DistrictSuspension
        fields = ["id", "user", "district", "reason", "until", "created_at", "lifted_at", "is_active"]

    def get_is_active(self, suspension: DistrictSuspension) -> bool:
        return suspension.is_active()


class CommunityMapBoundsInput(serializers.Serializer):
    min_lat = StrictFloatField(min_value=-90, max_value=90)
    max_lat = StrictFloatField(min_value=-90, max_value=90)
    min_lng = StrictFloatField(min_value=-180, max_value=180)
    max_lng = StrictFloatField(min_value=-180, max_value=180)


CSV_RESPONSE = OpenApiTypes.STR
