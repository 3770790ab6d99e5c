"""Per-topic notification settings: everything on by default, disaster can never be muted."""
from __future__ import annotations

from notifications.models import Device, NotificationPreference
from tests.base import assert_num_queries

from .helpers import register


def test_every_topic_is_on_by_default(saga):
    client = saga.client("resident")
    client.get("/api/v1/me/")
    with assert_num_queries(3):  # search_path, token, preference
        response = client.get("/api/v1/me/notification-settings/")
    assert response.status_code == 200
    body = response.json()
    assert body["muted_topics"] == []
    assert [t["topic"] for t in body["topics"]] == ["disaster", "garbage", "community", "events", "city_news", "school"]
    assert all(t["enabled"] for t in body["topics"])
    disaster = body["topics"][0]
    assert disaster["can_mute"] is False and disaster["label"] == "防災・災害情報" and disaster["label_en"] == "Disaster"
    school = body["topics"][-1]
    assert school == {"topic": "school", "label": "学校からの連絡", "label_en": "School", "enabled": True,
                      "can_mute": True}


def test_muting_topics_marks_the_residents_devices_for_topic_sync(saga):
    client = saga.client("resident")
    device = register(client, "pref-token-000000001")
    with saga.schema():
        Device.objects.filter(pk=device["id"]).update(topics_dirty=False)
    client.get("/api/v1/me/")
    # search_path, token, [savepoint, preference get_or_create (select, savepoint, insert, release),
    # devices update, release]
    with assert_num_queries(9):
        response = client.put("/api/v1/me/notification-settings/", {"muted_topics": ["garbage", "events", "school"]},
                              format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["muted_topics"] == ["events", "garbage", "school"]
    assert {t["topic"]: t["enabled"] for t in body["topics"]} == {
        "disaster": True, "garbage": False, "community": True, "events": False, "city_news": True, "school": False}
    with saga.schema():
        assert NotificationPreference.objects.get(user=saga.resident).muted_topics == ["events", "garbage", "school"]
        assert Device.objects.get(pk=device["id"]).topics_dirty
    assert client.get("/api/v1/me/notification-settings/").json() == body


def test_the_same_settings_again_change_nothing(saga):
    client = saga.client("resident")
    client.put("/api/v1/me/notification-settings/", {"muted_topics": ["garbage"]}, format="json")
    device = register(client, "pref-token-000000002")
    with saga.schema():
        Device.objects.filter(pk=device["id"]).update(topics_dirty=False)
    assert client.put("/api/v1/me/notification-settings/", {"muted_topics": ["garbage"]}, format="json").status_code == 200
    with saga.schema():
        assert not Device.objects.get(pk=device["id"]).topics_dirty


def test_disaster_cannot_be_muted(saga):
    response = saga.client("resident").put("/api/v1/me/notification-settings/", {"muted_topics": ["disaster"]},
                                           format="json")
    assert response.status_code == 400
    assert any(key.startswith("muted_topics") for key in response.json()["error"]["fields"])
    with saga.schema():
        assert not NotificationPreference.objects.filter(user=saga.resident).exists()


def test_unknown_topics_and_bad_shapes_are_refused(saga):
    client = saga.client("resident")
    for body in ({"muted_topics": ["weather"]}, {"muted_topics": "garbage"}, {}, {"muted_topics": [1]}):
        response = client.put("/api/v1/me/notification-settings/", body, format="json")
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "validation_error"


def test_staff_have_no_notification_settings(saga):
    assert saga.client("admin").get("/api/v1/me/notification-settings/").status_code == 403
    assert saga.client().get("/api/v1/me/notification-settings/").status_code == 401
