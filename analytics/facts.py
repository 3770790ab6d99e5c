"""Daily fact tables and how each is rebuilt from its source, one statement per range of days.

A rebuild of days D1..D2 deletes those days from the fact table and inserts them again from the
source in the same transaction (`INSERT ... SELECT`, nothing passes through Python), so it is
exact and idempotent: rebuilding a day replaces it. A transaction-level advisory lock, keyed by
schema and fact, makes two rebuilds of the same fact in one municipality take turns.

A fact whose source app is not installed in this deployment is skipped (and says so), so the
data platform runs with any subset of the mini-apps.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db import connection

from .models import (
    ActiveResidentsFact,
    AttendanceFact,
    CheckInFact,
    FeedbackFact,
    PushFact,
    UsageFact,
)


def local_midnight(day: date) -> datetime:
    """The instant a local (Asia/Tokyo) day starts."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def model_table(app_label: str, model_name: str) -> str:
    return apps.get_model(app_label, model_name)._meta.db_table


@dataclass(frozen=True)
class BuildContext:
    date_from: date
    date_to: date  # inclusive

    @property
    def start(self) -> datetime:
        return local_midnight(self.date_from)

    @property
    def end(self) -> datetime:
        return local_midnight(self.date_to + timedelta(days=1))

    def params(self, **extra) -> dict:
        return {"tz": settings.TIME_ZONE, "start": self.start, "end": self.end,
                "d0": self.date_from, "d1": self.date_to, **extra}


@dataclass(frozen=True)
class Fact:
    key: str
    title_ja: str
    title_en: str
    tables: tuple[type, ...]  # the fact models this rebuild rewrites
    requires: tuple[str, ...]  # installed apps the source lives in
    # Returns (sql, params); the statement inserts the range and selects (day, rows) of the first table.
    build_sql: Callable[[BuildContext], tuple[str, dict]]
    # How the nightly run finds the days to rebuild: "events" (days that gained rows since the
    # watermark, plus yesterday) or "window" (the trailing ANALYTICS_REBUILD_WINDOW_DAYS).
    nightly: str = "window"

    def available(self) -> bool:
        return all(apps.is_installed(app) for app in self.requires)


_registry: dict[str, Fact] = {}


def register(fact: Fact) -> Fact:
    if fact.key in _registry and _registry[fact.key] is not fact:
        raise ValueError(f"fact {fact.key!r} is already registered")
    _registry[fact.key] = fact
    return fact


def all_facts() -> list[Fact]:
    return list(_registry.values())


def get_fact(key: str) -> Fact | None:
    return _registry.get(key)


# --- Built-in facts ---------------------------------------------------------------------------
def _usage_sql(ctx: BuildContext) -> tuple[str, dict]:
    events = model_table("miniapps", "UsageEvent")
    # One scan of the events feeds both tables: grouping sets give per-mini-app rows (total = 0)
    # and per-resident-group rows across mini-apps (total = 1), distinct residents counted in each.
    sql = f"""
    WITH agg AS (
        SELECT e.day, e.miniapp_id, e.district_id, e.age_band, GROUPING(e.miniapp_id) AS total,
               count(*) FILTER (WHERE e.kind = %(opened)s) AS opens,
               count(*) FILTER (WHERE e.kind = %(tapped)s) AS taps,
               count(DISTINCT e.user_id) AS users
        FROM (SELECT (occurred_at AT TIME ZONE %(tz)s)::date AS day, miniapp_id, district_id, age_band, kind, user_id
              FROM {events} WHERE occurred_at >= %(start)s AND occurred_at < %(end)s) AS e
        GROUP BY GROUPING SETS ((e.day, e.miniapp_id, e.district_id, e.age_band), (e.day, e.district_id, e.age_band))
    ), usage AS (
        INSERT INTO {UsageFact._meta.db_table} (day, miniapp_id, district_id, age_band, opens, taps, users)
        SELECT day, miniapp_id, district_id, age_band, opens, taps, users FROM agg WHERE total = 0
        RETURNING day
    ), active AS (
        INSERT INTO {ActiveResidentsFact._meta.db_table} (day, district_id, age_band, active_residents)
        SELECT day, district_id, age_band, users FROM agg WHERE total = 1
        RETURNING day
    )
    SELECT day, count(*) FROM usage GROUP BY day
    """
    usage_event = apps.get_model("miniapps", "UsageEvent")
    return sql, ctx.params(opened=usage_event.Kind.OPENED.value, tapped=usage_event.Kind.TAPPED.value)


def _push_sql(ctx: BuildContext) -> tuple[str, dict]:
    notification = model_table("notifications", "Notification")
    delivery = model_table("notifications", "Delivery")
    topic_message = model_table("notifications", "TopicMessage")
    inbox = model_table("notifications", "InboxEntry")
    sql = f"""
    WITH ns AS (
        SELECT id, (dispatched_at AT TIME ZONE %(tz)s)::date AS day, topic, mode, left(title, 100) AS title
        FROM {notification} WHERE dispatched_at >= %(start)s AND dispatched_at < %(end)s
    ), dl AS (
        SELECT notification_id, count(*) AS targeted, count(*) FILTER (WHERE status = %(sent)s) AS sent,
               count(*) FILTER (WHERE status = %(failed)s) AS failed
        FROM {delivery} WHERE notification_id IN (SELECT id FROM ns) GROUP BY notification_id
    ), tm AS (
        SELECT notification_id, sum(device_count) AS targeted,
               coalesce(sum(device_count) FILTER (WHERE status = %(sent)s), 0) AS sent,
               coalesce(sum(device_count) FILTER (WHERE status = %(failed)s), 0) AS failed
        FROM {topic_message} WHERE notification_id IN (SELECT id FROM ns) GROUP BY notification_id
    ), ib AS (
        SELECT notification_id, count(*) FILTER (WHERE read_at IS NOT NULL) AS read,
               count(*) FILTER (WHERE opened_at IS NOT NULL) AS opened
        FROM {inbox} WHERE notification_id IN (SELECT id FROM ns) GROUP BY notification_id
    ), ins AS (
        INSERT INTO {PushFact._meta.db_table} (day, notification_id, topic, mode, title, targeted, sent, failed, read, opened)
        SELECT ns.day, ns.id, ns.topic, ns.mode, ns.title,
               CASE WHEN ns.mode = %(topic_mode)s THEN coalesce(tm.targeted, 0) ELSE coalesce(dl.targeted, 0) END,
               CASE WHEN ns.mode = %(topic_mode)s THEN coalesce(tm.sent, 0) ELSE coalesce(dl.sent, 0) END,
               CASE WHEN ns.mode = %(topic_mode)s THEN coalesce(tm.failed, 0) ELSE coalesce(dl.failed, 0) END,
               coalesce(ib.read, 0), coalesce(ib.opened, 0)
        FROM ns LEFT JOIN dl ON dl.notification_id = ns.id LEFT JOIN tm ON tm.notification_id = ns.id
                LEFT JOIN ib ON ib.notification_id = ns.id
        RETURNING day
    )
    SELECT day, count(*) FROM ins GROUP BY day
    """
    notification_model = apps.get_model("notifications", "Notification")
    delivery_model = apps.get_model("notifications", "Delivery")
    return sql, ctx.params(sent=delivery_model.Status.SENT.value, failed=delivery_model.Status.FAILED.value,
                           topic_mode=notification_model.Mode.TOPIC.value)


def _checkins_sql(ctx: BuildContext) -> tuple[str, dict]:
    check_in = model_table("shelters", "CheckIn")
    opening = model_table("shelters", "ShelterOpening")
    sql = f"""
    WITH ins AS (
        INSERT INTO {CheckInFact._meta.db_table}
            (day, disaster_id, shelter_id, check_ins, households, qr_check_ins, special_care, pets, checked_out)
        SELECT (c.checked_in_at AT TIME ZONE %(tz)s)::date, o.disaster_id, o.shelter_id, count(*),
               count(DISTINCT c.household_id), count(*) FILTER (WHERE c.source = %(qr)s),
               count(*) FILTER (WHERE cardinality(c.special_care) > 0), coalesce(sum(c.pets), 0),
               count(*) FILTER (WHERE c.checked_out_at IS NOT NULL)
        FROM {check_in} c JOIN {opening} o ON o.id = c.opening_id
        WHERE c.checked_in_at >= %(start)s AND c.checked_in_at < %(end)s
        GROUP BY 1, 2, 3
        RETURNING day
    )
    SELECT day, count(*) FROM ins GROUP BY day
    """
    return sql, ctx.params(qr=apps.get_model("shelters", "CheckIn").Source.QR.value)


def _attendance_sql(ctx: BuildContext) -> tuple[str, dict]:
    counts = model_table("miniapps_attendance", "DailyClassCount")
    sql = f"""
    WITH ins AS (
        INSERT INTO {AttendanceFact._meta.db_table}
            (day, school_id, enrolled, absent, late, early_leave, other, infection_absent)
        SELECT date, school_id, sum(enrolled), sum(absent), sum(late), sum(early_leave), sum(other),
               sum(infection_absent)
        FROM {counts} WHERE date >= %(d0)s AND date <= %(d1)s
        GROUP BY 1, 2
        RETURNING day
    )
    SELECT day, count(*) FROM ins GROUP BY day
    """
    return sql, ctx.params()


def _feedback_sql(ctx: BuildContext) -> tuple[str, dict]:
    feedback = model_table("miniapps_feedback", "Feedback")
    sql = f"""
    WITH ins AS (
        INSERT INTO {FeedbackFact._meta.db_table} (day, miniapp_id, category, received, answered)
        SELECT (created_at AT TIME ZONE %(tz)s)::date, miniapp_id, category, count(*),
               count(*) FILTER (WHERE status = %(answered)s)
        FROM {feedback} WHERE created_at >= %(start)s AND created_at < %(end)s
        GROUP BY 1, 2, 3
        RETURNING day
    )
    SELECT day, count(*) FROM ins GROUP BY day
    """
    return sql, ctx.params(answered=apps.get_model("miniapps_feedback", "Feedback").Status.ANSWERED.value)


USAGE = register(Fact(
    "usage", "ミニアプリ利用・アクティブ住民", "Mini-app usage and active residents",
    (UsageFact, ActiveResidentsFact), ("miniapps",), _usage_sql, nightly="events"))
PUSH = register(Fact("push", "プッシュ通知の配信・開封", "Push notifications sent and opened",
                     (PushFact,), ("notifications",), _push_sql))
CHECKINS = register(Fact("checkins", "避難所の受付", "Shelter check-ins", (CheckInFact,), ("shelters",), _checkins_sql))
ATTENDANCE = register(Fact("attendance", "学校の欠席連絡", "School absence reports",
                           (AttendanceFact,), ("miniapps.attendance",), _attendance_sql))
FEEDBACK = register(Fact("feedback", "ご意見投稿", "Feedback", (FeedbackFact,), ("miniapps.feedback",), _feedback_sql))


# --- Ranges of days ---------------------------------------------------------------------------
def contiguous_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """[(first, last), ...] covering exactly `days`, e.g. {1, 2, 3, 7} → [(1, 3), (7, 7)]."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def schema_lock_key(fact_key: str) -> str:
    return f"{connection.schema_name}:analytics.fact:{fact_key}"
