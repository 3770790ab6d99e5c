"""Writes for announcements: publish, edit, withdraw, and mark as seen."""
from __future__ import annotations

from datetime import datetime

from django.db import transaction

from accounts.models import District, User
from accounts.services import audit_record
from superapp.api.errors import ApiError

from .models import Announcement, AnnouncementSeen

_FIELDS = ("title", "title_en", "body", "body_en", "starts_at", "ends_at", "audience", "district", "interest",
           "show_as_popup")


def _check(announcement: Announcement) -> None:
    errors: dict[str, list[str]] = {}
    if announcement.ends_at <= announcement.starts_at:
        errors["ends_at"] = ["掲載終了は掲載開始より後にしてください / ends_at must be after starts_at"]
    if not announcement.title.strip():
        errors["title"] = ["件名を入力してください / A title is required"]
    if not announcement.body.strip():
        errors["body"] = ["本文を入力してください / A body is required"]
    audience = announcement.audience
    if audience == Announcement.Audience.DISTRICT and announcement.district_id is None:
        errors["district"] = ["校区向けのお知らせには校区を指定してください / A district announcement needs a district"]
    if audience == Announcement.Audience.INTEREST and not announcement.interest:
        errors["interest"] = ["関心タグを指定してください / An interest announcement needs an interest tag"]
    if audience != Announcement.Audience.DISTRICT and announcement.district_id is not None:
        errors["district"] = ["校区は対象が「校区」のときだけ指定します / Only for district announcements"]
    if audience != Announcement.Audience.INTEREST and announcement.interest:
        errors["interest"] = ["関心タグは対象が「関心タグ」のときだけ指定します / Only for interest announcements"]
    if errors:
        raise ApiError("validation_error", fields=errors)


def _normalise(changes: dict) -> dict:
    unknown = set(changes) - set(_FIELDS)
    if unknown:
        raise ValueError(f"not announcement fields: {sorted(unknown)}")
    if "interest" in changes:
        changes["interest"] = (changes["interest"] or "").strip().lower()
    for name in ("title", "title_en"):
        if name in changes:
            changes[name] = changes[name].strip()
    return changes


@transaction.atomic
def announcement_create(*, acting_user: User, title: str, body: str, starts_at: datetime, ends_at: datetime,
                        audience: str = Announcement.Audience.EVERYONE, district: District | None = None,
                        interest: str = "", show_as_popup: bool = False, title_en: str = "",
                        body_en: str = "") -> Announcement:
    fields = _normalise(dict(title=title, title_en=title_en, body=body, body_en=body_en, starts_at=starts_at,
                             ends_at=ends_at, audience=audience, district=district, interest=interest,
                             show_as_popup=show_as_popup))
    announcement = Announcement(created_by=acting_user, **fields)
    _check(announcement)
    announcement.save()
    audit_record(actor=acting_user, action="announcement.published", target=announcement,
                 data={"title": announcement.title, "audience": audience})
    return announcement


@transaction.atomic
def announcement_update(*, announcement: Announcement, acting_user: User, **changes) -> Announcement:
    changes = _normalise(changes)
    for name, value in changes.items():
        setattr(announcement, name, value)
    _check(announcement)
    if changes:
        announcement.save(update_fields=[*changes, "updated_at"])
        audit_record(actor=acting_user, action="announcement.updated", target=announcement,
                     data={"fields": sorted(changes)})
    return announcement


@transaction.atomic
def announcement_delete(*, announcement: Announcement, acting_user: User) -> None:
    audit_record(actor=acting_user, action="announcement.deleted", target=announcement,
                 data={"title": announcement.title})
    announcement.delete()


def announcement_mark_seen(*, announcement: Announcement, user: User) -> None:
    """Idempotent: seeing it twice records it once."""
    AnnouncementSeen.objects.bulk_create([AnnouncementSeen(announcement=announcement, user=user)],
                                         ignore_conflicts=True)
