"""Garbage-day reminders: due window in Asia/Tokyo, grouping by (area, timing, time, categories),
no reminder on empty days, never twice, late ticks, and delivery through the notifications pipeline
(firebase-admin → fake FCM server → the resident's inbox)."""
from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from accounts.services import resident_create
from miniapps.garbage import services
from miniapps.garbage.models import Area, Category, Reminder, ReminderDispatch
from miniapps.garbage.reminders import reminder_tick
from notifications import pipeline
from notifications.models import Notification
from tests.base import TenantApiClient

TOKYO = ZoneInfo("Asia/Tokyo")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TOKYO)


class Recorder:
    def __init__(self):
        self.batches = []

    def __call__(self, batch):
        self.batches.append(batch)
        return list(range(len(batch)))

    def sent(self):
        return sorted((tuple(user_ids), body) for batch in self.batches for user_ids, _title, body in batch)


@pytest.fixture
def residents(garbage_calendars, saga):
    """Reminders in Saga: 今宿町 collects 燃えないごみ on 2nd/4th Fridays, 鬼丸町 燃えるごみ on Tue/Fri."""
    with saga.schema():
        imajuku, onimaru = Area.objects.get(name="今宿町"), Area.objects.get(name="鬼丸町")
        burnable = Category.objects.get(name="燃えるごみ").id
        people = {}
        for name, area, categories, timing, when, enabled in [
            ("a1", imajuku, [], "evening_before", time(20, 0), True),
            ("a2", imajuku, [], "evening_before", time(20, 0), True),
            ("burnable_only", imajuku, [burnable], "evening_before", time(20, 0), True),
            ("onimaru", onimaru, [], "evening_before", time(20, 0), True),
            ("late", imajuku, [], "evening_before", time(21, 0), True),
            ("morning", imajuku, [], "morning_of", time(6, 30), True),
            ("off", imajuku, [], "evening_before", time(20, 0), False),
        ]:
            user = resident_create(nickname=f"リマインダー{name}").token.user
            services.reminder_set(user=user, area=area, category_ids=categories, timing=timing, time=when, enabled=enabled)
            people[name] = user.id
    return people


def test_one_message_per_group_and_none_on_empty_days(residents, saga):
    record = Recorder()
    with saga.schema():
        report = reminder_tick(now=at("2021-01-07T20:02"), send=record)  # Thu evening → Fri 1/8
    assert record.sent() == sorted([
        ((residents["a1"], residents["a2"]), "明日1/8（金）は燃えないごみの日です。"),
        ((residents["onimaru"],), "明日1/8（金）は燃えるごみの日です。"),
    ])
    assert report.groups == 3 and report.empty_groups == 1  # burnable-only: no burnables in 今宿町 on Fridays
    assert report.sent_groups == 2 and report.recipients == 3


def test_never_twice_even_when_the_tick_repeats_or_runs_late(residents, saga):
    record = Recorder()
    with saga.schema():
        reminder_tick(now=at("2021-01-07T20:02"), send=record)
        again = reminder_tick(now=at("2021-01-07T20:07"), send=record)
        assert again.sent_groups == 0 and again.already_sent == 2
        late = reminder_tick(now=at("2021-01-07T21:25"), send=record)  # window 19:55-21:25
        assert late.sent_groups == 1 and late.already_sent == 2
        assert ReminderDispatch.objects.filter(collection_date="2021-01-08").count() == 3
    assert [u for u, _ in record.sent()].count((residents["late"],)) == 1


def test_morning_reminders_across_midnight_and_the_grace_limit(residents, saga):
    record = Recorder()
    with saga.schema():
        report = reminder_tick(now=at("2021-01-08T00:20"), send=record)  # window crosses midnight: nothing due
        assert report.reminders == 0
        reminder_tick(now=at("2021-01-08T06:31"), send=record)
        assert record.sent() == [((residents["morning"],), "今日1/8（金）は燃えないごみの日です。")]
        # A tick two hours late does not send a stale morning reminder.
        stale = Recorder()
        reminder_tick(now=at("2021-01-22T08:05"), send=stale)
        assert stale.sent() == []


def test_staff_change_notes_reach_the_reminder(residents, saga, monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: at("2021-01-01T12:00"))
    record = Recorder()
    with saga.schema():
        services.collection_change_create(acting_user=saga.admin, date=datetime(2021, 1, 8).date(), action="move",
                                          new_date=datetime(2021, 1, 9).date(), area=Area.objects.get(name="今宿町"),
                                          note="ごみ処理施設点検のため1日遅れます")
        reminder_tick(now=at("2021-01-08T20:00"), send=record)
    assert ((residents["a1"], residents["a2"]),
            "明日1/9（土）は燃えないごみの日です。 ごみ処理施設点検のため1日遅れます") in record.sent()


def test_the_beat_runs_the_tick_in_every_municipality():
    entry = settings.CELERY_BEAT_SCHEDULE["garbage-reminders"]
    assert entry["task"] == "tenants.tasks.fan_out"
    assert entry["args"] == ("miniapps.garbage.tasks.send_due_reminders",)


def test_a_reminder_reaches_the_phone_and_the_inbox(garbage_calendars, saga, fake_fcm):
    """The real path: the API sets the reminder, the tick creates one notification for the group,
    the pipeline sends it with firebase-admin to the (fake) FCM server, and it lands in the inbox."""
    with saga.schema():
        issued = resident_create(nickname="リマインダー通し")
    client = TenantApiClient(saga.host, issued.raw)
    assert client.post("/api/v1/devices/", {"token": "garbage-reminder-token-1", "platform": "ios"},
                       format="json").status_code in (200, 201)
    with saga.schema():
        area = Area.objects.get(name="鬼丸町")
    assert client.put("/api/v1/garbage/reminder/", {"area": area.id, "time": "19:30"}, format="json").status_code == 200
    with saga.schema():
        report = reminder_tick(now=at("2021-01-11T19:31"))  # Monday evening → Tuesday burnables
        assert report.sent_groups == 1
        notification = Notification.objects.get(pk=report.notifications[0])
        assert notification.topic == "garbage" and notification.audience == {"user_ids": [issued.token.user_id]}
        assert pipeline.dispatch(notification.pk) == "fan_out"
        outcome = pipeline.send_chunk(notification.pk, 0, 10**12)
        assert outcome.sent == 1
    messages = [line for line in fake_fcm.log() if line["data"].get("notification_id") == str(notification.pk)]
    assert [m["token"] for m in messages] == ["garbage-reminder-token-1"]
    inbox = client.get("/api/v1/inbox/").json()["results"]
    assert [item["body"] for item in inbox][:1] == ["明日1/12（火）は燃えるごみの日です。"]
