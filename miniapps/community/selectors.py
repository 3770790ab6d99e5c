"""Reads for the community boards. Every object lookup is scoped to what the user may read and raises
the same 404 for "does not exist" and "not yours"; lists cost a constant number of queries."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.http import Http404

from accounts.models import User

from .access import can_read_district, district_read_check, is_moderator
from .bounds import MAX_BBOX_SPAN_DEGREES
from .models import (
    Comment,
    DistrictSuspension,
    Event,
    PointsAccount,
    PointsEntry,
    Post,
    PostImage,
    PostReport,
    Rsvp,
    Thanks,
)

MAP_FEATURE_LIMIT = 500
RANKING_SIZE = 20


def _ordered_images() -> Prefetch:
    return Prefetch("images", queryset=PostImage.objects.order_by("position", "id"))


def _with_viewer(queryset: QuerySet[Post], user: User) -> QuerySet[Post]:
    """Per-viewer flags as subqueries of the one list query (no query per post)."""
    return queryset.annotate(
        thanked_by_me=Exists(Thanks.objects.filter(post=OuterRef("pk"), giver_id=user.pk, comment__isnull=True)),
        my_rsvp_status=Subquery(Rsvp.objects.filter(event_id=OuterRef("pk"), user_id=user.pk).values("status")[:1]),
    )


def visible_posts() -> QuerySet[Post]:
    return Post.objects.filter(status=Post.Status.VISIBLE, deleted_at__isnull=True)


def post_feed(*, user: User, district_id: int, category: str | None = None, tag: str | None = None) -> QuerySet[Post]:
    """A district's board, newest first (the view paginates with a cursor)."""
    district_read_check(user=user, district_id=district_id)
    posts = visible_posts().filter(district_id=district_id)
    if category:
        posts = posts.filter(category=category)
    if tag:
        posts = posts.filter(tags__contains=[tag])
    return _with_viewer(posts.select_related("author", "event").prefetch_related(_ordered_images()), user)


def access_post(*, user: User, post_id: int, for_detail: bool = False) -> Post:
    """A post the user may read: visible, not withdrawn, in their district (moderators: any). The
    author still sees their own post after a moderator hid it."""
    posts = Post.objects.filter(pk=post_id, deleted_at__isnull=True).select_related("author", "event")
    if for_detail:
        posts = _with_viewer(posts.prefetch_related(_ordered_images()), user)
    post = posts.first()
    if post is None or not can_read_district(user, post.district_id):
        raise Http404
    if post.status != Post.Status.VISIBLE and post.author_id != user.pk and not is_moderator(user):
        raise Http404
    return post


def access_visible_post(*, user: User, post_id: int) -> Post:
    """As access_post, but hidden posts are gone for everyone (no comments, thanks or RSVPs on them)."""
    post = access_post(user=user, post_id=post_id)
    if post.status != Post.Status.VISIBLE:
        raise Http404
    return post


def access_event(*, user: User, event_id: int) -> Event:
    event = (Event.objects.select_related("post", "post__author")
             .filter(pk=event_id, post__deleted_at__isnull=True, post__status=Post.Status.VISIBLE).first())
    if event is None or not can_read_district(user, event.post.district_id):
        raise Http404
    return event


def access_comment(*, user: User, comment_id: int) -> Comment:
    comment = (Comment.objects.select_related("post", "author")
               .filter(pk=comment_id, deleted_at__isnull=True, status=Comment.Status.VISIBLE,
                       post__deleted_at__isnull=True, post__status=Post.Status.VISIBLE).first())
    if comment is None or not can_read_district(user, comment.post.district_id):
        raise Http404
    return comment


def comment_list(*, user: User, post: Post) -> QuerySet[Comment]:
    return (Comment.objects.filter(post=post, deleted_at__isnull=True, status=Comment.Status.VISIBLE)
            .select_related("author")
            .annotate(thanked_by_me=Exists(Thanks.objects.filter(comment=OuterRef("pk"), giver_id=user.pk))))


def event_my_rsvp(*, event: Event, user: User) -> Rsvp | None:
    return Rsvp.objects.filter(event=event, user=user).first()


def event_attendees(*, event: Event) -> QuerySet[Rsvp]:
    """Going (in answer order), then the waiting list (queue order), then declines."""
    from django.db.models import Case, IntegerField, Value, When

    return (Rsvp.objects.filter(event=event).select_related("user")
            .annotate(group=Case(When(status=Rsvp.Status.GOING, then=Value(0)),
                                 When(status=Rsvp.Status.WAITING, then=Value(1)),
                                 default=Value(2), output_field=IntegerField()))
            .order_by("group", "queued_at", "responded_at", "id"))


# --- Open data ----------------------------------------------------------------------------------------
_PUBLIC_EVENT_FIELDS = ("post_id", "post__title", "post__body", "starts_at", "ends_at", "place", "capacity",
                        "rsvp_deadline", "post__tags", "post__latitude", "post__longitude", "open_data_since",
                        "post__district__name")


def public_organizer(district_name: str) -> str:
    """Who the open data names as 主催者: the district's community board, never the resident who
    posted (their nickname is personal data; residents' posts are all district-board posts)."""
    board = district_name if district_name.endswith("校区") else f"{district_name}校区"
    return f"{board} 地域共創"


def public_events() -> list[dict]:
    """Events marked for open data (by their organiser or a moderator) whose post is visible and not
    withdrawn, soonest first, as the mappings `analytics.opendata.write_events` reads. One query."""
    rows = (Event.objects.filter(open_data=True, post__status=Post.Status.VISIBLE, post__deleted_at__isnull=True)
            .order_by("starts_at", "post_id").values_list(*_PUBLIC_EVENT_FIELDS))
    return [{
        "id": post_id, "title": title, "description": body, "starts_at": starts_at, "ends_at": ends_at,
        "place": place, "capacity": capacity, "rsvp_deadline": rsvp_deadline, "tags": list(tags or ()),
        "latitude": float(latitude) if latitude is not None else None,
        "longitude": float(longitude) if longitude is not None else None,
        "published_at": published_at, "organizer": public_organizer(district_name),
    } for (post_id, title, body, starts_at, ends_at, place, capacity, rsvp_deadline, tags, latitude, longitude,
           published_at, district_name) in rows]


# --- Map ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BBox:
    min_lng: float
    min_lat: float
    max_lng: float
    max_lat: float


def parse_bbox(raw: str | None) -> BBox:
    """`minLng,minLat,maxLng,maxLat` (the GeoJSON / OGC order)."""
    from superapp.api.errors import ApiError

    def bad(ja: str, en: str, code: str = "invalid_bbox") -> ApiError:
        return ApiError(code, status_code=400, fields={"bbox": [f"{ja} / {en}"]})

    if not raw:
        raise bad("bbox を指定してください（経度,緯度,経度,緯度）", "bbox is required: minLng,minLat,maxLng,maxLat")
    parts = raw.split(",")
    if len(parts) != 4:
        raise bad("bbox は4つの数値です（最小経度,最小緯度,最大経度,最大緯度）",
                  "bbox is four numbers: minLng,minLat,maxLng,maxLat")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise bad("bbox に数値でない値があります", "bbox values must be numbers") from None
    if any(value != value or value in (float("inf"), float("-inf")) for value in values):
        raise bad("bbox に数値でない値があります", "bbox values must be finite numbers")
    box = BBox(*values)
    if not (-180 <= box.min_lng < box.max_lng <= 180 and -90 <= box.min_lat < box.max_lat <= 90):
        raise bad("bbox の範囲が不正です（最小 < 最大、緯度±90・経度±180）",
                  "bbox must have min < max within ±90 latitude and ±180 longitude")
    if box.max_lng - box.min_lng > MAX_BBOX_SPAN_DEGREES or box.max_lat - box.min_lat > MAX_BBOX_SPAN_DEGREES:
        raise bad(f"bbox が広すぎます（一辺{MAX_BBOX_SPAN_DEGREES}度まで）",
                  f"bbox is too large (at most {MAX_BBOX_SPAN_DEGREES} degrees per side)", code="bbox_too_large")
    return box


MAP_FIELDS = ("id", "latitude", "longitude", "title", "category", "district_id", "thanks_count", "created_at",
              "author__nickname", "first_thumbnail")


def map_posts(*, user: User, bbox: BBox, category: str | None = None) -> list[dict]:
    """Located, visible posts inside the box, newest first, at most MAP_FEATURE_LIMIT + 1 (the caller
    reports truncation), as plain rows: one query, no model instances (a full map is 500 points).
    Residents see their own district's posts; moderators every district's."""
    posts = visible_posts().filter(latitude__isnull=False, latitude__gte=bbox.min_lat, latitude__lte=bbox.max_lat,
                                   longitude__gte=bbox.min_lng, longitude__lte=bbox.max_lng)
    if not is_moderator(user):
        if user.district_id is None:
            from superapp.api.errors import ApiError

            raise ApiError("not_district_member", status_code=403)
        posts = posts.filter(district_id=user.district_id)
    if category:
        posts = posts.filter(category=category)
    first_thumbnail = Subquery(PostImage.objects.filter(post=OuterRef("pk")).order_by("position", "id")
                               .values("thumbnail")[:1])
    return list(posts.annotate(first_thumbnail=first_thumbnail).order_by("-created_at", "-id")
                .values(*MAP_FIELDS)[: MAP_FEATURE_LIMIT + 1])


# --- Points ---------------------------------------------------------------------------------------
def points_balance(*, user: User) -> int:
    return PointsAccount.objects.filter(user=user).values_list("balance", flat=True).first() or 0


def points_history(*, user: User) -> QuerySet[PointsEntry]:
    return PointsEntry.objects.filter(user=user).select_related("district")


def points_ledger_sum(*, user_id: int) -> int:
    return PointsEntry.objects.filter(user_id=user_id).aggregate(total=Sum("amount"))["total"] or 0


def points_between(*, user: User, start: datetime, end: datetime) -> int:
    return (PointsEntry.objects.filter(user=user, created_at__gte=start, created_at__lt=end)
            .aggregate(total=Sum("amount"))["total"] or 0)


def district_ranking(*, user: User, district_id: int, start: datetime, end: datetime) -> list[dict]:
    """The month's top contributors of a district by points earned on its board."""
    district_read_check(user=user, district_id=district_id)
    rows = (PointsEntry.objects.filter(district_id=district_id, created_at__gte=start, created_at__lt=end)
            .values("user_id", "user__nickname").annotate(points=Sum("amount"))
            .filter(points__gt=0).order_by("-points", "user_id")[:RANKING_SIZE])
    ranking, previous_points, rank = [], None, 0
    for index, row in enumerate(rows, start=1):
        if row["points"] != previous_points:
            rank, previous_points = index, row["points"]
        ranking.append({"rank": rank, "user_id": row["user_id"], "nickname": row["user__nickname"],
                        "points": row["points"], "is_me": row["user_id"] == user.pk})
    return ranking


# --- Moderation -----------------------------------------------------------------------------------
def report_queue(*, status: str = PostReport.Status.OPEN) -> QuerySet[Post]:
    """Posts with reports in `status`, most reported first, with their counts (one query)."""
    from django.db.models import Count, Max, Q

    return (Post.objects.filter(reports__status=status)
            .annotate(report_total=Count("reports", filter=Q(reports__status=status)),
                      last_reported_at=Max("reports__created_at"))
            .select_related("author", "district").order_by("-report_total", "-last_reported_at", "-id"))


def moderation_events() -> QuerySet[Event]:
    """Events on every board (not withdrawn), latest start first, with their open-data flag: where a
    moderator publishes or withdraws an event from the open data."""
    return (Event.objects.filter(post__deleted_at__isnull=True)
            .select_related("post", "post__district").order_by("-starts_at", "-post_id"))


def hidden_posts() -> QuerySet[Post]:
    return (Post.objects.filter(status=Post.Status.HIDDEN, deleted_at__isnull=True)
            .select_related("author", "district").order_by("-hidden_at", "-id"))


def moderation_post(*, post_id: int) -> Post:
    post = (Post.objects.select_related("author", "district", "event").prefetch_related(_ordered_images())
            .filter(pk=post_id).first())
    if post is None:
        raise Http404
    return post


def moderation_comment(*, comment_id: int) -> Comment:
    comment = Comment.objects.select_related("post", "author").filter(pk=comment_id).first()
    if comment is None:
        raise Http404
    return comment


def suspensions_active() -> QuerySet[DistrictSuspension]:
    from django.db.models import Q
    from django.utils import timezone

    return (DistrictSuspension.objects.filter(lifted_at__isnull=True)
            .filter(Q(until__isnull=True) | Q(until__gt=timezone.now()))
            .select_related("user", "district", "created_by").order_by("-created_at", "-id"))


def access_suspension(*, suspension_id: int) -> DistrictSuspension:
    suspension = DistrictSuspension.objects.select_related("user", "district").filter(pk=suspension_id).first()
    if suspension is None:
        raise Http404
    return suspension
