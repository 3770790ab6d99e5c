"""The inbox (お知らせ一覧): broadcasts stored once and resolved per resident at read time,
per-device notifications through inbox rows; read and opened state; nobody reads another's item."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import User
from notifications import pipeline
from notifications.models import InboxEntry, Notification
from notifications.services import notification_create
from tests.base import assert_num_queries

from .helpers import make_district, make_resident, register


def _send(tenant, *, topic="city_news", audience, title="お知らせ", sender=None) -> Notification:
    """Created through the service and dispatched by the pipeline (no FCM call is needed for the inbox)."""
    with tenant.schema():
        notification = notification_create(acting_user=sender or tenant.admin, title=title, body="本文", topic=topic,
                                           audience=audience)
        pipeline.dispatch(notification.pk)
        notification.refresh_from_db()
        return notification


def _ids(client) -> list[int]:
    return [item["id"] for item in client.get("/api/v1/inbox/").json()["results"]]


def test_a_district_broadcast_is_in_exactly_that_districts_inboxes(saga):
    north, south = make_district(saga, "北校区"), make_district(saga, "南校区")
    _, north_client = make_resident(saga, district=north)
    _, south_client = make_resident(saga, district=south)
    sent = _send(saga, audience={"districts": [north.id]}, title="北校区の清掃活動")
    assert sent.mode == "topic"
    assert _ids(north_client) == [sent.pk]
    assert _ids(south_client) == []
    with saga.schema():
        assert InboxEntry.objects.filter(notification=sent).count() == 0, "a broadcast writes no inbox rows"


def test_an_everyone_broadcast_reaches_every_resident_including_new_ones(saga):
    sent = _send(saga, topic="disaster", audience={"everyone": True}, title="避難指示")
    _, newcomer = make_resident(saga)
    item = newcomer.get("/api/v1/inbox/").json()["results"][0]
    assert item["id"] == sent.pk and item["title"] == "避難指示" and item["topic"] == "disaster"
    assert item["priority"] == "high" and item["read_at"] is None and item["sent_at"]


def test_broadcasts_long_before_a_resident_joined_are_not_shown(saga, settings):
    sent = _send(saga, audience={"everyone": True})
    with saga.schema():
        Notification.objects.filter(pk=sent.pk).update(dispatched_at=timezone.now() - timedelta(days=60))
    _, newcomer = make_resident(saga)
    assert _ids(newcomer) == []
    with saga.schema():  # within NOTIFICATIONS_INBOX_BACKFILL_DAYS (30) of joining: shown
        Notification.objects.filter(pk=sent.pk).update(dispatched_at=timezone.now() - timedelta(days=10))
    assert _ids(newcomer) == [sent.pk]


def test_a_muted_topics_broadcasts_stay_out_of_the_inbox_but_disaster_never_does(saga):
    _, client = make_resident(saga)
    client.put("/api/v1/me/notification-settings/", {"muted_topics": ["events"]}, format="json")
    events = _send(saga, topic="events", audience={"everyone": True})
    disaster = _send(saga, topic="disaster", audience={"everyone": True})
    ids = _ids(client)
    assert disaster.pk in ids and events.pk not in ids


def test_a_per_device_notification_is_in_exactly_the_matching_inboxes(saga):
    district = make_district(saga, "東校区")
    fan, fan_client = make_resident(saga, district=district, interests=["sports"])
    _, other_client = make_resident(saga, district=district, interests=["music"])
    _, deviceless_client = make_resident(saga, district=district, interests=["sports"])  # no device: inbox only
    register(fan_client, "inbox-token-000001")
    register(other_client, "inbox-token-000002")
    sent = _send(saga, topic="events", audience={"districts": [district.id], "interests": ["sports"]})
    assert sent.mode == "device"
    assert _ids(fan_client) == [sent.pk]
    assert _ids(deviceless_client) == [sent.pk]
    assert _ids(other_client) == []
    with saga.schema():
        assert InboxEntry.objects.filter(notification=sent).count() == 2


def test_unread_count_read_and_opened(saga):
    _, client = make_resident(saga)
    first = _send(saga, audience={"everyone": True}, title="一件目")
    second = _send(saga, audience={"everyone": True}, title="二件目")
    client.get("/api/v1/me/")
    with assert_num_queries(5):  # search_path, token, muted topics, counts, page
        page = client.get("/api/v1/inbox/").json()
    assert page["count"] == 2 and page["unread_count"] == 2
    assert [item["id"] for item in page["results"]] == [second.pk, first.pk]

    with assert_num_queries(5):  # search_path, token, muted topics, visibility check, upsert
        read = client.post(f"/api/v1/inbox/{first.pk}/read/")
    assert read.status_code == 200, read.content
    assert read.json()["read_at"] and read.json()["opened_at"] is None
    first_read_at = read.json()["read_at"]
    assert client.get("/api/v1/inbox/").json()["unread_count"] == 1

    opened = client.post(f"/api/v1/inbox/{first.pk}/opened/").json()
    assert opened["opened_at"] and opened["read_at"] == first_read_at, "the first read time is kept"
    tapped = client.post(f"/api/v1/inbox/{second.pk}/opened/").json()
    assert tapped["opened_at"] and tapped["read_at"], "opening the push counts as reading it"
    assert client.get("/api/v1/inbox/").json()["unread_count"] == 0
    stats = saga.client("admin").get(f"/api/v1/staff/notifications/{first.pk}/").json()["stats"]
    assert stats["read"] == 1 and stats["opened"] == 1


def test_pagination(saga):
    _, client = make_resident(saga)
    sent = [_send(saga, audience={"everyone": True}, title=f"お知らせ{i}").pk for i in range(5)]
    page1 = client.get("/api/v1/inbox/?page_size=2").json()
    assert [i["id"] for i in page1["results"]] == sent[::-1][:2] and page1["previous"] is None
    page2 = client.get(page1["next"]).json()
    assert [i["id"] for i in page2["results"]] == sent[::-1][2:4]
    page3 = client.get(page2["next"]).json()
    assert [i["id"] for i in page3["results"]] == sent[:1] and page3["next"] is None
    assert client.get("/api/v1/inbox/?page=99").json()["results"] == []
    assert client.get("/api/v1/inbox/?page=0").status_code == 400


def test_scheduled_and_cancelled_notifications_are_not_in_the_inbox(saga):
    _, client = make_resident(saga)
    with saga.schema():
        notification_create(acting_user=saga.admin, title="予約", body="本文", topic="garbage",
                            audience={"everyone": True}, send_at=timezone.now() + timedelta(hours=1))
    assert _ids(client) == []


def test_a_resident_cannot_read_or_open_another_residents_item(saga):
    district = make_district(saga, "西校区")
    _, owner_client = make_resident(saga, district=district, interests=["kosodate"])
    register(owner_client, "inbox-token-private1")
    private = _send(saga, topic="community", audience={"districts": [district.id], "interests": ["kosodate"]})
    elsewhere = make_district(saga, "遠い校区")
    make_resident(saga, district=elsewhere)
    district_only = _send(saga, audience={"districts": [elsewhere.id]})
    _, stranger = make_resident(saga)
    for notification in (private, district_only):
        for action in ("read", "opened"):
            response = stranger.post(f"/api/v1/inbox/{notification.pk}/{action}/")
            assert response.status_code == 404, response.content
            assert response.json()["error"]["code"] == "not_found"
    assert stranger.post("/api/v1/inbox/99999999/read/").json() == stranger.post(
        f"/api/v1/inbox/{private.pk}/read/").json()
    with saga.schema():
        strangers = User.objects.filter(nickname__startswith="通知テスト").exclude(inbox_entries__isnull=False)
        assert not InboxEntry.objects.filter(notification=district_only).exists()
        assert strangers.exists()


def test_staff_see_only_what_was_sent_to_them_by_name(saga):
    """Staff have an inbox for system sends addressed to them (notification_send_system with
    include_staff); city broadcasts and residents' items never appear in it."""
    from notifications.services import notification_send_system

    broadcast = _send(saga, topic="disaster", audience={"everyone": True}, title="避難指示")
    resident, resident_client = make_resident(saga)
    with saga.schema():
        (alert,) = notification_send_system(app="tests", user_ids=[saga.staff["teacher"].pk, resident.pk],
                                            title="学級閉鎖の検討", body="本文", topic="school", include_staff=True)
        pipeline.dispatch(alert.pk)
    teacher = saga.client("teacher")
    assert _ids(teacher) == [alert.pk]
    assert _ids(resident_client) == [alert.pk, broadcast.pk]
    assert _ids(saga.client("admin")) == []
    assert teacher.post(f"/api/v1/inbox/{broadcast.pk}/read/").status_code == 404
    assert teacher.post(f"/api/v1/inbox/{alert.pk}/opened/").json()["opened_at"]
    assert saga.client().get("/api/v1/inbox/").status_code == 401
