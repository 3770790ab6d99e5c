"""System sends (`notification_send_system`): notifications a mini-app sends on its own to explicit
users — per-device pushes through the real pipeline (Celery run eagerly, firebase-admin against the
fake FCM server) plus inbox items, muted topics respected, staff only when asked, idempotent on a key."""
from __future__ import annotations

from collections import Counter

import pytest

from accounts.models import AuditEvent
from notifications import audience as audiences
from notifications.models import Notification, SystemSendKey
from notifications.services import notification_send_system
from superapp.celery import app as celery_app
from tests.base import assert_num_queries

from .helpers import make_resident, register


@pytest.fixture
def eager():
    """Celery tasks run in-process as their on-commit callbacks fire (errors propagate)."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = True, True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


def _send(tenant, **kwargs) -> list[Notification]:
    with tenant.schema():
        return notification_send_system(**{"app": "tests", "title": "お知らせ", "body": "本文", "topic": "school",
                                           **kwargs})


def _delivered(fake_fcm, notifications) -> Counter:
    ids = {str(n.pk) for n in notifications}
    return Counter(line["token"] for line in fake_fcm.log() if line["data"].get("notification_id") in ids)


def _inbox(client) -> list[str]:
    return [item["title"] for item in client.get("/api/v1/inbox/").json()["results"]]


def test_exactly_the_listed_residents_devices_and_inboxes(saga, fake_fcm, eager, django_capture_on_commit_callbacks):
    listed, listed_client = make_resident(saga)
    muted, muted_client = make_resident(saga)
    deviceless, deviceless_client = make_resident(saga)
    _, unlisted_client = make_resident(saga)
    register(listed_client, "system-send-listed-1")
    register(listed_client, "system-send-listed-2", platform="ios")
    register(muted_client, "system-send-muted-1")
    register(unlisted_client, "system-send-unlisted-1")
    register(saga.client("teacher"), "system-send-staff-1")
    assert muted_client.put("/api/v1/me/notification-settings/", {"muted_topics": ["school"]},
                            format="json").status_code == 200

    with saga.schema(), django_capture_on_commit_callbacks(execute=True) as callbacks:
        created = notification_send_system(
            app="tests", user_ids=[listed.pk, muted.pk, deviceless.pk, saga.staff["teacher"].pk, listed.pk],
            title="児童1号さんの連絡を学校が確認しました", body="本文", topic="school",
            deep_link="superapp://attendance/reports/12", data={"report": 12})
    assert len(callbacks) >= 1, "the dispatch task is sent on commit"
    (notification,) = created
    assert notification.recipients == 2  # listed and deviceless: muted and staff are left out
    assert _delivered(fake_fcm, created) == Counter({"system-send-listed-1": 1, "system-send-listed-2": 1})
    (line, *_) = [line for line in fake_fcm.log() if line["token"] == "system-send-listed-1"]
    assert line["data"] == {"notification_id": str(notification.pk), "topic": "school", "report": "12",
                            "deep_link": "superapp://attendance/reports/12"}
    assert _inbox(listed_client) == ["児童1号さんの連絡を学校が確認しました"]
    assert _inbox(deviceless_client) == ["児童1号さんの連絡を学校が確認しました"]
    assert _inbox(muted_client) == [] and _inbox(unlisted_client) == [] and _inbox(saga.client("teacher")) == []
    with saga.schema():
        stored = Notification.objects.get(pk=notification.pk)
        assert stored.status == "sent" and stored.created_by is None and stored.mode == "device"
        assert stored.audience == {"user_ids": sorted([listed.pk, muted.pk, deviceless.pk, saga.staff["teacher"].pk])}
        audit = AuditEvent.objects.get(action="notification.create", target_id=str(notification.pk))
        assert audit.actor is None and audit.data["by"] == "tests" and audit.data["recipients"] == 2


def test_staff_are_reached_only_when_included(saga, fake_fcm, eager, django_capture_on_commit_callbacks):
    guardian, guardian_client = make_resident(saga)
    register(guardian_client, "system-send-guardian-1")
    register(saga.client("teacher"), "system-send-principal-1")
    register(saga.client("admin"), "system-send-admin-1")
    with saga.schema(), django_capture_on_commit_callbacks(execute=True):
        created = notification_send_system(app="tests", user_ids=[saga.staff["teacher"].pk], title="学級閉鎖の検討",
                                           body="本文", topic="school", priority="high", include_staff=True)
    assert [n.recipients for n in created] == [1] and created[0].audience["include_staff"] is True
    assert _delivered(fake_fcm, created) == Counter({"system-send-principal-1": 1})
    assert _inbox(saga.client("teacher")) == ["学級閉鎖の検討"]
    assert _inbox(guardian_client) == [] and _inbox(saga.client("admin")) == []
    # Without include_staff the same list reaches nobody, and nothing is created.
    assert _send(saga, user_ids=[saga.staff["teacher"].pk]) == []


def test_the_same_key_twice_sends_nothing_new(saga, fake_fcm, eager, django_capture_on_commit_callbacks):
    resident, client = make_resident(saga)
    register(client, "system-send-key-1")
    for attempt in range(2):
        with saga.schema(), django_capture_on_commit_callbacks(execute=True) as callbacks:
            created = notification_send_system(app="tests", user_ids=[resident.pk], title="一度だけ", body="本文",
                                               topic="school", key="tests-once-1")
        if attempt == 0:
            (first,) = created
        else:
            assert created == [] and callbacks == []
    with saga.schema():
        assert Notification.objects.filter(title="一度だけ").count() == 1
        assert SystemSendKey.objects.get(key="tests-once-1").notification_ids == [first.pk]
    assert _delivered(fake_fcm, [first]) == Counter({"system-send-key-1": 1})
    assert _inbox(client) == ["一度だけ"]
    # A key is used once even when its first send reached nobody.
    muted, muted_client = make_resident(saga)
    muted_client.put("/api/v1/me/notification-settings/", {"muted_topics": ["school"]}, format="json")
    assert _send(saga, user_ids=[muted.pk], key="tests-once-2") == []
    muted_client.put("/api/v1/me/notification-settings/", {"muted_topics": []}, format="json")
    assert _send(saga, user_ids=[muted.pk], key="tests-once-2") == []


def test_long_lists_are_chunked_and_a_chunk_nobody_wants_is_skipped(saga, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(audiences, "MAX_USER_IDS", 2)
    people = [make_resident(saga) for _ in range(5)]
    for _, client in people[2:4]:  # the second chunk: both muted
        client.put("/api/v1/me/notification-settings/", {"muted_topics": ["community"]}, format="json")
    ids = [user.pk for user, _ in people]
    with django_capture_on_commit_callbacks() as callbacks:
        created = _send(saga, user_ids=reversed(ids), topic="community")
    assert [n.audience["user_ids"] for n in created] == [ids[0:2], ids[4:5]]
    assert [n.recipients for n in created] == [2, 1]
    assert len(callbacks) == 2, "one dispatch task per notification, on commit"


def test_disaster_reaches_residents_whatever_they_muted(saga):
    resident, client = make_resident(saga)
    client.put("/api/v1/me/notification-settings/", {"muted_topics": ["garbage", "community", "events", "city_news",
                                                                      "school"]}, format="json")
    (notification,) = _send(saga, user_ids=[resident.pk], topic="disaster", priority="high")
    assert notification.recipients == 1


def test_query_count(saga, django_capture_on_commit_callbacks):
    resident, _ = make_resident(saga)
    with saga.schema():
        Notification.objects.exists()  # the schema switch's search_path
        # savepoint, claim the key, audience size, insert, audit, record the key's notifications, release
        with django_capture_on_commit_callbacks(), assert_num_queries(7):
            created = notification_send_system(app="tests", user_ids=[resident.pk], title="t", body="b",
                                               topic="school", key="tests-queries")
        assert len(created) == 1
        with assert_num_queries(3):  # savepoint, the key is taken, release
            assert notification_send_system(app="tests", user_ids=[resident.pk], title="t", body="b",
                                            topic="school", key="tests-queries") == []


@pytest.mark.parametrize("kwargs", [{"app": "Tests!"}, {"topic": "weather"}, {"priority": "urgent"},
                                    {"deep_link": "javascript alert"}, {"data": {"notification_id": "1"}},
                                    {"key": ""}])
def test_programming_errors_are_refused(saga, kwargs):
    resident, _ = make_resident(saga)
    with pytest.raises(ValueError):
        _send(saga, user_ids=[resident.pk], **kwargs)


def test_the_staff_api_cannot_address_staff_or_send_school(saga):
    resident, _ = make_resident(saga)
    client = saga.client("admin")
    audience = {"user_ids": [resident.pk, saga.staff["teacher"].pk], "include_staff": True}
    for url, body in [("/api/v1/staff/notifications/audience-size/", {"audience": audience}),
                      ("/api/v1/staff/notifications/", {"title": "t", "body": "b", "topic": "city_news",
                                                          "audience": audience})]:
        response = client.post(url, body, format="json")
        assert response.status_code == 400, response.content
        assert "audience.include_staff" in response.json()["error"]["fields"]
    school = client.post("/api/v1/staff/notifications/", {"title": "t", "body": "b", "topic": "school",
                                                          "audience": {"user_ids": [resident.pk]}}, format="json")
    assert school.status_code == 400 and "topic" in school.json()["error"]["fields"]
    # Without include_staff, a staff id in the list is simply not a resident: it is not reached.
    size = client.post("/api/v1/staff/notifications/audience-size/",
                       {"audience": {"user_ids": [resident.pk, saga.staff["teacher"].pk]}}, format="json")
    assert size.json()["residents"] == 1
    with saga.schema():
        assert not Notification.objects.filter(title="t").exists()
