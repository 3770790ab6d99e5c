"""The staff composer API: creating (now or scheduled), roles per topic, stats, cancelling."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from notifications.models import Delivery, Device, InboxEntry, Notification, TopicMessage
from tests.base import assert_num_queries

from .helpers import make_district, make_resident, register

URL = "/api/v1/staff/notifications/"


def _compose(**overrides):
    body = {"title": "大雨警報", "body": "川に近づかないでください。", "topic": "disaster", "audience": {"everyone": True}}
    body.update(overrides)
    return body


def test_disaster_staff_send_a_city_wide_disaster_alert(saga, django_capture_on_commit_callbacks):
    client = saga.client("disaster_staff")
    client.get("/api/v1/me/")
    # search_path, token, roles, [savepoint, audience size, insert, audit, release], 3 stats aggregates
    with django_capture_on_commit_callbacks() as callbacks, assert_num_queries(10):
        response = client.post(URL, _compose(deep_link="/disaster/alerts/1"), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "queued" and body["mode"] == "topic" and body["priority"] == "high"
    assert body["audience"] == {"everyone": True} and body["deep_link"] == "/disaster/alerts/1"
    assert body["created_by"] == "disaster_staff@saga.example"
    assert body["stats"] == {"targeted": 0, "sent": 0, "failed": 0, "pending": 0, "deactivated": 0, "read": 0,
                             "opened": 0, "topic_messages": 0}
    assert len(callbacks) == 1, "the dispatch task is sent on commit"
    with saga.schema():
        notification = Notification.objects.get(pk=body["id"])
        assert notification.broadcast_everyone and notification.created_by == saga.staff["disaster_staff"]
        assert AuditEvent.objects.filter(action="notification.create", target_id=str(notification.pk)).exists()


def test_an_interest_audience_is_sent_per_device(saga):
    district = make_district(saga, "東校区")
    make_resident(saga, district=district, interests=["bousai"])
    response = saga.client("admin").post(URL, _compose(topic="city_news", audience={
        "districts": [district.id], "interests": ["bousai"]}), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["mode"] == "device" and response.json()["priority"] == "normal"


def test_an_empty_audience_is_refused_clearly(saga):
    district = make_district(saga, "無人校区")
    response = saga.client("admin").post(URL, _compose(audience={"districts": [district.id]}), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "empty_audience"
    assert error["message"] == "配信対象に該当する住民がいません。" and "audience" in error["fields"]
    with saga.schema():
        assert not Notification.objects.exists()


@pytest.mark.parametrize("who, topic, status", [
    ("disaster_staff", "disaster", 201), ("disaster_staff", "events", 403),
    ("community_moderator", "events", 201), ("community_moderator", "community", 201),
    ("community_moderator", "disaster", 403), ("community_moderator", "garbage", 403),
    ("admin", "garbage", 201), ("admin", "city_news", 201), ("admin", "disaster", 201),
    ("analyst", "city_news", 403), ("teacher", "events", 403), ("shelter_staff", "disaster", 403),
    ("resident", "disaster", 403), (None, "disaster", 401),
])
def test_who_may_send_what(saga, who, topic, status):
    response = saga.client(who).post(URL, _compose(topic=topic), format="json")
    assert response.status_code == status, response.content
    if status == 403:
        assert response.json()["error"]["code"] == "permission_denied"


def test_scheduled_notifications_wait_for_their_time(saga, django_capture_on_commit_callbacks):
    send_at = timezone.now() + timedelta(hours=3)
    with django_capture_on_commit_callbacks() as callbacks:
        response = saga.client("admin").post(URL, _compose(topic="garbage", title="明日は燃えるごみの日です",
                                                           send_at=send_at.isoformat()), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "scheduled" and len(callbacks) == 0


@pytest.mark.parametrize("overrides, field", [
    ({"send_at": "2001-01-01T00:00:00+09:00"}, "send_at"),
    ({"send_at": "2999-01-01T00:00:00+09:00"}, "send_at"),
    ({"deep_link": "javascript:alert(1)"}, "deep_link"),
    ({"title": ""}, "title"),
    ({"title": "x" * 101}, "title"),
    ({"topic": "weather"}, "topic"),
    ({"priority": "urgent"}, "priority"),
    ({"audience": "everyone"}, "audience.non_field_errors"),
])
def test_bad_notifications_are_400(saga, overrides, field):
    response = saga.client("admin").post(URL, _compose(**overrides), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()


def test_detail_shows_delivery_stats(saga):
    district = make_district(saga, "西校区")
    users = [make_resident(saga, district=district, interests=["sports"]) for _ in range(3)]
    devices = [register(client, f"stats-token-{index:06d}") for index, (_, client) in enumerate(users)]
    created = saga.client("admin").post(URL, _compose(topic="events", audience={"interests": ["sports"]}),
                                        format="json").json()
    with saga.schema():
        notification = Notification.objects.get(pk=created["id"])
        Delivery.objects.bulk_create([
            Delivery(notification=notification, device_id=devices[0]["id"], status="sent", message_name="m/1"),
            Delivery(notification=notification, device_id=devices[1]["id"], status="failed", error_code="UNREGISTERED"),
            Delivery(notification=notification, device_id=devices[2]["id"]),
        ])
        InboxEntry.objects.bulk_create([InboxEntry(notification=notification, user=users[0][0], read_at=timezone.now(),
                                                   opened_at=timezone.now()),
                                        InboxEntry(notification=notification, user=users[1][0], read_at=timezone.now()),
                                        InboxEntry(notification=notification, user=users[2][0])])
    client = saga.client("analyst")
    client.get("/api/v1/me/")
    with assert_num_queries(6):  # search_path, token, roles, notification, inbox aggregate, delivery aggregate
        response = client.get(f"{URL}{created['id']}/")
    assert response.status_code == 200
    assert response.json()["stats"] == {"targeted": 3, "sent": 1, "failed": 1, "pending": 1, "deactivated": 1,
                                        "read": 2, "opened": 1, "topic_messages": 0}


def test_topic_broadcast_stats_count_devices_per_topic_message(saga):
    created = saga.client("admin").post(URL, _compose(), format="json").json()
    with saga.schema():
        notification = Notification.objects.get(pk=created["id"])
        TopicMessage.objects.create(notification=notification, fcm_topic="saga.all.disaster", device_count=230000,
                                    status="sent", message_name="projects/p/messages/1")
    stats = saga.client("admin").get(f"{URL}{created['id']}/").json()["stats"]
    assert stats["targeted"] == 230000 and stats["sent"] == 230000 and stats["topic_messages"] == 1


def test_detail_of_unknown_notification_is_404(saga):
    assert saga.client("admin").get(f"{URL}999999/").status_code == 404


@pytest.mark.parametrize("who, status", [("analyst", 200), ("community_moderator", 200), ("teacher", 403),
                                         ("resident", 403)])
def test_who_may_read_notifications(saga, who, status):
    created = saga.client("admin").post(URL, _compose(), format="json").json()
    assert saga.client(who).get(f"{URL}{created['id']}/").status_code == status
    assert saga.client(who).get(URL).status_code == status


def test_list_is_newest_first_and_paginated(saga):
    client = saga.client("admin")
    ids = [client.post(URL, _compose(title=f"お知らせ{i}"), format="json").json()["id"] for i in range(3)]
    client.get("/api/v1/me/")
    with assert_num_queries(5):  # search_path, token, roles, count, page
        body = client.get(URL).json()
    assert body["count"] == 3 and [n["id"] for n in body["results"]] == ids[::-1]
    second = client.get(f"{URL}?page_size=2&page=2").json()
    assert [n["id"] for n in second["results"]] == ids[:1] and second["next"] is None and second["previous"]
    assert client.get(f"{URL}?page_size=0").status_code == 400


def test_cancel_a_scheduled_notification(saga):
    client = saga.client("admin")
    send_at = (timezone.now() + timedelta(days=1)).isoformat()
    created = client.post(URL, _compose(topic="garbage", send_at=send_at), format="json").json()
    assert saga.client("community_moderator").post(f"{URL}{created['id']}/cancel/").status_code == 403
    response = client.post(f"{URL}{created['id']}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = client.post(f"{URL}{created['id']}/cancel/")
    assert again.status_code == 409


def test_a_staff_notification_from_another_municipality_is_unknown(saga, kanzaki):
    created = kanzaki.client("admin").post(URL, _compose(), format="json").json()
    with saga.schema():
        assert not Notification.objects.filter(pk=created["id"]).exists()
    assert saga.client("admin").get(f"{URL}{created['id']}/").status_code == 404
    with kanzaki.schema():
        assert Device.objects.count() == 0
