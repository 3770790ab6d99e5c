"""Reads for the garbage calendar. Lookups of a resident's own objects go through `access_*`, which
answer the same 404 for "does not exist" and "not yours"."""
from __future__ import annotations

import time
from datetime import date

from django.core.cache import cache
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from accounts.models import User
from superapp.api.errors import ApiError

from . import engine
from .models import Area, AreaGroup, Booking, BookingItem, Category, CollectionChange, PickupDay, PickupItemType, Reminder, SortingItem
from .services import CALENDAR_VERSION_KEY, DEFAULT_TIMES, BookingLine
from .text import fold
from .workdays import booking_cutoff


MAX_ID = 2**63 - 1  # ids in URLs beyond PostgreSQL's bigint cannot exist
CALENDAR_CACHE_SECONDS = 6 * 3600


def _not_found() -> ApiError:
    return ApiError("not_found", status_code=404)


def area_search(*, q: str = "") -> QuerySet[Area]:
    areas = Area.objects.select_related("group")
    folded = fold(q)
    if folded:
        areas = areas.filter(search_key__contains=folded)
    return areas


def access_area(*, id: int) -> Area:
    if not 0 < id <= MAX_ID:
        raise _not_found()
    area = Area.objects.select_related("group").filter(pk=id).first()
    if area is None:
        raise _not_found()
    return area


def category_list() -> QuerySet[Category]:
    return Category.objects.all()


def area_group_list() -> QuerySet[AreaGroup]:
    return AreaGroup.objects.all()


def area_rules(*, area: Area):
    return area.rules.select_related("category").order_by("category__sort_order", "category_id")


def calendar_version() -> str:
    """Changes whenever the calendar does (import, staff change, category edit: services bump it on
    commit); cached answers are keyed by it, so they are never stale."""
    version = cache.get(CALENDAR_VERSION_KEY)
    if version is None:
        cache.add(CALENDAR_VERSION_KEY, time.time_ns(), timeout=None)
        version = cache.get(CALENDAR_VERSION_KEY)
    return str(version)


def cached_calendar_answer(*parts, compute, timeout: int = CALENDAR_CACHE_SECONDS):
    """The answer for `parts` (e.g. "collections", area id, from, to) under the current calendar
    version, computing and storing it on a miss. The cache is per municipality (tenant-keyed)."""
    key = "garbage:" + ":".join(str(p) for p in (calendar_version(), *parts))
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout=timeout)
    return value


def area_collections(*, area: Area, start: date, end: date) -> list[engine.Collection]:
    return engine.area_collections(area=area, start=start, end=end)


def area_next(*, area: Area, today: date | None = None) -> list[engine.Collection]:
    return engine.area_next(area=area, today=today or timezone.localdate())


def item_search(*, q: str = "") -> QuerySet[SortingItem]:
    items = SortingItem.objects.select_related("category")
    folded = fold(q)
    if folded:
        items = items.filter(search_key__contains=folded)
    return items


def reminder_for(*, user: User) -> Reminder:
    """The resident's reminder, or an unsaved default (evening before at 20:00, off)."""
    reminder = Reminder.objects.select_related("area__group").filter(user=user).first()
    if reminder is None:
        reminder = Reminder(user=user, area=None, category_ids=[], timing=Reminder.Timing.EVENING_BEFORE,
                            time=DEFAULT_TIMES[Reminder.Timing.EVENING_BEFORE], enabled=False)
    return reminder


def categories_by_id(ids) -> dict[int, Category]:
    return {c.id: c for c in Category.objects.filter(id__in=list(ids))} if ids else {}


def pickup_item_types(*, active_only: bool = True) -> QuerySet[PickupItemType]:
    types = PickupItemType.objects.all()
    return types.filter(active=True) if active_only else types


def pickup_days_for_area(*, area: Area, today: date | None = None) -> QuerySet[PickupDay]:
    """Upcoming pickup days of the area's group that can still be booked (before the cut-off)."""
    today = today or timezone.localdate()
    if area.group_id is None:
        return PickupDay.objects.none()
    return PickupDay.objects.filter(group_id=area.group_id, date__gte=today).select_related("group")


def pickup_day_bookable(day: PickupDay, today: date | None = None) -> bool:
    today = today or timezone.localdate()
    return day.date >= today and today <= booking_cutoff(day.date) and day.remaining > 0


def access_pickup_day(*, id: int) -> PickupDay:
    if not 0 < id <= MAX_ID:
        raise _not_found()
    day = PickupDay.objects.select_related("group").filter(pk=id).first()
    if day is None:
        raise _not_found()
    return day


def access_pickup_day_for_booking(*, id: int) -> PickupDay:
    """A pickup day named in a booking request body: unknown → 400 naming the field."""
    day = PickupDay.objects.filter(pk=id).first()
    if day is None:
        raise ApiError("validation_error", fields={"pickup_day": ["収集日が見つかりません / unknown pickup day"]})
    return day


def booking_lines(items: list[dict]) -> list[BookingLine]:
    """Validated request lines → BookingLine; the same item type twice is merged."""
    quantities: dict[int, int] = {}
    for item in items:
        quantities[item["item_type"]] = quantities.get(item["item_type"], 0) + item["quantity"]
    types = PickupItemType.objects.in_bulk(list(quantities))
    unknown = sorted(set(quantities) - set(types))
    if unknown:
        raise ApiError("validation_error", fields={"items": [f"品目が見つかりません: {unknown} / unknown item types: {unknown}"]})
    return [BookingLine(item_type=types[type_id], quantity=quantity) for type_id, quantity in quantities.items()]


def _booking_queryset() -> QuerySet[Booking]:
    return Booking.objects.select_related("pickup_day", "pickup_day__group").prefetch_related(
        Prefetch("items", queryset=BookingItem.objects.order_by("id")))


def bookings_of(*, user: User) -> QuerySet[Booking]:
    return _booking_queryset().filter(user=user)


def access_booking(*, user: User, id: int) -> Booking:
    if not 0 < id <= MAX_ID:
        raise _not_found()
    booking = _booking_queryset().filter(pk=id, user=user).first()
    if booking is None:
        raise _not_found()
    return booking


def bookings_for_day(*, day: date) -> QuerySet[Booking]:
    return _booking_queryset().select_related("user").filter(pickup_day__date=day).order_by(
        "pickup_day__group__sort_order", "area_name", "number")


def upcoming_changes(*, since: date | None = None) -> QuerySet[CollectionChange]:
    since = since or timezone.localdate()
    return CollectionChange.objects.select_related("category", "area", "group").filter(date__gte=since)
