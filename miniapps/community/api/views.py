"""Community API: district boards, posts and comments, photos, events and RSVPs, the map, thank-you
points, reports; and the moderators' staff API. Views validate, call one service or selector, render."""
from __future__ import annotations

import csv
import io
from datetime import datetime

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from accounts.permissions import HasRole
from accounts.roles import Role
from superapp.api.errors import ApiError

from .. import images, selectors, services
from ..access import district_write_check, is_moderator
from ..bounds import Bounds, municipality_map_bounds
from ..models import Category, PostReport, Rsvp
from . import serializers as s

TAGS = ["community"]
STAFF_TAGS = ["community-staff"]


# --- Pagination and throttles -----------------------------------------------------------------------
class StrictCursorPagination(CursorPagination):
    """A page_size that is not a whole number from 1 is a 400, not silently the default."""

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise ApiError("validation_error", fields={self.page_size_query_param: [
                f"1〜{self.max_page_size}の整数で指定してください / a whole number from 1 to {self.max_page_size}"]})
        return min(value, self.max_page_size)


class FeedPagination(StrictCursorPagination):
    """Newest first; stable while new posts arrive (cursor, not page numbers)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")


class CommentPagination(StrictCursorPagination):
    """Oldest first, as a conversation reads."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("created_at", "id")


class _SettingRateThrottle(UserRateThrottle):
    setting_name = ""
    default_rate = ""

    def get_rate(self):
        return getattr(settings, self.setting_name, self.default_rate)


class CommunityWriteThrottle(_SettingRateThrottle):
    """Posts and comments per resident (spam brake)."""

    scope = "community_write"
    setting_name, default_rate = "COMMUNITY_WRITE_RATE", "120/hour"


class CommunityUploadThrottle(_SettingRateThrottle):
    scope = "community_upload"
    setting_name, default_rate = "COMMUNITY_UPLOAD_RATE", "60/hour"


def _write_throttled(view) -> list:
    return [CommunityWriteThrottle()] if view.request.method in ("POST", "PATCH", "PUT") else []


# --- Meta and follows -------------------------------------------------------------------------------
def _choices(choices) -> list[dict]:
    return [{"id": value, "name": label.split(" / ")[0], "name_en": label.split(" / ")[-1]}
            for value, label in choices]


class MetaApi(APIView):
    """What the app needs to draw the community screens: categories, report reasons, map bounds, limits,
    and whether the signed-in resident may write on their district's board."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.CommunityMetaOutput, tags=TAGS)
    def get(self, request):
        user = request.user
        blocked = None
        if user.district_id is None:
            blocked = "not_district_member"
        else:
            try:
                district_write_check(user=user, district_id=user.district_id, action="post")
            except ApiError as exc:
                blocked = exc.code
        bounds = municipality_map_bounds()
        body = {
            "categories": _choices(Category.choices),
            "report_reasons": _choices(PostReport.Reason.choices),
            "map_bounds": bounds.as_dict() if bounds else None,
            "max_images_per_post": services.MAX_IMAGES_PER_POST,
            "max_image_bytes": images.max_bytes(),
            "max_tags": services.MAX_TAGS,
            "my_district_id": user.district_id,
            "can_write": blocked is None,
            "write_blocked_reason": blocked,
        }
        return Response(s.CommunityMetaOutput(body).data)


class FollowsApi(APIView):
    """Categories whose new posts in my district are pushed to me (通知を受け取るカテゴリー)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.CommunityFollowsOutput, tags=TAGS)
    def get(self, request):
        categories = sorted(request.user.community_follows.values_list("category", flat=True))
        return Response(s.CommunityFollowsOutput({"categories": categories}).data)

    @extend_schema(request=s.CommunityFollowsInput, responses=s.CommunityFollowsOutput, tags=TAGS)
    def put(self, request):
        data = s.CommunityFollowsInput(data=request.data)
        data.is_valid(raise_exception=True)
        categories = services.follows_set(user=request.user, categories=data.validated_data["categories"])
        return Response(s.CommunityFollowsOutput({"categories": categories}).data)


# --- Posts ------------------------------------------------------------------------------------------
class FeedQuery(s.serializers.Serializer):
    category = s.serializers.ChoiceField(choices=s.CATEGORY_CHOICES, required=False)
    tag = s.StrictCharField(max_length=40, required=False)


class DistrictPostsApi(GenericAPIView):
    """A district's board: GET the feed (newest first, cursor pagination), POST a post."""

    permission_classes = [IsAuthenticated]
    pagination_class = FeedPagination
    serializer_class = s.CommunityPostOutput

    def get_throttles(self):
        return _write_throttled(self)

    @extend_schema(
        parameters=[OpenApiParameter("category", enum=Category.values, required=False),
                    OpenApiParameter("tag", str, required=False)],
        responses=s.CommunityPostOutput(many=True), tags=TAGS)
    def get(self, request, district_id: int):
        query = FeedQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        tag = query.validated_data.get("tag")
        if tag is not None:
            tag = services.clean_tags([tag])[0]
        posts = selectors.post_feed(user=request.user, district_id=district_id,
                                    category=query.validated_data.get("category"), tag=tag)
        page = self.paginate_queryset(posts)
        return self.get_paginated_response(s.CommunityPostOutput(page, many=True, context={"request": request}).data)

    @extend_schema(request=s.CommunityPostCreateInput, responses={201: s.CommunityPostOutput}, tags=TAGS)
    def post(self, request, district_id: int):
        data = s.CommunityPostCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.post_create(author=request.user, district_id=district_id, **data.validated_data)
        post = selectors.access_post(user=request.user, post_id=created.id, for_detail=True)
        return Response(s.CommunityPostOutput(post, context={"request": request}).data, status=status.HTTP_201_CREATED)


class PostDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    def get_throttles(self):
        return _write_throttled(self)

    @extend_schema(responses=s.CommunityPostOutput, tags=TAGS)
    def get(self, request, post_id: int):
        post = selectors.access_post(user=request.user, post_id=post_id, for_detail=True)
        return Response(s.CommunityPostOutput(post, context={"request": request}).data)

    @extend_schema(request=s.CommunityPostUpdateInput, responses=s.CommunityPostOutput, tags=TAGS)
    def patch(self, request, post_id: int):
        post = selectors.access_visible_post(user=request.user, post_id=post_id)
        data = s.CommunityPostUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.post_update(post=post, acting_user=request.user, **data.validated_data)
        post = selectors.access_post(user=request.user, post_id=post_id, for_detail=True)
        return Response(s.CommunityPostOutput(post, context={"request": request}).data)

    @extend_schema(request=None, responses={204: None}, tags=TAGS)
    def delete(self, request, post_id: int):
        post = selectors.access_post(user=request.user, post_id=post_id)
        services.post_delete(post=post, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageUploadApi(APIView):
    """Upload one photo (multipart field `file`): JPEG, PNG or HEIC; stored without EXIF/GPS, HEIC as
    JPEG, with a thumbnail. Attach it to a post with `image_ids` within 24 hours."""

    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser]
    throttle_classes = [CommunityUploadThrottle]

    @extend_schema(request={"multipart/form-data": s.CommunityImageUploadInput}, responses={201: s.CommunityImageOutput}, tags=TAGS)
    def post(self, request):
        user = request.user
        # Membership before the body is read: a non-member's upload is never decoded.
        if user.district_id is None:
            raise ApiError("not_district_member", status_code=403)
        district_write_check(user=user, district_id=user.district_id, action="post")
        data = s.CommunityImageUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        image = services.image_upload(uploader=user, file=data.validated_data["file"])
        return Response(s.CommunityImageOutput(image).data, status=status.HTTP_201_CREATED)


# --- Comments ---------------------------------------------------------------------------------------
class PostCommentsApi(GenericAPIView):
    permission_classes = [IsAuthenticated]
    pagination_class = CommentPagination
    serializer_class = s.CommunityCommentOutput

    def get_throttles(self):
        return _write_throttled(self)

    @extend_schema(responses=s.CommunityCommentOutput(many=True), tags=TAGS)
    def get(self, request, post_id: int):
        post = selectors.access_visible_post(user=request.user, post_id=post_id)
        page = self.paginate_queryset(selectors.comment_list(user=request.user, post=post))
        return self.get_paginated_response(s.CommunityCommentOutput(page, many=True, context={"request": request}).data)

    @extend_schema(request=s.CommunityCommentInput, responses={201: s.CommunityCommentOutput}, tags=TAGS)
    def post(self, request, post_id: int):
        post = selectors.access_visible_post(user=request.user, post_id=post_id)
        data = s.CommunityCommentInput(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.comment_create(post=post, author=request.user, body=data.validated_data["body"])
        return Response(s.CommunityCommentOutput(comment, context={"request": request}).data, status=status.HTTP_201_CREATED)


class CommentDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, tags=TAGS)
    def delete(self, request, comment_id: int):
        comment = selectors.access_comment(user=request.user, comment_id=comment_id)
        services.comment_delete(comment=comment, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Thank-yous and reports -------------------------------------------------------------------------
class PostThanksApi(APIView):
    """「ありがとう」 to a post: once per post per person, not to yourself (409 / 403)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={201: s.CommunityThanksOutput}, tags=TAGS)
    def post(self, request, post_id: int):
        post = selectors.access_visible_post(user=request.user, post_id=post_id)
        thanks = services.thanks_give(giver=request.user, post=post)
        post.refresh_from_db(fields=["thanks_count"])
        return Response(s.CommunityThanksOutput({"points_credited": thanks.points, "thanks_count": post.thanks_count}).data,
                        status=status.HTTP_201_CREATED)


class CommentThanksApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={201: s.CommunityThanksOutput}, tags=TAGS)
    def post(self, request, comment_id: int):
        comment = selectors.access_comment(user=request.user, comment_id=comment_id)
        thanks = services.thanks_give(giver=request.user, post=comment.post, comment=comment)
        comment.refresh_from_db(fields=["thanks_count"])
        return Response(s.CommunityThanksOutput({"points_credited": thanks.points, "thanks_count": comment.thanks_count}).data,
                        status=status.HTTP_201_CREATED)


class PostReportApi(APIView):
    """Report a post to the moderators (通報), once per post per person."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=s.CommunityReportInput, responses={201: s.CommunityReportOutput}, tags=TAGS)
    def post(self, request, post_id: int):
        post = selectors.access_visible_post(user=request.user, post_id=post_id)
        data = s.CommunityReportInput(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.post_report(post=post, reporter=request.user, **data.validated_data)
        return Response(s.CommunityReportOutput(report).data, status=status.HTTP_201_CREATED)


# --- Events -----------------------------------------------------------------------------------------
def _event_body(request, event, rsvp=None, position=None):
    context = {"request": request, "my_rsvp": rsvp, "waiting_position": position}
    return s.CommunityEventDetailOutput(event, context=context).data


def _require_organiser(request, event) -> None:
    if event.post.author_id != request.user.pk and not is_moderator(request.user):
        raise ApiError("permission_denied", status_code=403)


class EventApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.CommunityEventDetailOutput, tags=TAGS)
    def get(self, request, event_id: int):
        event = selectors.access_event(user=request.user, event_id=event_id)
        rsvp = selectors.event_my_rsvp(event=event, user=request.user)
        position = services.waiting_position(rsvp) if rsvp else None
        return Response(_event_body(request, event, rsvp, position))

    @extend_schema(request=s.CommunityEventUpdateInput, responses=s.CommunityEventDetailOutput, tags=TAGS)
    def patch(self, request, event_id: int):
        event = selectors.access_event(user=request.user, event_id=event_id)
        data = s.CommunityEventUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        event = services.event_update(event=event, acting_user=request.user, **data.validated_data)
        rsvp = selectors.event_my_rsvp(event=event, user=request.user)
        return Response(_event_body(request, event, rsvp, services.waiting_position(rsvp) if rsvp else None))


class RsvpApi(APIView):
    """参加・不参加: `{"answer": "join" | "decline"}`, changeable until the RSVP deadline (then 409
    rsvp_closed). A join beyond capacity lands on the waiting list; a decline promotes its head."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=s.CommunityRsvpInput, responses=s.CommunityRsvpOutput, tags=TAGS)
    def post(self, request, event_id: int):
        event = selectors.access_event(user=request.user, event_id=event_id)
        data = s.CommunityRsvpInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.rsvp_answer(event=event, user=request.user, answer=data.validated_data["answer"])
        body = {"event": _event_body(request, result.event, result.rsvp, result.waiting_position),
                "promoted_count": len(result.promoted)}
        return Response(body)


def _attendee_groups(event) -> dict[str, list]:
    groups: dict[str, list] = {"going": [], "waiting": [], "declined": []}
    for rsvp in selectors.event_attendees(event=event):
        key = {Rsvp.Status.GOING: "going", Rsvp.Status.WAITING: "waiting"}.get(rsvp.status, "declined")
        rsvp.position = len(groups["waiting"]) + 1 if key == "waiting" else None
        groups[key].append(rsvp)
    return groups


class AttendeesApi(APIView):
    """The organiser's (or a moderator's) list: going, waiting list in order, declined."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.CommunityAttendeesOutput, tags=TAGS)
    def get(self, request, event_id: int):
        event = selectors.access_event(user=request.user, event_id=event_id)
        _require_organiser(request, event)
        groups = _attendee_groups(event)
        body = {"event": _event_body(request, event)}
        for key, rows in groups.items():
            body[key] = s.CommunityAttendeeOutput(rows, many=True).data
        return Response(body)


_CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value) -> str:
    """Resident-written text must not run as a spreadsheet formula when the organiser opens the file."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_CSV_FORMULA_PREFIXES) else text


def _local(dt: datetime | None) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M") if dt else ""


class AttendeesExportApi(APIView):
    """The attendee list as CSV (UTF-8 with BOM, so Excel opens it in Japanese)."""

    permission_classes = [IsAuthenticated]

    def perform_content_negotiation(self, request, force=False):
        # Errors are JSON whatever the Accept header; the CSV itself is written by hand below.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV")}, tags=TAGS)
    def get(self, request, event_id: int):
        event = selectors.access_event(user=request.user, event_id=event_id)
        _require_organiser(request, event)
        groups = _attendee_groups(event)
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out)
        writer.writerow(["状態 / status", "順番 / position", "ニックネーム / nickname", "回答日時 / responded at",
                         "繰り上げ日時 / promoted at"])
        labels = {key: label for key, label in Rsvp.Status.choices}
        rows = 0
        for key in ("going", "waiting", "declined"):
            for index, rsvp in enumerate(groups[key], start=1):
                writer.writerow([labels[rsvp.status], index, _csv_cell(rsvp.user.nickname),
                                 _local(rsvp.responded_at), _local(rsvp.promoted_at)])
                rows += 1
        services.attendees_exported(event=event, acting_user=request.user, rows=rows)
        response = HttpResponse(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="event-{event.pk}-attendees.csv"'
        response["Cache-Control"] = "no-store"
        return response


# --- Map ----------------------------------------------------------------------------------------------
class MapQuery(s.serializers.Serializer):
    bbox = s.StrictCharField(max_length=200)
    category = s.serializers.ChoiceField(choices=s.CATEGORY_CHOICES, required=False)


class MapApi(APIView):
    """デジタルマップ: located posts inside `bbox=minLng,minLat,maxLng,maxLat` as a GeoJSON
    FeatureCollection (newest first, at most 500; `meta.truncated` says when to zoom in)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[OpenApiParameter("bbox", str, required=True,
                                     description="minLng,minLat,maxLng,maxLat (WGS84), at most 0.6° per side"),
                    OpenApiParameter("category", enum=Category.values, required=False)],
        responses=s.CommunityMapOutput, tags=TAGS)
    def get(self, request):
        query = MapQuery(data=request.query_params)
        if not query.is_valid():
            if "bbox" in query.errors:
                selectors.parse_bbox(request.query_params.get("bbox"))  # the specific bbox error
            query.is_valid(raise_exception=True)
        box = selectors.parse_bbox(query.validated_data["bbox"])
        rows = selectors.map_posts(user=request.user, bbox=box, category=query.validated_data.get("category"))
        truncated = len(rows) > selectors.MAP_FEATURE_LIMIT
        rows = rows[: selectors.MAP_FEATURE_LIMIT]
        labels = {value: label.split(" / ")[0] for value, label in Category.choices}
        # Built as plain dicts (documented by CommunityMapOutput): 500 points through nested
        # serializers cost far more than the query.
        features = [{
            "type": "Feature", "id": row["id"],
            "geometry": {"type": "Point", "coordinates": [float(row["longitude"]), float(row["latitude"])]},
            "properties": {"title": row["title"], "category": row["category"],
                           "category_label": labels.get(row["category"], row["category"]),
                           "district_id": row["district_id"], "author_nickname": row["author__nickname"],
                           "thumbnail_url": default_storage.url(row["first_thumbnail"]) if row["first_thumbnail"]
                           else None,
                           "thanks_count": row["thanks_count"],
                           "created_at": timezone.localtime(row["created_at"]).isoformat()},
        } for row in rows]
        body = {"type": "FeatureCollection", "bbox": [box.min_lng, box.min_lat, box.max_lng, box.max_lat],
                "features": features,
                "meta": {"count": len(features), "limit": selectors.MAP_FEATURE_LIMIT, "truncated": truncated}}
        return Response(body)


# --- Points -------------------------------------------------------------------------------------------
class PointsPagination(StrictCursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-id")


class MyPointsApi(GenericAPIView):
    """地域貢献ポイント: my balance, this month's points and the ledger (newest first, cursor)."""

    permission_classes = [IsAuthenticated]
    pagination_class = PointsPagination
    serializer_class = s.CommunityPointsEntryOutput

    @extend_schema(responses=s.CommunityPointsOutput, tags=TAGS)
    def get(self, request):
        user = request.user
        page = self.paginate_queryset(selectors.points_history(user=user).select_related("thanks"))
        now = timezone.now()
        body = {
            "balance": selectors.points_balance(user=user),
            "this_month": selectors.points_between(user=user, start=services.tokyo_month_start(now), end=now
                                                   + timezone.timedelta(seconds=1)),
            "next": self.paginator.get_next_link(),
            "previous": self.paginator.get_previous_link(),
            "results": page,
        }
        return Response(s.CommunityPointsOutput(body).data)


class RankingQuery(s.serializers.Serializer):
    month = s.serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", required=False,
                                     error_messages={"invalid": "YYYY-MM で指定してください / use YYYY-MM"})


def _month_range(month: str | None) -> tuple[str, datetime, datetime]:
    start = services.tokyo_month_start()
    if month:
        year, number = (int(part) for part in month.split("-"))
        if not 2000 <= year <= 2100:
            raise ApiError("validation_error", fields={"month": ["2000〜2100年で指定してください / year 2000-2100"]})
        start = start.replace(year=year, month=number)
    end = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
    return f"{start:%Y-%m}", start, end


class DistrictRankingApi(APIView):
    """The district's monthly ranking of thank-you points (members only)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("month", str, required=False, description="YYYY-MM, default this month")],
                   responses=s.CommunityRankingOutput, tags=TAGS)
    def get(self, request, district_id: int):
        query = RankingQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        label, start, end = _month_range(query.validated_data.get("month"))
        ranking = selectors.district_ranking(user=request.user, district_id=district_id, start=start, end=end)
        return Response(s.CommunityRankingOutput({"district_id": district_id, "month": label, "ranking": ranking}).data)


# --- Staff: moderation ------------------------------------------------------------------------------
IsModerator = HasRole(Role.COMMUNITY_MODERATOR)


class StaffQueueQuery(s.serializers.Serializer):
    status = s.serializers.ChoiceField(choices=PostReport.Status.choices, required=False, default="open")


class StaffReportQueueApi(GenericAPIView):
    """Reported posts, most reported first (status=open by default)."""

    permission_classes = [IsModerator]
    serializer_class = s.CommunityModerationPostOutput

    @extend_schema(parameters=[OpenApiParameter("status", enum=PostReport.Status.values, required=False)],
                   responses=s.CommunityModerationPostOutput(many=True), tags=STAFF_TAGS)
    def get(self, request):
        query = StaffQueueQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.report_queue(status=query.validated_data["status"]))
        return self.get_paginated_response(s.CommunityModerationPostOutput(page, many=True).data)


class StaffHiddenPostsApi(GenericAPIView):
    permission_classes = [IsModerator]
    serializer_class = s.CommunityModerationPostOutput

    @extend_schema(responses=s.CommunityModerationPostOutput(many=True), tags=STAFF_TAGS)
    def get(self, request):
        page = self.paginate_queryset(selectors.hidden_posts())
        return self.get_paginated_response(s.CommunityModerationPostOutput(page, many=True).data)


class StaffPostHideApi(APIView):
    permission_classes = [IsModerator]

    @extend_schema(request=s.CommunityHideInput, responses=s.CommunityModerationPostOutput, tags=STAFF_TAGS)
    def post(self, request, post_id: int):
        post = selectors.moderation_post(post_id=post_id)
        data = s.CommunityHideInput(data=request.data)
        data.is_valid(raise_exception=True)
        post = services.post_hide(post=post, moderator=request.user, reason=data.validated_data["reason"])
        return Response(s.CommunityModerationPostOutput(selectors.moderation_post(post_id=post.pk)).data)


class StaffPostRestoreApi(APIView):
    permission_classes = [IsModerator]

    @extend_schema(request=None, responses=s.CommunityModerationPostOutput, tags=STAFF_TAGS)
    def post(self, request, post_id: int):
        post = services.post_restore(post=selectors.moderation_post(post_id=post_id), moderator=request.user)
        return Response(s.CommunityModerationPostOutput(selectors.moderation_post(post_id=post.pk)).data)


class StaffPostDismissReportsApi(APIView):
    permission_classes = [IsModerator]

    @extend_schema(request=None, responses=s.CommunityDismissOutput, tags=STAFF_TAGS)
    def post(self, request, post_id: int):
        dismissed = services.reports_dismiss(post=selectors.moderation_post(post_id=post_id), moderator=request.user)
        return Response(s.CommunityDismissOutput({"dismissed": dismissed}).data)


class StaffCommentHideApi(APIView):
    permission_classes = [IsModerator]

    @extend_schema(request=None, responses=s.CommunityModerationCommentOutput, tags=STAFF_TAGS)
    def post(self, request, comment_id: int):
        comment = services.comment_hide(comment=selectors.moderation_comment(comment_id=comment_id),
                                        moderator=request.user)
        return Response(s.CommunityModerationCommentOutput(selectors.moderation_comment(comment_id=comment.pk)).data)


class StaffCommentRestoreApi(APIView):
    permission_classes = [IsModerator]

    @extend_schema(request=None, responses=s.CommunityModerationCommentOutput, tags=STAFF_TAGS)
    def post(self, request, comment_id: int):
        comment = services.comment_restore(comment=selectors.moderation_comment(comment_id=comment_id),
                                           moderator=request.user)
        return Response(s.CommunityModerationCommentOutput(selectors.moderation_comment(comment_id=comment.pk)).data)


class StaffSuspensionsApi(GenericAPIView):
    """Members suspended from posting in a district: list the active ones, suspend one."""

    permission_classes = [IsModerator]
    serializer_class = s.CommunitySuspensionOutput

    @extend_schema(responses=s.CommunitySuspensionOutput(many=True), tags=STAFF_TAGS)
    def get(self, request):
        page = self.paginate_queryset(selectors.suspensions_active())
        return self.get_paginated_response(s.CommunitySuspensionOutput(page, many=True).data)

    @extend_schema(request=s.CommunitySuspensionInput, responses={201: s.CommunitySuspensionOutput}, tags=STAFF_TAGS)
    def post(self, request):
        data = s.CommunitySuspensionInput(data=request.data)
        data.is_valid(raise_exception=True)
        suspension = services.suspension_create(
            user_id=data.validated_data["user"], district_id=data.validated_data["district"],
            reason=data.validated_data["reason"], until=data.validated_data.get("until"), moderator=request.user)
        suspension = selectors.access_suspension(suspension_id=suspension.pk)
        return Response(s.CommunitySuspensionOutput(suspension).data, status=status.HTTP_201_CREATED)


class StaffSuspensionLiftApi(APIView):
    permission_classes = [IsModerator]

    @extend_schema(request=None, responses=s.CommunitySuspensionOutput, tags=STAFF_TAGS)
    def post(self, request, suspension_id: int):
        suspension = services.suspension_lift(suspension=selectors.access_suspension(suspension_id=suspension_id),
                                              moderator=request.user)
        return Response(s.CommunitySuspensionOutput(selectors.access_suspension(suspension_id=suspension.pk)).data)


class StaffMapBoundsApi(APIView):
    """The municipality's map bounds (map posts must lie inside). Municipality admins only."""

    permission_classes = [HasRole(Role.MUNICIPALITY_ADMIN)]

    @extend_schema(request=s.CommunityMapBoundsInput, responses=s.CommunityBoundsOutput, tags=STAFF_TAGS)
    def put(self, request):
        data = s.CommunityMapBoundsInput(data=request.data)
        data.is_valid(raise_exception=True)
        bounds = services.map_bounds_set(municipality=request.tenant, bounds=Bounds(**data.validated_data),
                                         acting_user=request.user)
        return Response(s.CommunityBoundsOutput(bounds.as_dict()).data)
