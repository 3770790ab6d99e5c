"""Reads for announcements: the active ones a resident should see, and staff lists."""
from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from superapp.api.errors import ApiError

from .models import Announcement, AnnouncementSeen

MAX_ACTIVE = 100


def _for_resident(user: User) -> QuerySet[Announcement]:
    now = timezone.now()
    audience = Q(audience=Announcement.Audience.EVERYONE)
    if user.district_id is not None:
        audience |= Q(audience=Announcement.Audience.DISTRICT, district_id=user.district_id)
    if user.interests:
        audience |= Q(audience=Announcement.Audience.INTEREST, interest__in=user.interests)
    return Announcement.objects.filter(audience, starts_at__lte=now, ends_at__gt=now)


def announcements_for_resident(*, user: User) -> list[Announcement]:
    """Active announcements for this resident (everyone, their district, their interests), popups
    first, each with `seen`. One query."""
    seen = AnnouncementSeen.objects.filter(announcement=OuterRef("pk"), user=user)
    return list(_for_resident(user).annotate(seen=Exists(seen)).order_by("-show_as_popup", "-starts_at", "-id")
                [:MAX_ACTIVE])


def access_announcement_for_resident(*, user: User, announcement_id: int) -> Announcement:
    """An announcement this resident can see now; anything else is the same 404."""
    announcement = _for_resident(user).filter(pk=announcement_id).first()
    if announcement is None:
        raise ApiError("not_found", status_code=404)
    return announcement


def announcements_for_staff() -> QuerySet[Announcement]:
    return (Announcement.objects.select_related("district", "created_by")
            .annotate(seen_count=Count("seen_by")).order_by("-starts_at", "-id"))


def access_announcement_for_staff(*, announcement_id: int) -> Announcement:
    announcement = announcements_for_staff().filter(pk=announcement_id).first()
    if announcement is None:
        raise ApiError("not_found", status_code=404)
    return announcement
