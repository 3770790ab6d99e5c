"""FCM topic subscriptions follow residents' districts and muted topics (real SDK → fake FCM)."""
from __future__ import annotations

from notifications import pipeline
from notifications.audience import desired_topics
from notifications.models import Device

from .helpers import make_district, make_resident, register


def _sync(tenant) -> dict:
    with tenant.schema():
        return pipeline.sync_topic_subscriptions()


def _device(tenant, device_id) -> Device:
    with tenant.schema():
        return Device.objects.get(pk=device_id)


def test_a_new_device_is_subscribed_to_its_municipality_and_district_topics(saga, fake_fcm):
    district = make_district(saga, "本庄校区")
    _, client = make_resident(saga, district=district)
    device = register(client, "topic-token-0000001")
    totals = _sync(saga)
    expected = desired_topics(schema="saga", district_id=district.id, muted=[])
    assert len(expected) == 10 and f"saga.d{district.id}.disaster" in expected and "saga.all.events" in expected
    assert totals["devices"] == 1 and totals["subscribed"] == 10
    synced = _device(saga, device["id"])
    assert synced.subscribed_topics == expected and not synced.topics_dirty
    for topic in expected:
        assert fake_fcm.topic_tokens(topic) == {"topic-token-0000001"}
    assert _sync(saga)["devices"] == 0, "a clean device is not synced again"


def test_muting_a_topic_unsubscribes_and_unmuting_resubscribes(saga, fake_fcm):
    district = make_district(saga, "本庄校区")
    _, client = make_resident(saga, district=district)
    register(client, "topic-token-0000002")
    _sync(saga)
    client.put("/api/v1/me/notification-settings/", {"muted_topics": ["events"]}, format="json")
    totals = _sync(saga)
    assert totals["unsubscribed"] == 2 and totals["subscribed"] == 0
    assert fake_fcm.topic_tokens("saga.all.events") == set()
    assert fake_fcm.topic_tokens(f"saga.d{district.id}.events") == set()
    assert fake_fcm.topic_tokens("saga.all.disaster") == {"topic-token-0000002"}
    client.put("/api/v1/me/notification-settings/", {"muted_topics": []}, format="json")
    assert _sync(saga)["subscribed"] == 2
    assert fake_fcm.topic_tokens("saga.all.events") == {"topic-token-0000002"}


def test_moving_to_another_district_moves_the_district_topics(saga, fake_fcm):
    old, new = make_district(saga, "本庄校区"), make_district(saga, "鍋島校区")
    _, client = make_resident(saga, district=old)
    register(client, "topic-token-0000003")
    _sync(saga)
    assert client.patch("/api/v1/me/", {"district": new.id}, format="json").status_code == 200
    totals = _sync(saga)
    assert totals["subscribed"] == 5 and totals["unsubscribed"] == 5
    assert fake_fcm.topic_tokens(f"saga.d{old.id}.disaster") == set()
    assert fake_fcm.topic_tokens(f"saga.d{new.id}.disaster") == {"topic-token-0000003"}
    assert fake_fcm.topic_tokens("saga.all.disaster") == {"topic-token-0000003"}


def test_a_removed_device_is_unsubscribed_from_everything(saga, fake_fcm):
    _, client = make_resident(saga)
    device = register(client, "topic-token-0000004")
    _sync(saga)
    assert fake_fcm.topic_tokens("saga.all.garbage") == {"topic-token-0000004"}
    client.delete(f"/api/v1/devices/{device['id']}/")
    assert _sync(saga)["unsubscribed"] == 5
    assert all(not tokens for tokens in [fake_fcm.topic_tokens(f"saga.all.{t}") for t in
                                         ("disaster", "garbage", "community", "events", "city_news")])
    assert _device(saga, device["id"]).subscribed_topics == []


def test_a_moved_token_follows_its_new_owner(saga, fake_fcm):
    north, south = make_district(saga, "北川副校区"), make_district(saga, "南川副校区")
    _, first = make_resident(saga, district=north)
    _, second = make_resident(saga, district=south)
    register(first, "topic-token-0000005")
    _sync(saga)
    register(second, "topic-token-0000005")
    _sync(saga)
    assert fake_fcm.topic_tokens(f"saga.d{north.id}.disaster") == set()
    assert fake_fcm.topic_tokens(f"saga.d{south.id}.disaster") == {"topic-token-0000005"}


def test_a_dead_token_found_while_subscribing_is_deactivated(saga, fake_fcm):
    _, client = make_resident(saga)
    device = register(client, "dead-topic-token-000001")
    totals = _sync(saga)
    assert totals["deactivated"] == 1
    dead = _device(saga, device["id"])
    assert not dead.is_active and dead.deactivated_reason == "unregistered" and not dead.topics_dirty


def test_topics_are_per_municipality(saga, kanzaki, fake_fcm):
    _, saga_client = make_resident(saga)
    _, kanzaki_client = make_resident(kanzaki)
    register(saga_client, "topic-token-saga-0001")
    register(kanzaki_client, "topic-token-kanzaki-01")
    _sync(saga)
    _sync(kanzaki)
    assert fake_fcm.topic_tokens("saga.all.disaster") == {"topic-token-saga-0001"}
    assert fake_fcm.topic_tokens("kanzaki.all.disaster") == {"topic-token-kanzaki-01"}


def test_subscription_requests_go_out_in_batches_of_a_thousand(saga, fake_fcm, monkeypatch):
    from notifications import push

    calls = []
    real = push.messaging.subscribe_to_topic

    def counting(tokens, topic, app=None):
        calls.append(len(tokens))
        return real(tokens, topic, app=app)

    monkeypatch.setattr(push.messaging, "subscribe_to_topic", counting)
    failures = push.subscribe([f"batch-token-{i:06d}" for i in range(2500)], "saga.all.city_news",
                              config=push.config_for(None))
    assert failures == {} and calls == [1000, 1000, 500]
    assert len(fake_fcm.topic_tokens("saga.all.city_news")) == 2500
