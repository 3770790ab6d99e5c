"""City-wide disaster broadcast by FCM topic: from the staff request to the last topic message
accepted and the inbox showing it to every resident.

230,000 devices (BENCH_BROADCAST_DEVICES; default 20,000) subscribed to the city's topics. The
broadcast is one FCM message to `<municipality>.all.disaster`; the fake FCM server expands it to
every subscribed token in its log. Beside it, the per-device way: the same audience sent with
`send_each` from one process, measured on BENCH_BROADCAST_SAMPLE tokens (default 5,000) and scaled.
Also measured: how fast the real subscription path (`subscribe_to_topic`, one request per token
and topic, batches of 1,000) subscribes devices, on BENCH_BROADCAST_SYNC devices (default 500).

Set-up note: the bulk of the subscriptions is seeded through the Instance ID batch API
(`iid/v1:batchAdd`, 1,000 tokens per request) and recorded on the devices in SQL; subscribing
230,000 devices × 10 topics one request each would take the set-up, not the broadcast, an hour.
"""
from __future__ import annotations

import random
import time
from datetime import timedelta

from bench import notify_support as support

NAME = "notify_broadcast"
DESCRIPTION = "city-wide disaster broadcast by topic: staff request → topic message accepted → inbox visible"


def _per_device_sample(sample_tokens: list[str]) -> float:
    from notifications import push

    config = push.config_for(None)
    started = time.perf_counter()
    for start in range(0, len(sample_tokens), push.MAX_BATCH):
        batch = sample_tokens[start:start + push.MAX_BATCH]
        push.send_each([push.PushMessage(ref=str(i), title="避難指示", body="baseline", token=t,
                                         data={"notification_id": "0", "topic": "disaster"}, high_priority=True)
                        for i, t in enumerate(batch)], config=config)
    return time.perf_counter() - started


def _topic_sync_rate(devices: int) -> dict:
    """The real path: devices marked dirty, synced with subscribe_to_topic in batches of 1,000."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from notifications import pipeline
    from notifications.models import Device

    with schema_context(support.SCHEMA):
        ids = list(Device.objects.order_by("pk").values_list("pk", flat=True)[:devices])
        Device.objects.filter(pk__in=ids).update(subscribed_topics=[], topics_dirty=True)
        started = time.perf_counter()
        totals = pipeline.sync_topic_subscriptions()
        seconds = time.perf_counter() - started
        connection.set_schema_to_public()
    return {"devices": totals["devices"], "subscriptions": totals["subscribed"], "seconds": seconds}


def _resident_clients(count: int) -> list:
    from django_tenants.utils import schema_context

    from accounts.models import User
    from accounts.services import api_token_issue
    from tests.base import TenantApiClient

    with schema_context(support.SCHEMA):
        ids = list(User.objects.filter(kind="resident").values_list("pk", flat=True))
        chosen = User.objects.filter(pk__in=random.Random(7).sample(ids, min(count, len(ids))))
        return [TenantApiClient(support.HOST, api_token_issue(user=user, kind="resident", ttl=timedelta(hours=1)).raw)
                for user in chosen]


def run(ctx) -> dict:
    support.django_setup()
    devices = support.env_int("BENCH_BROADCAST_DEVICES", 20000)
    sample = min(devices, support.env_int("BENCH_BROADCAST_SAMPLE", 5000))
    sync_devices = min(devices, support.env_int("BENCH_BROADCAST_SYNC", 500))
    latency = support.env_int("BENCH_FCM_LATENCY_MS", 20)
    topic = f"{support.SCHEMA}.all.disaster"
    support.log(ctx, f"onboarding {support.SCHEMA}, seeding {devices:,} residents in 32 districts")
    support.municipality_create()
    fcm = support.FakeFcm(latency_ms=latency, log_path=support.RESULTS_DIR / "notify_broadcast.fcm.log")
    pool = None
    try:
        support.configure_process(fcm.url)
        district_ids = support.seed(residents=devices, interests=[], districts=32, subscribe_all_topic=True)
        all_tokens = support.tokens()
        support.log(ctx, f"subscribing {len(all_tokens):,} tokens to {topic} through iid/v1:batchAdd")
        fcm.subscribe_legacy(topic, all_tokens)
        support.log(ctx, f"real subscription path on {sync_devices} devices")
        sync = _topic_sync_rate(sync_devices)
        support.log(ctx, f"per-device baseline: send_each on {sample:,} tokens")
        sample_seconds = _per_device_sample(all_tokens[:sample])
        residents = _resident_clients(100)
        client = support.staff_client()
        pool = support.Workers(1, fcm_url=fcm.url)
        pool.wait_ready()

        # Warm the worker as production workers are (connections, firebase app): a district
        # broadcast on a topic the fake server has no subscribers for.
        warm = client.post("/api/v1/staff/notifications/", {
            "title": "warm-up", "body": "-", "topic": "city_news", "audience": {"districts": [district_ids[0]]}},
            format="json").json()["id"]
        support.wait_until(lambda: support.notification_status(warm) == "sent", timeout=60, what="the warm-up")

        support.log(ctx, "broadcast")
        before = fcm.stats().get("topic_messages", 0)
        started = time.perf_counter()
        response = client.post("/api/v1/staff/notifications/", {
            "title": "【避難指示】佐賀市全域", "body": "直ちに安全な場所へ避難してください。", "topic": "disaster",
            "audience": {"everyone": True}}, format="json")
        request_seconds = time.perf_counter() - started
        assert response.status_code == 201, response.content
        notification_id = response.json()["id"]
        from django_tenants.utils import schema_context

        from notifications.models import Notification

        marks: dict[str, float] = {}

        def both():  # each moment recorded on its own: the topic message accepted, the inbox showing it
            if "accepted" not in marks and fcm.stats().get("topic_messages", 0) > before:
                marks["accepted"] = time.perf_counter() - started
            if "inbox" not in marks:
                with schema_context(support.SCHEMA):  # broadcasts are in every inbox once dispatched
                    if Notification.objects.filter(pk=notification_id, dispatched_at__isnull=False).exists():
                        marks["inbox"] = time.perf_counter() - started
            return len(marks) == 2
        support.wait_until(both, timeout=120, interval=0.005, what="the topic message accepted and the inbox")
        accepted_seconds, inbox_seconds = marks["accepted"], marks["inbox"]
        seen = sum(1 for c in residents if c.get("/api/v1/inbox/?page_size=1").json()["results"][0]["id"] == notification_id)
        assert seen == len(residents), f"only {seen} of {len(residents)} sampled residents see it"
        support.wait_until(lambda: support.notification_status(notification_id) == "sent", timeout=60,
                           what="status sent")
        delivered = fcm.deliveries(notification_id)
        assert len(delivered) == devices and set(delivered.values()) == {1}, (len(delivered), devices)
        with_inbox = time.perf_counter()
        residents[0].get("/api/v1/inbox/")
        inbox_request_ms = (time.perf_counter() - with_inbox) * 1000
    finally:
        if pool is not None:
            pool.stop()
        fcm.stop()
        support.municipality_drop()

    per_device_estimate = sample_seconds * devices / sample
    rows = [
        {"name": "per-device", "label": f"per device with send_each, 1 process (scaled from {sample:,})",
         "seconds": per_device_estimate},
        {"name": "topic-accepted", "label": "by topic: request → topic message accepted", "seconds": accepted_seconds},
        {"name": "topic-inbox", "label": "by topic: request → in every inbox (then checked on 100 residents)",
         "seconds": inbox_seconds},
        {"name": "topic-both", "label": "by topic: request → accepted and in every inbox",
         "seconds": max(inbox_seconds, accepted_seconds)},
    ]
    return {
        "parameters": {"devices": devices, "fcm_latency_ms": latency, "sample": sample, "districts": 32},
        "tables": [{
            "title": f"Disaster broadcast to {devices:,} devices",
            "baseline": "per-device",
            "columns": [{"key": "seconds", "label": "seconds", "better": "lower", "decimals": 2}],
            "rows": rows,
        }],
        "summary": {
            "request_to_accepted_s": round(accepted_seconds, 3), "request_to_inbox_visible_s": round(inbox_seconds, 3),
            "request_to_both_s": round(max(accepted_seconds, inbox_seconds), 3), "sampled_residents_seeing_it": seen,
            "staff_request_s": round(request_seconds, 3), "log_deliveries": len(delivered),
            "per_device_estimate_s": round(per_device_estimate, 1), "inbox_request_ms": round(inbox_request_ms, 1),
            "topic_sync": {"devices": sync["devices"], "subscriptions": sync["subscriptions"],
                           "seconds": round(sync["seconds"], 2),
                           "subscriptions_per_s": round(sync["subscriptions"] / sync["seconds"]) if sync["seconds"] else None},
        },
        "notes": [
            "The broadcast is stored once: the inbox resolves it per resident at read time, so no row is written "
            "per resident and every resident's inbox shows it as soon as the dispatch task marks it sent out.",
            "The fake FCM server writes one log line per subscribed token before it answers, so 'accepted' "
            "includes expanding the topic to every token.",
        ],
    }


if __name__ == "__main__":
    support.main(__import__(__name__))
