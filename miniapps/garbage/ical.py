"""RFC 5545 feed of an area's collections (icalendar library): one all-day event per collection,
named after its category, with a UID that stays the same for the same area, category and date, so
Google Calendar and Apple Calendar update events in place instead of duplicating them."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event

from .engine import Collection
from .models import Area


def collection_uid(*, schema_name: str, area_id: int, category_id: int, day) -> str:
    return f"garbage-{schema_name}-{area_id}-{category_id}-{day:%Y%m%d}@{settings.PLATFORM_DOMAIN}"


def calendar_ics(*, area: Area, collections: list[Collection], schema_name: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Municipal Super App//Garbage Calendar//JA")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"ごみカレンダー {area.name}")
    calendar.add("x-wr-timezone", "Asia/Tokyo")
    calendar.add("x-wr-caldesc", f"{area.name}のごみ収集日 / Garbage collection days of {area.name}")
    # Ask subscribers to refresh daily: staff changes (holiday shifts) must reach them.
    calendar.add("refresh-interval", timedelta(days=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "P1D")
    stamp = timezone.now().replace(microsecond=0)
    for collection in collections:
        event = Event()
        event.add("uid", collection_uid(schema_name=schema_name, area_id=area.id, category_id=collection.category.id,
                                        day=collection.date))
        event.add("dtstamp", stamp)
        event.add("dtstart", collection.date)
        event.add("dtend", collection.date + timedelta(days=1))
        event.add("summary", collection.category.name)
        event.add("categories", [collection.category.name])
        if collection.note:
            event.add("description", collection.note)
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()
