"""Writes for the community boards: posts, images, comments, events and RSVPs, thank-yous and the
points ledger, reports and moderation, follows and map bounds.

Every function is atomic; moderation actions write an audit row; pushes leave on commit."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.models import District, User
from accounts.services import audit_record
from superapp.api.errors import ApiError

from . import images as image_processing
from .access import district_read_check, district_write_check, is_moderator
from .bounds import SETTINGS_KEY, Bounds, municipality_map_bounds
from .models import (
    Category,
    CategoryFollow,
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

MAX_IMAGES_PER_POST = 4
MAX_TAGS = 5
_TAG_RE = re.compile(r"^[^\s\x00-\x1f,#、，]{1,20}$")

POINTS_PER_THANKS = 1
# Anti-abuse: one giver can credit one author at most this many points in a calendar month (Tokyo);
# further thank-yous still count on the post but credit nothing.
MAX_POINTS_FROM_ONE_GIVER_PER_MONTH = 10
# Anti-abuse: thank-yous one resident can send per day.
MAX_THANKS_PER_DAY = 30

# pg_advisory_xact_lock namespace for "one giver's thank-yous", so the daily cap holds under concurrency.
_THANKS_LOCK_NAMESPACE = 0x7A11 << 40


def _field_error(field: str, ja: str, en: str, code: str = "validation_error", status_code: int = 400) -> ApiError:
    return ApiError(code, status_code=status_code, fields={field: [f"{ja} / {en}"]})


def tokyo_day_start(now: datetime | None = None) -> datetime:
    local = timezone.localtime(now or timezone.now())
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def tokyo_month_start(now: datetime | None = None) -> datetime:
    return tokyo_day_start(now).replace(day=1)


# --- Tags, locations, images ----------------------------------------------------------------------
def clean_tags(tags: list[str]) -> list[str]:
    """NFKC, trimmed, lower-case, without a leading '#', unique, at most MAX_TAGS."""
    cleaned: list[str] = []
    for raw in tags:
        tag = unicodedata.normalize("NFKC", str(raw)).strip().lstrip("#").lower()
        if not _TAG_RE.match(tag):
            raise _field_error("tags", "タグは空白・記号を含まない20文字以内で指定してください",
                               "each tag is 1-20 characters without spaces, commas or '#'")
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise _field_error("tags", f"タグは{MAX_TAGS}個までです", f"at most {MAX_TAGS} tags")
    return cleaned


def _check_location(location: dict | None) -> tuple[Decimal | None, Decimal | None]:
    if location is None:
        return None, None
    bounds = municipality_map_bounds()
    if bounds is None:
        raise _field_error("location", "この自治体は地図の範囲が未設定のため、位置情報付きの投稿はできません",
                           "this municipality has not set its map bounds yet", code="map_bounds_not_configured")
    lat, lng = location["lat"], location["lng"]
    if not bounds.contains(lat, lng):
        raise _field_error("location", "位置が市の範囲外です", "the location is outside the municipality",
                           code="location_out_of_bounds")
    return Decimal(str(lat)).quantize(Decimal("0.000001")), Decimal(str(lng)).quantize(Decimal("0.000001"))


@transaction.atomic
def image_upload(*, uploader: User, file) -> PostImage:
    """Stores an uploaded photo (re-encoded, metadata stripped, thumbnail made) for a post to claim."""
    if uploader.district_id is None:
        raise ApiError("not_district_member", status_code=403)
    district_write_check(user=uploader, district_id=uploader.district_id, action="post")
    processed = image_processing.process_upload(file)
    image = PostImage(uploader=uploader, content_type=processed.content_type, width=processed.width,
                      height=processed.height, size_bytes=len(processed.content))
    image.image.save(f"photo{processed.extension}", ContentFile(processed.content), save=False)
    image.thumbnail.save("thumb.jpg", ContentFile(processed.thumbnail), save=False)
    image.save()
    return image


def images_purge_orphans(*, older_than_hours: int = 24) -> int:
    """Deletes photos uploaded but never attached to a post (files first, then rows)."""
    cutoff = timezone.now() - timezone.timedelta(hours=older_than_hours)
    removed = 0
    for image in PostImage.objects.filter(post__isnull=True, created_at__lt=cutoff).iterator():
        image.image.delete(save=False)
        image.thumbnail.delete(save=False)
        image.delete()
        removed += 1
    return removed


def _claim_images(*, author: User, image_ids: list[int], post: Post) -> None:
    ids = list(dict.fromkeys(image_ids))
    if len(ids) > MAX_IMAGES_PER_POST:
        raise _field_error("image_ids", f"画像は{MAX_IMAGES_PER_POST}枚までです",
                           f"at most {MAX_IMAGES_PER_POST} images per post")
    if not ids:
        return
    found = {image.id: image for image in
             PostImage.objects.select_for_update().filter(id__in=ids, uploader=author, post__isnull=True)}
    missing = [image_id for image_id in ids if image_id not in found]
    if missing:
        raise _field_error("image_ids", f"使えない画像IDです: {missing}",
                           f"unknown or already used image ids: {missing}")
    for position, image_id in enumerate(ids):
        found[image_id].post = post
        found[image_id].position = position
    PostImage.objects.bulk_update(found.values(), ["post", "position"])


# --- Posts ----------------------------------------------------------------------------------------
def _validate_event(changes: dict, *, now: datetime, current: Event | None = None) -> dict:
    """Checks an event's times (all of them on create, the changed ones against the rest on update).
    The RSVP deadline defaults to the start."""
    starts_at = changes.get("starts_at", current.starts_at if current else None)
    ends_at = changes.get("ends_at", current.ends_at if current else None)
    deadline = changes.get("rsvp_deadline") or (current.rsvp_deadline if current else starts_at)
    errors: dict[str, list[str]] = {}
    if "starts_at" in changes and starts_at <= now:
        errors["event.starts_at"] = ["開始日時は未来にしてください / the start must be in the future"]
    if ends_at is not None and ends_at <= starts_at:
        errors["event.ends_at"] = ["終了日時は開始より後にしてください / the end must be after the start"]
    if deadline > starts_at:
        errors["event.rsvp_deadline"] = ["締切は開始日時以前にしてください / the deadline must not be after the start"]
    elif changes.get("rsvp_deadline") and deadline <= now:
        errors["event.rsvp_deadline"] = ["締切は未来にしてください / the deadline must be in the future"]
    if errors:
        raise ApiError("validation_error", fields=errors)
    return {**changes, "rsvp_deadline": deadline} if current is None or "rsvp_deadline" in changes else dict(changes)


@transaction.atomic
def post_create(*, author: User, district_id: int, title: str, category: str, body: str = "",
                tags: list[str] | None = None, image_ids: list[int] | None = None,
                location: dict | None = None, event: dict | None = None) -> Post:
    district_write_check(user=author, district_id=district_id, action="post")
    title = title.strip()
    if not title:
        raise _field_error("title", "タイトルを入力してください", "the title is required")
    if category not in Category.values:
        raise _field_error("category", "不明なカテゴリーです", "unknown category")
    latitude, longitude = _check_location(location)
    now = timezone.now()
    event_fields = _validate_event(event, now=now) if event is not None else None
    if event_fields is not None and event_fields.pop("open_data", False):
        event_fields.update(open_data=True, open_data_since=now)
    post = Post.objects.create(district_id=district_id, author=author, category=category, title=title,
                               body=body.strip(), tags=clean_tags(tags or []), latitude=latitude,
                               longitude=longitude, created_at=now)
    _claim_images(author=author, image_ids=image_ids or [], post=post)
    if event_fields is not None:
        post.event = Event.objects.create(post=post, **event_fields)
        if post.event.open_data:
            _audit_open_data(post.event, acting_user=author, by="organiser")
    from .tasks import notify_new_post  # noqa: PLC0415  (tasks import services)

    notify_new_post.delay_on_commit(post.id)
    return post


_EDITABLE_POST_FIELDS = {"title", "body", "category", "tags"}


@transaction.atomic
def post_update(*, post: Post, acting_user: User, **changes) -> Post:
    if post.author_id != acting_user.id:
        raise ApiError("permission_denied", status_code=403)
    unknown = set(changes) - _EDITABLE_POST_FIELDS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    district_write_check(user=acting_user, district_id=post.district_id, action="post")
    if "title" in changes:
        changes["title"] = changes["title"].strip()
        if not changes["title"]:
            raise _field_error("title", "タイトルを入力してください", "the title is required")
    if "body" in changes:
        changes["body"] = changes["body"].strip()
    if "tags" in changes:
        changes["tags"] = clean_tags(changes["tags"] or [])
    for name, value in changes.items():
        setattr(post, name, value)
    if changes:
        post.save(update_fields=[*changes, "updated_at"])
    return post


@transaction.atomic
def post_delete(*, post: Post, acting_user: User) -> None:
    """The author withdraws a post (kept for moderation history, gone from every list)."""
    if post.author_id != acting_user.id:
        raise ApiError("permission_denied", status_code=403)
    if post.deleted_at is None:
        post.deleted_at = timezone.now()
        post.save(update_fields=["deleted_at", "updated_at"])


# --- Comments ---------------------------------------------------------------------------------------
@transaction.atomic
def comment_create(*, post: Post, author: User, body: str) -> Comment:
    district_write_check(user=author, district_id=post.district_id, action="comment")
    body = body.strip()
    if not body:
        raise _field_error("body", "コメントを入力してください", "the comment is empty")
    comment = Comment.objects.create(post=post, author=author, body=body)
    Post.objects.filter(pk=post.pk).update(comment_count=F("comment_count") + 1)
    return comment


@transaction.atomic
def comment_delete(*, comment: Comment, acting_user: User) -> None:
    if comment.author_id != acting_user.id:
        raise ApiError("permission_denied", status_code=403)
    if comment.deleted_at is None:
        comment.deleted_at = timezone.now()
        comment.save(update_fields=["deleted_at"])
        if comment.status == Comment.Status.VISIBLE:
            Post.objects.filter(pk=comment.post_id).update(comment_count=F("comment_count") - 1)


# --- Events and RSVPs -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RsvpResult:
    rsvp: Rsvp
    event: Event
    waiting_position: int | None
    promoted: list[Rsvp]


def _promote(event: Event, now: datetime) -> list[Rsvp]:
    """Fills free places from the head of the waiting list (the event row is locked by the caller)."""
    promoted: list[Rsvp] = []
    while event.capacity is None or event.joined_count < event.capacity:
        head = (Rsvp.objects.select_for_update().filter(event=event, status=Rsvp.Status.WAITING)
                .order_by("queued_at", "id").first())
        if head is None:
            break
        head.status, head.promoted_at, head.queued_at = Rsvp.Status.GOING, now, None
        head.save(update_fields=["status", "promoted_at", "queued_at"])
        event.joined_count += 1
        event.waiting_count -= 1
        promoted.append(head)
    return promoted


def waiting_position(rsvp: Rsvp) -> int | None:
    if rsvp.status != Rsvp.Status.WAITING:
        return None
    ahead = Rsvp.objects.filter(event_id=rsvp.event_id, status=Rsvp.Status.WAITING).filter(
        queued_at__lt=rsvp.queued_at).count() + Rsvp.objects.filter(
        event_id=rsvp.event_id, status=Rsvp.Status.WAITING, queued_at=rsvp.queued_at, id__lt=rsvp.id).count()
    return ahead + 1


def _notify_promoted(promoted: list[Rsvp]) -> None:
    from .tasks import notify_promoted  # noqa: PLC0415

    for rsvp in promoted:
        notify_promoted.delay_on_commit(rsvp.id)


@transaction.atomic
def rsvp_answer(*, event: Event, user: User, answer: str) -> RsvpResult:
    """参加 / 不参加. The event row is locked for the whole decision, so concurrent joins are counted one
    after another and never exceed the capacity; a decline promotes the head of the waiting list."""
    if answer not in Rsvp.Answer.values:
        raise _field_error("answer", "join か decline を指定してください", "answer must be join or decline")
    district_write_check(user=user, district_id=event.post.district_id, action="rsvp")
    locked = Event.objects.select_for_update().get(pk=event.pk)
    now = timezone.now()  # read under the lock: the waiting list's order is the order of the lock
    if not locked.is_open(now):
        raise ApiError("rsvp_closed", status_code=409)
    rsvp = Rsvp.objects.filter(event=locked, user=user).first()
    previous = rsvp.status if rsvp else None
    promoted: list[Rsvp] = []

    if answer == Rsvp.Answer.JOIN:
        if previous in (Rsvp.Status.GOING, Rsvp.Status.WAITING):
            return RsvpResult(rsvp, locked, waiting_position(rsvp), [])
        if locked.capacity is None or locked.joined_count < locked.capacity:
            status, queued_at = Rsvp.Status.GOING, None
            locked.joined_count += 1
        else:
            status, queued_at = Rsvp.Status.WAITING, now
            locked.waiting_count += 1
    else:
        if previous == Rsvp.Status.DECLINED:
            return RsvpResult(rsvp, locked, None, [])
        status, queued_at = Rsvp.Status.DECLINED, None
        if previous == Rsvp.Status.GOING:
            locked.joined_count -= 1
        elif previous == Rsvp.Status.WAITING:
            locked.waiting_count -= 1

    if rsvp is None:
        rsvp = Rsvp(event=locked, user=user)
    rsvp.answer, rsvp.status, rsvp.queued_at, rsvp.responded_at = answer, status, queued_at, now
    if status == Rsvp.Status.GOING:
        rsvp.promoted_at = None
    rsvp.save()
    if previous == Rsvp.Status.GOING:
        promoted = _promote(locked, now)
    locked.save(update_fields=["joined_count", "waiting_count"])
    _notify_promoted(promoted)
    locked.post = event.post
    return RsvpResult(rsvp, locked, waiting_position(rsvp), promoted)


_EDITABLE_EVENT_FIELDS = {"starts_at", "ends_at", "place", "capacity", "rsvp_deadline", "open_data"}


def _apply_open_data(event: Event, open_data: bool, now: datetime) -> bool:
    """Sets the flag on a locked event; returns whether it changed. The listing date (掲載開始日)
    is the latest time the event was marked."""
    if event.open_data == open_data:
        return False
    event.open_data, event.open_data_since = open_data, (now if open_data else None)
    return True


def _audit_open_data(event: Event, *, acting_user: User, by: str) -> None:
    audit_record(actor=acting_user, action="community.event_open_data_set", target=event.post,
                 data={"open_data": event.open_data, "by": by, "district_id": event.post.district_id})


@transaction.atomic
def event_update(*, event: Event, acting_user: User, **changes) -> Event:
    """The organiser changes the event; a larger capacity promotes people from the waiting list."""
    if event.post.author_id != acting_user.id:
        raise ApiError("permission_denied", status_code=403)
    unknown = set(changes) - _EDITABLE_EVENT_FIELDS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    locked = Event.objects.select_for_update().get(pk=event.pk)
    now = timezone.now()
    if {"starts_at", "ends_at", "rsvp_deadline"} & set(changes):
        changes = _validate_event(changes, now=now, current=locked)
    if "capacity" in changes and changes["capacity"] is not None and changes["capacity"] < locked.joined_count:
        raise _field_error("capacity", f"定員は参加確定の{locked.joined_count}人より少なくできません",
                           f"capacity cannot be below the {locked.joined_count} people already going",
                           code="capacity_below_joined")
    open_data_changed = "open_data" in changes and _apply_open_data(locked, changes.pop("open_data"), now)
    for name, value in changes.items():
        setattr(locked, name, value)
    promoted = _promote(locked, now) if "capacity" in changes else []
    locked.save()
    _notify_promoted(promoted)
    locked.post = event.post
    if changes or not open_data_changed:
        audit_record(actor=acting_user, action="community.event_updated", target=locked.post,
                     data={"fields": sorted(changes), "promoted": [r.user_id for r in promoted]})
    if open_data_changed:
        _audit_open_data(locked, acting_user=acting_user, by="organiser")
    return locked


@transaction.atomic
def event_open_data_set(*, event: Event, open_data: bool, acting_user: User) -> Event:
    """A community moderator publishes an event in the open-data イベント一覧 or withdraws it
    (e.g. an event run with the city, or one that should not be public). Audited; idempotent."""
    if not is_moderator(acting_user):
        raise ApiError("permission_denied", status_code=403)
    locked = Event.objects.select_for_update().get(pk=event.pk)
    locked.post = event.post
    if _apply_open_data(locked, open_data, timezone.now()):
        locked.save(update_fields=["open_data", "open_data_since"])
        _audit_open_data(locked, acting_user=acting_user, by="moderator")
    return locked


def attendees_exported(*, event: Event, acting_user: User, rows: int) -> None:
    """Audit row for an organiser's or moderator's attendee export (nicknames are personal data)."""
    audit_record(actor=acting_user, action="community.attendees_exported", target=event.post, data={"rows": rows})


# --- Thank-yous and the points ledger -----------------------------------------------------------
def points_append(*, user_id: int, amount: int, kind: str, thanks: Thanks | None = None,
                  district_id: int | None = None) -> PointsEntry:
    """Appends one ledger entry. The account row is locked, so each entry's balance_after is the
    previous balance plus its amount: the balance always equals the sum of the entries."""
    PointsAccount.objects.bulk_create([PointsAccount(user_id=user_id)], ignore_conflicts=True)
    account = PointsAccount.objects.select_for_update().get(pk=user_id)
    account.balance += amount
    account.save(update_fields=["balance", "updated_at"])
    return PointsEntry.objects.create(user_id=user_id, amount=amount, balance_after=account.balance, kind=kind,
                                      thanks=thanks, district_id=district_id)


@transaction.atomic
def thanks_give(*, giver: User, post: Post, comment: Comment | None = None) -> Thanks:
    """「ありがとう」 for a post or one of its comments: once per target, never to oneself, at most
    MAX_THANKS_PER_DAY a day; credits the author unless this giver already credited them the monthly cap."""
    recipient_id = comment.author_id if comment is not None else post.author_id
    if recipient_id == giver.id:
        raise ApiError("cannot_thank_self", status_code=403)
    district_write_check(user=giver, district_id=post.district_id, action="thanks")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_THANKS_LOCK_NAMESPACE | giver.id])
    target = Thanks.objects.filter(giver=giver, post=post)
    target = target.filter(comment=comment) if comment is not None else target.filter(comment__isnull=True)
    if target.exists():
        raise ApiError("already_thanked", status_code=409)
    now = timezone.now()
    if Thanks.objects.filter(giver=giver, created_at__gte=tokyo_day_start(now)).count() >= MAX_THANKS_PER_DAY:
        raise ApiError("thanks_limit_reached", status_code=429,
                       fields={"limit": [f"1日{MAX_THANKS_PER_DAY}回まで / {MAX_THANKS_PER_DAY} per day"]})
    credited = Thanks.objects.filter(giver=giver, recipient_id=recipient_id,
                                     created_at__gte=tokyo_month_start(now)).aggregate(total=Sum("points"))["total"] or 0
    points = POINTS_PER_THANKS if credited + POINTS_PER_THANKS <= MAX_POINTS_FROM_ONE_GIVER_PER_MONTH else 0
    try:
        with transaction.atomic():
            thanks = Thanks.objects.create(giver=giver, recipient_id=recipient_id, post=post, comment=comment,
                                           points=points, created_at=now)
    except IntegrityError:
        raise ApiError("already_thanked", status_code=409) from None
    if comment is not None:
        Comment.objects.filter(pk=comment.pk).update(thanks_count=F("thanks_count") + 1)
    else:
        Post.objects.filter(pk=post.pk).update(thanks_count=F("thanks_count") + 1)
    if points:
        points_append(user_id=recipient_id, amount=points, kind=PointsEntry.Kind.THANKS, thanks=thanks,
                      district_id=post.district_id)
    return thanks


def _move_thanks_points(thanks_qs, *, kind: str, sign: int) -> int:
    moved = 0
    for thanks in thanks_qs.filter(points__gt=0).select_related("post").order_by("id"):
        points_append(user_id=thanks.recipient_id, amount=sign * thanks.points, kind=kind, thanks=thanks,
                      district_id=thanks.post.district_id)
        moved += thanks.points
    return moved


# --- Reports and moderation -----------------------------------------------------------------------
@transaction.atomic
def post_report(*, post: Post, reporter: User, reason: str, detail: str = "") -> PostReport:
    district_read_check(user=reporter, district_id=post.district_id)
    if reason not in PostReport.Reason.values:
        raise _field_error("reason", "不明な理由です", "unknown reason")
    try:
        with transaction.atomic():
            report = PostReport.objects.create(post=post, reporter=reporter, reason=reason, detail=detail.strip())
    except IntegrityError:
        raise ApiError("already_reported", status_code=409) from None
    audit_record(actor=reporter, action="community.post_reported", target=post, data={"reason": reason})
    return report


def _resolve_reports(post: Post, *, status: str, moderator: User) -> int:
    return PostReport.objects.filter(post=post, status=PostReport.Status.OPEN).update(
        status=status, resolved_at=timezone.now(), resolved_by=moderator)


@transaction.atomic
def post_hide(*, post: Post, moderator: User, reason: str = "") -> Post:
    """Hides a post from feeds, the map and its detail page; resolves its open reports; reverses the
    points its thank-yous credited (new ledger entries). Idempotent."""
    post = Post.objects.select_for_update().get(pk=post.pk)
    resolved = _resolve_reports(post, status=PostReport.Status.ACTIONED, moderator=moderator)
    if post.status == Post.Status.HIDDEN:
        return post
    post.status, post.hidden_at, post.hidden_reason = Post.Status.HIDDEN, timezone.now(), reason.strip()[:500]
    post.save(update_fields=["status", "hidden_at", "hidden_reason", "updated_at"])
    reversed_points = _move_thanks_points(post.thanks.filter(comment__isnull=True),
                                          kind=PointsEntry.Kind.MODERATION_REVERSAL, sign=-1)
    audit_record(actor=moderator, action="community.post_hidden", target=post,
                 data={"reason": post.hidden_reason, "reports_resolved": resolved, "points_reversed": reversed_points,
                       "district_id": post.district_id})
    return post


@transaction.atomic
def post_restore(*, post: Post, moderator: User) -> Post:
    post = Post.objects.select_for_update().get(pk=post.pk)
    if post.status == Post.Status.VISIBLE:
        return post
    post.status, post.hidden_at, post.hidden_reason = Post.Status.VISIBLE, None, ""
    post.save(update_fields=["status", "hidden_at", "hidden_reason", "updated_at"])
    restored = _move_thanks_points(post.thanks.filter(comment__isnull=True),
                                   kind=PointsEntry.Kind.MODERATION_RESTORE, sign=1)
    audit_record(actor=moderator, action="community.post_restored", target=post,
                 data={"points_restored": restored, "district_id": post.district_id})
    return post


@transaction.atomic
def reports_dismiss(*, post: Post, moderator: User) -> int:
    dismissed = _resolve_reports(post, status=PostReport.Status.DISMISSED, moderator=moderator)
    if dismissed:
        audit_record(actor=moderator, action="community.reports_dismissed", target=post, data={"reports": dismissed})
    return dismissed


@transaction.atomic
def comment_hide(*, comment: Comment, moderator: User) -> Comment:
    comment = Comment.objects.select_for_update().get(pk=comment.pk)
    if comment.status == Comment.Status.HIDDEN:
        return comment
    comment.status, comment.hidden_at = Comment.Status.HIDDEN, timezone.now()
    comment.save(update_fields=["status", "hidden_at"])
    if comment.deleted_at is None:
        Post.objects.filter(pk=comment.post_id).update(comment_count=F("comment_count") - 1)
    reversed_points = _move_thanks_points(comment.thanks.all(), kind=PointsEntry.Kind.MODERATION_REVERSAL, sign=-1)
    audit_record(actor=moderator, action="community.comment_hidden", target=comment,
                 data={"post_id": comment.post_id, "points_reversed": reversed_points})
    return comment


@transaction.atomic
def comment_restore(*, comment: Comment, moderator: User) -> Comment:
    comment = Comment.objects.select_for_update().get(pk=comment.pk)
    if comment.status == Comment.Status.VISIBLE:
        return comment
    comment.status, comment.hidden_at = Comment.Status.VISIBLE, None
    comment.save(update_fields=["status", "hidden_at"])
    if comment.deleted_at is None:
        Post.objects.filter(pk=comment.post_id).update(comment_count=F("comment_count") + 1)
    restored = _move_thanks_points(comment.thanks.all(), kind=PointsEntry.Kind.MODERATION_RESTORE, sign=1)
    audit_record(actor=moderator, action="community.comment_restored", target=comment,
                 data={"post_id": comment.post_id, "points_restored": restored})
    return comment


@transaction.atomic
def suspension_create(*, user_id: int, district_id: int, reason: str, moderator: User,
                      until: datetime | None = None) -> DistrictSuspension:
    """Bars a member from posting and commenting in one district (until a time, or until lifted)."""
    if not User.objects.filter(pk=user_id, kind=User.Kind.RESIDENT).exists():
        raise _field_error("user", "住民が見つかりません", "no such resident")
    if not District.objects.filter(pk=district_id).exists():
        raise _field_error("district", "校区が見つかりません", "no such district")
    reason = reason.strip()
    if not reason:
        raise _field_error("reason", "理由を入力してください", "a reason is required")
    if until is not None and until <= timezone.now():
        raise _field_error("until", "期限は未来にしてください", "the end must be in the future")
    # An expired suspension is closed first so a new one can be opened.
    DistrictSuspension.objects.filter(user_id=user_id, district_id=district_id, lifted_at__isnull=True,
                                      until__lte=timezone.now()).update(lifted_at=F("until"))
    try:
        with transaction.atomic():
            suspension = DistrictSuspension.objects.create(user_id=user_id, district_id=district_id, reason=reason,
                                                           until=until, created_by=moderator)
    except IntegrityError:
        raise ApiError("already_suspended", status_code=409) from None
    audit_record(actor=moderator, action="community.member_suspended", target=suspension,
                 data={"user_id": user_id, "district_id": district_id, "reason": reason,
                       "until": until.isoformat() if until else None})
    return suspension


@transaction.atomic
def suspension_lift(*, suspension: DistrictSuspension, moderator: User) -> DistrictSuspension:
    suspension = DistrictSuspension.objects.select_for_update().get(pk=suspension.pk)
    if suspension.lifted_at is None:
        suspension.lifted_at, suspension.lifted_by = timezone.now(), moderator
        suspension.save(update_fields=["lifted_at", "lifted_by"])
        audit_record(actor=moderator, action="community.member_suspension_lifted", target=suspension,
                     data={"user_id": suspension.user_id, "district_id": suspension.district_id})
    return suspension


# --- Follows and settings ---------------------------------------------------------------------------
@transaction.atomic
def follows_set(*, user: User, categories: list[str]) -> list[str]:
    """Replaces the categories a resident follows (pushes for new posts in their district)."""
    wanted = list(dict.fromkeys(categories))
    unknown = [c for c in wanted if c not in Category.values]
    if unknown:
        raise _field_error("categories", f"不明なカテゴリーです: {unknown}", f"unknown categories: {unknown}")
    CategoryFollow.objects.filter(user=user).exclude(category__in=wanted).delete()
    CategoryFollow.objects.bulk_create([CategoryFollow(user=user, category=c) for c in wanted], ignore_conflicts=True)
    return sorted(wanted)


@transaction.atomic
def map_bounds_set(*, municipality, bounds: Bounds, acting_user: User) -> Bounds:
    """Stores the municipality's map bounds on `Municipality.settings` (public schema)."""
    from tenants.models import Municipality  # noqa: PLC0415

    if not (-90 <= bounds.min_lat < bounds.max_lat <= 90 and -180 <= bounds.min_lng < bounds.max_lng <= 180):
        raise _field_error("bounds", "範囲が不正です（min < max）", "invalid bounds (min must be below max)")
    row = Municipality.objects.select_for_update().get(pk=municipality.pk)
    row.settings = {**(row.settings or {}), SETTINGS_KEY: bounds.as_dict()}
    row.save(update_fields=["settings"])
    municipality.settings = row.settings
    audit_record(actor=acting_user, action="community.map_bounds_set", data=bounds.as_dict())
    return bounds

