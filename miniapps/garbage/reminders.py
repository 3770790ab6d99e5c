"""Garbage-day reminders: the beat tick (every few minutes, fanned out over municipalities) finds the
reminders due in its window and sends one push per reminder group.

A group is (area, timing, time, categories): everyone in it gets the same text, so the evening peak
is a few hundred groups for a whole city, not 230,000 individual computations or texts. Each group
becomes one notification of the notifications pipeline (topic `garbage`, per-device delivery to the
group's residents, inbox included; residents who muted garbage notifications are left out there).

- No reminder on a day without collection for the group's categories.
- Never twice: a `ReminderDispatch` row per (group, collection date) is inserted with
  ON CONFLICT DO NOTHING in the same transaction that creates the notification; a tick that runs
  twice, concurrently or late finds the row and sends nothing.
- Late ticks: the window reaches back GARBAGE_REMINDER_GRACE_MINUTES (default 90), so a beat that
  was down for a while still sends the evening's reminders, but never a stale morning one.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from . import engine
from .models import Area, Reminder, ReminderDispatch
from .rules import WEEKDAYS_JA

GRACE = timedelta(minutes=int(getattr(settings, "GARBAGE_REMINDER_GRACE_MINUTES", 90)))
DEEP_LINK = "/miniapps/garbage"


@dataclass(frozen=True)
class GroupKey:
    area_id: int
    timing: str
    time: time
    category_ids: tuple[int, ...]  # () = every category

    @property
    def categories_key(self) -> str:
        return ",".join(str(i) for i in self.category_ids)


@dataclass
class TickReport:
    window: tuple[str, str]
    reminders: int = 0
    groups: int = 0
    sent_groups: int = 0
    recipients: int = 0
    empty_groups: int = 0
    already_sent: int = 0
    notifications: list[int] = field(default_factory=list)


def _slots(start: datetime, end: datetime) -> list[tuple[str, date, time, time, date]]:
    """(timing, send day, from, to, collection date) for each local day the window touches."""
    slots = []
    day = start.date()
    while day <= end.date():
        first = start.time() if day == start.date() else time(0, 0)
        last = end.time() if day == end.date() else time(23, 59, 59)
        slots.append((Reminder.Timing.EVENING_BEFORE, day, first, last, day + timedelta(days=1)))
        slots.append((Reminder.Timing.MORNING_OF, day, first, last, day))
        day += timedelta(days=1)
    return slots


def message_for(*, collection_date: date, send_day: date, collections: list[engine.Collection]) -> tuple[str, str]:
    names = "・".join(c.category.name for c in collections)
    when = "明日" if collection_date > send_day else "今日"
    label = f"{collection_date.month}/{collection_date.day}（{WEEKDAYS_JA[collection_date.weekday()]}）"
    body = f"{when}{label}は{names}の日です。"
    notes = [c.note for c in collections if c.note]
    if notes:
        body += " " + " ".join(dict.fromkeys(notes))
    return "ごみ収集のお知らせ", body[:1000]


def reminder_tick(*, now: datetime | None = None, send=None) -> TickReport:
    """Sends every reminder group due in (now - GRACE, now]; idempotent. `send(batch)` hands the
    groups [(user_ids, title, body), ...] to the push pipeline inside the claiming transaction and
    returns the notification ids (default: `push.send_reminder_groups`)."""
    from .push import send_reminder_groups

    send = send or send_reminder_groups
    now = timezone.localtime(now or timezone.now())
    start = now - GRACE
    report = TickReport(window=(start.isoformat(timespec="minutes"), now.isoformat(timespec="minutes")))
    slot_q = Q()
    slot_dates: dict[tuple[str, time, time, date], date] = {}
    for timing, send_day, first, last, collection_date in _slots(start, now):
        slot_q |= Q(timing=timing, time__gte=first, time__lte=last)
        slot_dates[(timing, first, last, send_day)] = collection_date
    # PostgreSQL groups the residents (one row per group with its user ids), so a city's evening
    # peak is a few hundred rows, not a Python object per resident.
    rows = list(Reminder.objects.filter(slot_q, enabled=True, area__isnull=False)
                .values("area_id", "timing", "time", "category_ids")
                .annotate(user_ids=ArrayAgg("user_id", order_by="user_id"))
                .values_list("user_ids", "area_id", "timing", "time", "category_ids"))
    report.reminders = sum(len(user_ids) for user_ids, *_ in rows)
    if not rows:
        return report

    # Which collection date each (timing, time) is for: the latest send day whose slot holds it.
    def collection_date_for(timing: str, at: time) -> date:
        matches = [(send_day, cdate) for (t, first, last, send_day), cdate in slot_dates.items()
                   if t == timing and first <= at <= last]
        return max(matches)[1]

    groups: dict[tuple[GroupKey, date], list[int]] = defaultdict(list)
    for user_ids, area_id, timing, at, category_ids in rows:
        key = GroupKey(area_id, timing, at, tuple(sorted(category_ids or ())))
        groups[(key, collection_date_for(timing, at))].extend(user_ids)
    report.groups = len(groups)

    areas = {a.id: a for a in Area.objects.filter(pk__in={k.area_id for k, _ in groups})}
    by_date: dict[date, dict[int, list[engine.Collection]]] = {}
    for collection_date in {d for _, d in groups}:
        area_list = [areas[k.area_id] for k, d in groups if d == collection_date and k.area_id in areas]
        by_date[collection_date] = engine.collections_on(areas=list({a.id: a for a in area_list}.values()), day=collection_date)

    planned = []
    for (key, collection_date), user_ids in groups.items():
        collections = [c for c in by_date[collection_date].get(key.area_id, [])
                       if not key.category_ids or c.category.id in key.category_ids]
        if not collections:
            report.empty_groups += 1
            continue
        send_day = collection_date - timedelta(days=1) if key.timing == Reminder.Timing.EVENING_BEFORE else collection_date
        title, body = message_for(collection_date=collection_date, send_day=send_day, collections=collections)
        planned.append((key, collection_date, sorted(user_ids), title, body))
    if not planned:
        return report

    with transaction.atomic():
        claimed = _claim(planned)
        report.already_sent = len(planned) - len(claimed)
        batch = [(user_ids, title, body) for key, collection_date, user_ids, title, body in planned
                 if (key.area_id, key.timing, key.time, key.categories_key, collection_date) in claimed]
        if batch:
            report.notifications = send(batch)
        report.sent_groups = len(batch)
        report.recipients = sum(len(user_ids) for user_ids, _title, _body in batch)
    return report


def _claim(planned) -> set[tuple]:
    """Inserts the dispatch rows of all planned groups in one statement; returns the groups this
    call inserted (the others were sent by an earlier or concurrent tick)."""
    table = ReminderDispatch._meta.db_table
    values, params = [], []
    now = timezone.now()
    for key, collection_date, user_ids, title, body in planned:
        values.append("(%s, %s, %s, %s, %s, %s, %s, %s, %s)")
        params += [collection_date, key.area_id, key.timing, key.time, key.categories_key, len(user_ids), title[:200],
                   body[:500], now]
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (collection_date, area_id, timing, time, categories_key, recipients, title, body, '
            f"created_at) VALUES {', '.join(values)} ON CONFLICT DO NOTHING "
            "RETURNING area_id, timing, time, categories_key, collection_date", params)
        return {tuple(row) for row in cursor.fetchall()}
