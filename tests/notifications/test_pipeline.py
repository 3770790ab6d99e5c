"""The push pipeline end to end: staff API → Celery worker (real, on its own queues) → firebase-admin
→ fake FCM server (real HTTP) → its log, the database and residents' inboxes."""
from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from notifications import pipeline, tasks
from notifications.models import Delivery, Device, Notification
from superapp.celery import app as celery_app

from .conftest import DISASTER_QUEUE, QUEUE, _purge
from .helpers import make_district, make_resident, register, wait_for

URL = "/api/v1/staff/notifications/"


def _status(tenant, notification_id) -> str:
    with tenant.schema():
        return Notification.objects.get(pk=notification_id).status


def _wait_sent(tenant, notification_id, timeout=60) -> None:
    wait_for(lambda: _status(tenant, notification_id) == "sent", timeout=timeout, message=f"notification {notification_id} sent")


def _wait_topics_synced(tenant) -> None:
    def clean():
        with tenant.schema():
            return not Device.objects.filter(topics_dirty=True, is_active=True).exists()
    wait_for(clean, message="topic subscriptions synced")


def _delivered(fake_fcm, notification_id) -> Counter:
    return Counter(line["token"] for line in fake_fcm.log() if line["data"].get("notification_id") == str(notification_id))


def _inbox_ids(client) -> list[int]:
    return [item["id"] for item in client.get("/api/v1/inbox/").json()["results"]]


def test_a_chunk_killed_mid_batch_is_finished_without_resending_what_fcm_accepted(saga, fake_fcm):
    """A worker killed inside send_each leaves the messages FCM already accepted in the acceptance
    ledger (Redis); the redelivered chunk records those and sends only the rest."""
    _, client = make_resident(saga, interests=["ledger"])
    for index in range(3):
        register(client, f"ledger-token-{index}")
    with saga.schema():
        from notifications.services import notification_create

        notification = notification_create(acting_user=saga.admin, title="t", body="b", topic="city_news",
                                           audience={"interests": ["ledger"]})
        pipeline.dispatch(notification.pk)
        deliveries = list(Delivery.objects.filter(notification=notification).select_related("device").order_by("pk"))
        ledger = pipeline.AcceptanceLedger(notification.pk)
        ledger.record(str(deliveries[0].pk), "projects/superapp-local/messages/accepted-before-the-kill")

        outcome = pipeline.send_chunk(notification.pk, 0, 2**62)
        assert (outcome.sent, outcome.recovered, outcome.failed) == (3, 1, 0)
        assert pipeline.send_chunk(notification.pk, 0, 2**62).sent == 0, "a second run finds nothing pending"
        first = Delivery.objects.get(pk=deliveries[0].pk)
        assert first.status == "sent" and first.message_name.endswith("accepted-before-the-kill")
        assert ledger.accepted([str(d.pk) for d in deliveries]) == {}, "the ledger is emptied once recorded"
        assert Notification.objects.get(pk=notification.pk).status == "sent"
    assert _delivered(fake_fcm, notification.pk) == Counter({"ledger-token-1": 1, "ledger-token-2": 1})


def test_backoff_is_exponential_and_capped(settings):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 2
    assert [pipeline.backoff_seconds(n) for n in range(5)] == [2, 4, 8, 16, 32]
    assert pipeline.backoff_seconds(20) == 600


def test_a_district_notification_reaches_exactly_that_districts_devices_through_its_topic(committed, worker, fake_fcm):
    saga, _ = committed
    north, south = make_district(saga, "北校区"), make_district(saga, "南校区")
    _, reader = make_resident(saga, district=north)
    _, muter = make_resident(saga, district=north)
    _, southerner = make_resident(saga, district=south)
    register(reader, "e2e-north-reader-phone")
    register(reader, "e2e-north-reader-tablet", platform="ios")
    register(muter, "e2e-north-muter-phone")
    muter.put("/api/v1/me/notification-settings/", {"muted_topics": ["events"]}, format="json")
    register(southerner, "e2e-south-phone")
    _wait_topics_synced(saga)

    staff = saga.client("community_moderator")
    size = staff.post(f"{URL}audience-size/", {"audience": {"districts": [north.id]}, "topic": "events"},
                      format="json").json()
    assert size == {"residents": 1, "devices": 2, "mode": "topic", "fcm_topics": [f"saga.d{north.id}.events"]}
    created = staff.post(URL, {"title": "北校区 夏祭り", "body": "8月1日 18時から", "topic": "events",
                               "audience": {"districts": [north.id]}, "deep_link": "/events/42"}, format="json")
    assert created.status_code == 201, created.content
    notification_id = created.json()["id"]
    _wait_sent(saga, notification_id)

    assert _delivered(fake_fcm, notification_id) == Counter({"e2e-north-reader-phone": 1, "e2e-north-reader-tablet": 1})
    line = next(line for line in fake_fcm.log() if line["data"].get("notification_id") == str(notification_id))
    assert line["topic"] == f"saga.d{north.id}.events" and line["title"] == "北校区 夏祭り"
    assert line["data"] == {"notification_id": str(notification_id), "topic": "events", "deep_link": "/events/42"}
    assert fake_fcm.stats()["topic_messages"] == 1

    assert _inbox_ids(reader) == [notification_id]
    assert _inbox_ids(muter) == [] and _inbox_ids(southerner) == []
    stats = staff.get(f"{URL}{notification_id}/").json()["stats"]
    assert stats["topic_messages"] == 1 and stats["targeted"] == 2 and stats["sent"] == 2 and stats["pending"] == 0


def test_a_filtered_notification_is_sent_per_device_with_dead_flaky_and_quota_tokens(committed, worker, fake_fcm):
    saga, _ = committed
    north, south = make_district(saga, "北校区"), make_district(saga, "南校区")
    fan, fan_client = make_resident(saga, district=north, interests=["bousai"])
    _, bystander = make_resident(saga, district=north, interests=["music"])
    _, southern_fan = make_resident(saga, district=south, interests=["bousai"])
    register(fan_client, "e2e-fan-healthy-0001")
    register(fan_client, "flaky-e2e-fan-0002")
    register(fan_client, "quota-e2e-fan-0003")
    register(bystander, "e2e-bystander-0004")
    register(southern_fan, "e2e-southern-fan-0005")
    _wait_topics_synced(saga)
    with saga.schema():  # a token that died after it was registered
        dead = Device.objects.create(user=fan, token="dead-e2e-fan-0006", platform="android",
                                     registered_at=timezone.now(), topics_dirty=False)

    created = saga.client("admin").post(URL, {"title": "防災講座のご案内", "body": "公民館にて", "topic": "community",
                                              "audience": {"districts": [north.id], "interests": ["bousai"]}},
                                        format="json").json()
    assert created["mode"] == "device"
    _wait_sent(saga, created["id"])

    assert _delivered(fake_fcm, created["id"]) == Counter(
        {"e2e-fan-healthy-0001": 1, "flaky-e2e-fan-0002": 1, "quota-e2e-fan-0003": 1})
    fake_stats = fake_fcm.stats()
    assert fake_stats["unavailable"] == 1, "the flaky token's first attempt got a 503 (retried by the SDK)"
    assert fake_stats["quota_exceeded"] == 1, "the quota token's first attempt got a 429 (retried by our task)"
    with saga.schema():
        deliveries = {d.device.token: d for d in Delivery.objects.filter(notification_id=created["id"]).select_related("device")}
        assert deliveries["quota-e2e-fan-0003"].attempts == 2 and deliveries["quota-e2e-fan-0003"].status == "sent"
        assert deliveries["dead-e2e-fan-0006"].status == "failed"
        assert deliveries["dead-e2e-fan-0006"].error_code == "UNREGISTERED"
        dead.refresh_from_db()
        assert not dead.is_active and dead.deactivated_reason == "unregistered"
        assert all(d.message_name.startswith("projects/superapp-local/messages/")
                   for token, d in deliveries.items() if d.status == "sent")
    stats = saga.client("admin").get(f"{URL}{created['id']}/").json()["stats"]
    assert stats == {"targeted": 4, "sent": 3, "failed": 1, "pending": 0, "deactivated": 1, "read": 0, "opened": 0,
                     "topic_messages": 0}
    assert _inbox_ids(fan_client) == [created["id"]]
    assert _inbox_ids(bystander) == [] and _inbox_ids(southern_fan) == []


def test_fan_out_pages_the_audience_into_chunks_and_every_token_gets_one_message(committed, worker, fake_fcm, settings):
    saga, _ = committed
    settings.NOTIFICATIONS_CHUNK_SIZE = 40
    district = make_district(saga, "大勢校区")
    users = [make_resident(saga, district=district, interests=["events"])[0] for _ in range(25)]
    with saga.schema():
        Device.objects.bulk_create([Device(user=user, token=f"bulk-token-{u:03d}-{d}", platform="android",
                                           registered_at=timezone.now(), topics_dirty=False)
                                    for u, user in enumerate(users) for d in range(4)])
    created = saga.client("admin").post(URL, {"title": "t", "body": "b", "topic": "city_news",
                                              "audience": {"interests": ["events"]}}, format="json").json()
    _wait_sent(saga, created["id"])
    delivered = _delivered(fake_fcm, created["id"])
    assert len(delivered) == 100 and set(delivered.values()) == {1}
    with saga.schema():
        notification = Notification.objects.get(pk=created["id"])
        assert notification.fanout_done and notification.fanout_cursor == Device.objects.order_by("-pk").first().pk
        assert Delivery.objects.filter(notification=notification, status="sent").count() == 100


def test_a_redelivered_chunk_never_sends_a_second_copy(committed, worker, fake_fcm):
    saga, _ = committed
    district = make_district(saga, "再送校区")
    users = [make_resident(saga, district=district, interests=["x"])[0] for _ in range(3)]
    with saga.schema():
        Device.objects.bulk_create([Device(user=user, token=f"redeliver-token-{i}", platform="ios",
                                           registered_at=timezone.now(), topics_dirty=False)
                                    for i, user in enumerate(users)])
    created = saga.client("admin").post(URL, {"title": "t", "body": "b", "topic": "city_news",
                                              "audience": {"interests": ["x"]}}, format="json").json()
    _wait_sent(saga, created["id"])
    with schema_context(saga.schema_name):  # the same chunk, delivered twice more
        first = tasks.send_chunk.apply_async((created["id"], 0, 2**62))
        second = tasks.send_chunk.apply_async((created["id"], 0, 2**62))
    assert first.get(timeout=30)["sent"] == 0 and second.get(timeout=30)["sent"] == 0
    assert _delivered(fake_fcm, created["id"]) == Counter({f"redeliver-token-{i}": 1 for i in range(3)})


def test_disaster_notifications_travel_on_the_disaster_queue(committed, fake_fcm, settings):
    saga, _ = committed
    settings.CELERY_DISASTER_QUEUE = DISASTER_QUEUE
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = QUEUE
    _purge(QUEUE, DISASTER_QUEUE)
    try:
        with celery_app.connection_for_write() as conn:
            redis_client = conn.default_channel.client
            disaster = saga.client("disaster_staff").post(URL, {"title": "土砂災害警戒", "body": "避難を",
                                                               "topic": "disaster", "audience": {"everyone": True}},
                                                         format="json")
            assert disaster.status_code == 201
            assert (redis_client.llen(DISASTER_QUEUE), redis_client.llen(QUEUE)) == (1, 0)
            saga.client("admin").post(URL, {"title": "図書館休館", "body": "b", "topic": "city_news",
                                            "audience": {"everyone": True}}, format="json")
            assert (redis_client.llen(DISASTER_QUEUE), redis_client.llen(QUEUE)) == (1, 1)
    finally:
        _purge(QUEUE, DISASTER_QUEUE)
        celery_app.conf.task_default_queue = previous


def test_scheduled_notifications_are_sent_by_the_beat_tick_across_tenants(committed, worker, fake_fcm):
    saga, kanzaki = committed
    _, client = make_resident(saga)
    register(client, "scheduled-token-0001")
    _wait_topics_synced(saga)
    send_at = timezone.now() + timedelta(seconds=1)
    created = saga.client("admin").post(URL, {"title": "明日は資源物の日", "body": "b", "topic": "garbage",
                                              "audience": {"everyone": True}, "send_at": send_at.isoformat()},
                                        format="json").json()
    assert created["status"] == "scheduled"
    time.sleep(max(0.0, (send_at - timezone.now()).total_seconds()) + 0.1)
    with schema_context("public"):
        schemas = celery_app.send_task("tenants.tasks.fan_out", args=["notifications.tasks.dispatch_due"]).get(timeout=30)
    assert {saga.schema_name, kanzaki.schema_name} <= set(schemas)
    _wait_sent(saga, created["id"])
    assert _delivered(fake_fcm, created["id"]) == Counter({"scheduled-token-0001": 1})


def test_a_fan_out_whose_task_was_lost_is_resumed_by_the_beat_tick(committed, worker, fake_fcm, monkeypatch):
    saga, _ = committed
    _, client = make_resident(saga, interests=["lost"])
    register(client, "lost-task-token-0001")
    monkeypatch.setattr(tasks.dispatch, "apply_async", lambda *args, **kwargs: None)  # the broker lost it
    created = saga.client("admin").post(URL, {"title": "t", "body": "b", "topic": "city_news",
                                              "audience": {"interests": ["lost"]}}, format="json").json()
    monkeypatch.undo()
    with saga.schema():
        Notification.objects.filter(pk=created["id"]).update(created_at=timezone.now() - timedelta(hours=1))
        assert pipeline.dispatch_due()["resumed"] == 1
    _wait_sent(saga, created["id"])
    assert _delivered(fake_fcm, created["id"]) == Counter({"lost-task-token-0001": 1})
    connection.set_schema_to_public()
