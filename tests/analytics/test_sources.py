"""Facts from the other apps' data: pushes (same figures as the notifications app's own stats),
shelter check-ins per disaster, attendance per school, feedback; and the datasets reading them."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import time_machine
from django.utils import timezone

from accounts.services import resident_create
from analytics import services
from analytics.datasets import QueryContext, get_dataset
from analytics.models import AttendanceFact, CheckInFact, FeedbackFact, PushFact
from miniapps.attendance.models import DailyClassCount, School, SchoolClass, SchoolYear
from miniapps.feedback.services import feedback_reply, feedback_submit
from notifications.models import Delivery, Device, InboxEntry, Notification, TopicMessage
from notifications.selectors import notification_stats
from shelters.models import Shelter
from shelters.services import Evacuee, disaster_open, shelter_check_in, shelter_check_out, shelter_open

from .conftest import MONTH_FROM, MONTH_TO, TOKYO


@dataclass
class Sources:
    per_device: Notification
    broadcast: Notification
    disaster_id: int
    big_shelter: Shelter
    small_shelter: Shelter


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=TOKYO)


def _residents(count: int) -> list:
    return [resident_create(nickname=f"住民{i}").token.user for i in range(count)]


def build_every_source(tenant) -> Sources:
    """Pushes, a disaster with check-ins, school attendance counts and feedback, all in May 2026."""
    with tenant.schema():
        people = _residents(30)
        devices = [Device.objects.create(user=user, token=f"tok-{secrets.token_hex(8)}", platform="android",
                                         registered_at=timezone.now()) for user in people]
        # A per-device notice: 30 devices, 25 sent, 5 failed (2 UNREGISTERED); 14 read, 12 opened.
        per_device = Notification.objects.create(
            title="ごみ収集日の変更", body="5月の収集日が変わります", topic="garbage", mode=Notification.Mode.DEVICE,
            status=Notification.Status.SENT, dispatched_at=_at(date(2026, 5, 7)))
        for index, device in enumerate(devices):
            Delivery.objects.create(notification=per_device, device=device,
                                    status=Delivery.Status.SENT if index < 25 else Delivery.Status.FAILED,
                                    error_code="UNREGISTERED" if index >= 28 else "")
        for index, user in enumerate(people[:14]):
            InboxEntry.objects.create(notification=per_device, user=user, read_at=timezone.now(),
                                      opened_at=timezone.now() if index < 12 else None)
        # A broadcast to everyone: two topic messages (200 devices sent, 3 failed); 8 residents opened it.
        broadcast = Notification.objects.create(
            title="大雨に関する情報", body="避難所を開設しました", topic="disaster", mode=Notification.Mode.TOPIC,
            broadcast_everyone=True, status=Notification.Status.SENT, dispatched_at=_at(date(2026, 5, 20), 6))
        TopicMessage.objects.create(notification=broadcast, fcm_topic="saga-all", device_count=200,
                                    status=Delivery.Status.SENT)
        TopicMessage.objects.create(notification=broadcast, fcm_topic="saga-d1", device_count=3,
                                    status=Delivery.Status.FAILED)
        for user in people[:8]:
            InboxEntry.objects.create(notification=broadcast, user=user, read_at=timezone.now(),
                                      opened_at=timezone.now())

        # A flood: 12 people in 4 households at the big shelter, 3 people at the small one, May 20.
        staff = tenant.staff["disaster_staff"]
        big = Shelter.objects.create(name="佐賀市立本庄小学校", address="佐賀市本庄町1", capacity=500)
        small = Shelter.objects.create(name="金立公民館", address="佐賀市金立町2", capacity=50)
        with time_machine.travel(_at(date(2026, 5, 20), 7), tick=False):
            disaster = disaster_open(name="2026年5月豪雨", type="flood", acting_user=staff)
            shelter_open(disaster=disaster, shelter=big, acting_user=staff)
            shelter_open(disaster=disaster, shelter=small, acting_user=staff)
            for household in range(4):
                shelter_check_in(shelter=big, acting_user=staff, evacuees=[
                    Evacuee(name=f"避難 太郎{household}-{n}", kana="ひなん たろう", address="佐賀市本庄町",
                            birth_date=date(1950 + n, 1, 1), special_care=["elderly"] if n == 0 else [], pets=1 if n == 0 else 0)
                    for n in range(3)])
            checked = shelter_check_in(shelter=small, acting_user=staff, evacuees=[
                Evacuee(name=f"金立 花子{n}", kana="きんりゅう はなこ", address="佐賀市金立町") for n in range(3)])
        with time_machine.travel(_at(date(2026, 5, 21), 9), tick=False):
            shelter_check_out(shelter=small, check_in_ids=[c.pk for c in checked.check_ins], acting_user=staff)

        # Two schools: a large one with two classes, a small one with 8 children.
        year, _ = SchoolYear.objects.get_or_create(fiscal_year=2026)
        large = School.objects.create(code="S100", name="本庄小学校", kind=School.Kind.ELEMENTARY)
        tiny = School.objects.create(code="S200", name="分校", kind=School.Kind.ELEMENTARY)
        classes = [SchoolClass.objects.create(school=large, school_year=year, grade=1, name="1組"),
                   SchoolClass.objects.create(school=large, school_year=year, grade=1, name="2組"),
                   SchoolClass.objects.create(school=tiny, school_year=year, grade=1, name="1組")]
        for offset in range(5):
            day = date(2026, 5, 11) + timedelta(days=offset)
            for school_class, enrolled, absent in ((classes[0], 300, 8), (classes[1], 300, 6), (classes[2], 8, 1)):
                DailyClassCount.objects.create(date=day, school=school_class.school, school_class=school_class,
                                               grade=1, enrolled=enrolled, absent=absent + offset, late=2,
                                               infection_absent=absent // 2)

        # Feedback: 12 opinions about the garbage calendar (5 answered), 2 bug reports.
        with time_machine.travel(_at(date(2026, 5, 15)), tick=False):
            for index, user in enumerate(people[:12]):
                item = feedback_submit(user=user, category="opinion", text="収集日をもっと早く知りたい",
                                       miniapp_id="garbage")
                if index < 5:
                    feedback_reply(feedback=item, text="ありがとうございます", acting_user=tenant.admin)
            for user in people[12:14]:
                feedback_submit(user=user, category="bug", text="アプリが落ちます")
    return Sources(per_device, broadcast, disaster.pk, big, small)


def _rebuild(tenant) -> None:
    with tenant.schema():
        services.facts_rebuild(date_from=MONTH_FROM, date_to=MONTH_TO)


def test_push_facts_have_the_notifications_apps_own_figures(saga):
    sources = build_every_source(saga)
    _rebuild(saga)
    with saga.schema():
        for notification in (sources.per_device, sources.broadcast):
            stats = notification_stats(notification=notification)
            fact = PushFact.objects.get(notification_id=notification.pk)
            assert {key: getattr(fact, key) for key in ("targeted", "sent", "failed", "read", "opened")} == \
                {key: stats[key] for key in ("targeted", "sent", "failed", "read", "opened")}
        assert PushFact.objects.get(notification_id=sources.per_device.pk).day == date(2026, 5, 7)
        assert (fact.targeted, fact.sent, fact.failed, fact.opened) == (203, 200, 3, 8)


def test_push_stats_suppress_small_counts_per_notification(saga, tmp_path):
    sources = build_every_source(saga)
    _rebuild(saga)
    rows = _rows(saga, "push_stats")
    by_id = {row["notification_id"]: row for row in rows}
    per_device, broadcast = by_id[sources.per_device.pk], by_id[sources.broadcast.pk]
    assert (per_device["sent"], per_device["failed"], per_device["read"], per_device["opened"]) == (25, None, 14, 12)
    assert per_device["open_rate"] == 0.48 and per_device["suppressed"] is True
    assert (broadcast["sent"], broadcast["failed"], broadcast["opened"], broadcast["open_rate"]) == (200, None, None, None)


def test_check_ins_are_counted_per_disaster_shelter_and_day(saga):
    sources = build_every_source(saga)
    _rebuild(saga)
    with saga.schema():
        facts = {fact.shelter_id: fact for fact in CheckInFact.objects.filter(disaster_id=sources.disaster_id)}
    big, small = facts[sources.big_shelter.pk], facts[sources.small_shelter.pk]
    assert (big.day, big.check_ins, big.households, big.special_care, big.pets, big.checked_out) == \
        (date(2026, 5, 20), 12, 4, 4, 4, 0)
    assert (small.check_ins, small.households, small.checked_out) == (3, 1, 3)
    rows = {row["shelter_name"]: row for row in _rows(saga, "shelter_checkins")}
    assert rows["佐賀市立本庄小学校"]["check_ins"] == 12 and rows["佐賀市立本庄小学校"]["households"] is None
    assert rows["金立公民館"]["check_ins"] is None and rows["金立公民館"]["disaster_name"] == "2026年5月豪雨"
    only = _rows(saga, "shelter_checkins", parameters={"disaster_id": sources.disaster_id + 1})
    assert only == []


def test_attendance_is_summed_per_school_and_day(saga):
    build_every_source(saga)
    _rebuild(saga)
    with saga.schema():
        fact = AttendanceFact.objects.get(day=date(2026, 5, 13), school_id=School.objects.get(code="S100").pk)
    assert (fact.enrolled, fact.absent, fact.late, fact.infection_absent) == (600, 18, 4, 7)
    rows = [row for row in _rows(saga, "attendance_daily") if row["day"] == date(2026, 5, 13)]
    by_school = {row["school_code"]: row for row in rows}
    assert by_school["S100"]["absent"] == 18 and by_school["S100"]["late"] is None
    assert by_school["S200"]["enrolled"] is None and by_school["S200"]["school_name"] == "分校"


def test_feedback_is_counted_per_month_without_its_text(saga):
    build_every_source(saga)
    _rebuild(saga)
    with saga.schema():
        assert FeedbackFact.objects.get(miniapp_id="garbage", category="opinion").received == 12
    rows = _rows(saga, "feedback_monthly")
    assert [(r["month"], r["miniapp_id"], r["miniapp_name"], r["category"], r["received"], r["answered"]) for r in rows] == [
        (date(2026, 5, 1), None, None, "bug", None, None),
        (date(2026, 5, 1), "garbage", "ごみカレンダー", "opinion", 12, None),  # 5 answers: a small count
    ]
    assert "text" not in get_dataset("feedback_monthly").column_names


def _rows(tenant, key: str, parameters=None) -> list[dict]:
    """A dataset's rows as the database hands them to the writers (threshold 10)."""
    from django.db import connection

    dataset = get_dataset(key)
    with tenant.schema():
        sql, params = dataset.query(QueryContext(MONTH_FROM, MONTH_TO, 10, parameters or {}))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
