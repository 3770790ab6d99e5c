"""Device registration and removal through the API: moves never duplicate, bad tokens are 400."""
from __future__ import annotations

import pytest

from notifications.models import Device
from tests.base import assert_num_queries

from .helpers import make_resident, register

TOKEN = "fcm-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:APA91bH_x-y.z"


def test_register_creates_a_device_for_the_signed_in_resident(saga):
    client = saga.client("resident")
    client.get("/api/v1/me/")  # warm the host cache and the token's last-use stamp
    # search_path, token, [savepoint, device by token, [savepoint, insert, release], release]
    with assert_num_queries(8):
        response = client.post("/api/v1/devices/", {"token": TOKEN, "platform": "ios", "app_version": "1.4.0",
                                                    "locale": "ja-JP"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["platform"] == "ios" and body["app_version"] == "1.4.0" and body["locale"] == "ja-JP"
    assert "token" not in body
    with saga.schema():
        device = Device.objects.get(pk=body["id"])
        assert device.user_id == saga.resident.pk and device.token == TOKEN
        assert device.is_active and device.topics_dirty and device.subscribed_topics == []


def test_registering_the_same_token_again_updates_it_in_place(saga):
    client = saga.client("resident")
    first = register(client, TOKEN)
    with assert_num_queries(6):  # search_path, token, [savepoint, device for update, update, release]
        again = client.post("/api/v1/devices/", {"token": TOKEN, "platform": "android", "app_version": "1.5.0"},
                            format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first["id"] and again.json()["app_version"] == "1.5.0"
    with saga.schema():
        assert Device.objects.filter(token=TOKEN).count() == 1


def test_a_token_registered_by_another_resident_moves_to_them(saga):
    other, other_client = make_resident(saga)
    first = register(saga.client("resident"), TOKEN)
    with saga.schema():
        Device.objects.filter(pk=first["id"]).update(topics_dirty=False, subscribed_topics=["saga.all.disaster"])
    moved = register(other_client, TOKEN)
    assert moved["id"] == first["id"]
    with saga.schema():
        device = Device.objects.get(token=TOKEN)
        assert device.user_id == other.pk
        assert device.topics_dirty, "a moved token must be re-synced to its new owner's topics"
        assert Device.objects.filter(token=TOKEN).count() == 1


def test_a_removed_device_comes_back_when_registered_again(saga):
    client = saga.client("resident")
    device = register(client, TOKEN)
    assert client.delete(f"/api/v1/devices/{device['id']}/").status_code == 204
    again = client.post("/api/v1/devices/", {"token": TOKEN, "platform": "android"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == device["id"]
    with saga.schema():
        assert Device.objects.get(pk=device["id"]).is_active


@pytest.mark.parametrize("token", ["", "short", "has space in the token here", "トークン漢字ですよーーー",
                                   "x" * 1025, "tab\tinside-token", 12345678901, None, ["list"]])
def test_invalid_tokens_are_refused_with_400(saga, token):
    response = saga.client("resident").post("/api/v1/devices/", {"token": token, "platform": "android"}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] in {"invalid_device_token", "validation_error"}
    assert "token" in error["fields"]
    with saga.schema():
        assert not Device.objects.exists()


def test_unknown_platform_is_refused(saga):
    response = saga.client("resident").post("/api/v1/devices/", {"token": TOKEN, "platform": "windows"}, format="json")
    assert response.status_code == 400
    assert "platform" in response.json()["error"]["fields"]


@pytest.mark.parametrize("who, status", [(None, 401), ("admin", 201), ("teacher", 201), ("resident", 201)])
def test_residents_and_staff_register_devices(saga, who, status):
    response = saga.client(who).post("/api/v1/devices/", {"token": TOKEN, "platform": "android"}, format="json")
    assert response.status_code == status


def test_a_staff_phone_joins_no_fcm_topic(saga, fake_fcm):
    """Staff register their phone for what the system sends them by name (a class-closure alert);
    broadcasts never reach it, so the topic sync subscribes it to nothing."""
    from notifications import pipeline

    device = register(saga.client("teacher"), "staff-phone-token-0001")
    with saga.schema():
        assert pipeline.sync_topic_subscriptions()["subscribed"] == 0
        synced = Device.objects.get(pk=device["id"])
        assert synced.user_id == saga.staff["teacher"].pk and synced.subscribed_topics == [] and not synced.topics_dirty
    assert fake_fcm.topic_tokens("saga.all.disaster") == set()


def test_delete_deactivates_and_schedules_unsubscription(saga):
    client = saga.client("resident")
    device = register(client, TOKEN)
    with saga.schema():
        Device.objects.filter(pk=device["id"]).update(topics_dirty=False, subscribed_topics=["saga.all.disaster"])
    with assert_num_queries(6):  # search_path, token, device lookup, [savepoint, update, release]
        response = client.delete(f"/api/v1/devices/{device['id']}/")
    assert response.status_code == 204
    with saga.schema():
        removed = Device.objects.get(pk=device["id"])
        assert not removed.is_active and removed.deactivated_reason == "removed"
        assert removed.topics_dirty and removed.subscribed_topics == ["saga.all.disaster"]
    assert client.delete(f"/api/v1/devices/{device['id']}/").status_code == 404


def test_a_resident_cannot_delete_another_residents_device(saga):
    _, other_client = make_resident(saga)
    theirs = register(other_client, TOKEN)
    response = saga.client("resident").delete(f"/api/v1/devices/{theirs['id']}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    missing = saga.client("resident").delete("/api/v1/devices/987654/")
    assert missing.json() == response.json(), "'not yours' must look exactly like 'missing'"
    with saga.schema():
        assert Device.objects.get(pk=theirs["id"]).is_active


def test_a_device_id_from_another_municipality_is_unknown(saga, kanzaki):
    kanzaki_device = register(kanzaki.client("resident"), TOKEN)
    with saga.schema():
        assert not Device.objects.filter(pk=kanzaki_device["id"]).exists()
    assert saga.client("resident").delete(f"/api/v1/devices/{kanzaki_device['id']}/").status_code == 404
    with kanzaki.schema():
        assert Device.objects.get(pk=kanzaki_device["id"]).is_active
