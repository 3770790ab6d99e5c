"""Exactly once under a killed worker: a per-device fan-out to 50,000 devices
(BENCH_KILL_DEVICES; default 5,000) on 2 workers; one worker is SIGKILLed (its whole process
group, no warm shutdown) when about 40% of the tokens are sent, and restarted 2 s later. The fake
FCM server's log then shows how many messages each token got.

What makes it exactly once: a chunk only sends deliveries still pending and locks them while it
does (so a concurrent duplicate finds nothing), and every message FCM accepts is written to a Redis
ledger from the SDK's own response hook as soon as it is accepted; the redelivered chunk records
those instead of sending them again. The killed worker's unacknowledged chunk comes back after the
broker's visibility timeout (10 s here; CELERY_VISIBILITY_TIMEOUT) or the beat's stall sweep.
"""
from __future__ import annotations

import time

from bench import notify_support as support

NAME = "notify_kill_worker"
DESCRIPTION = "kill a worker mid fan-out, restart it: every token gets exactly one message (fake FCM log)"


def run(ctx) -> dict:
    support.django_setup()
    devices = support.env_int("BENCH_KILL_DEVICES", 5000)
    latency = support.env_int("BENCH_FCM_LATENCY_MS", 20)
    visibility = support.env_int("BENCH_KILL_VISIBILITY_SECONDS", 10)
    support.log(ctx, f"onboarding {support.SCHEMA} and seeding {devices:,} devices")
    support.municipality_create()
    fcm = support.FakeFcm(latency_ms=latency, log_path=support.RESULTS_DIR / "notify_kill_worker.fcm.log")
    pool = None
    try:
        support.configure_process(fcm.url)
        support.seed(residents=devices, interests=["benchkill"])
        client = support.staff_client()
        pool = support.Workers(2, fcm_url=fcm.url, visibility_timeout=visibility)
        pool.wait_ready()
        started = time.perf_counter()
        response = client.post("/api/v1/staff/notifications/", {
            "title": "ベンチマーク", "body": "kill a worker", "topic": "city_news",
            "audience": {"interests": ["benchkill"]}}, format="json")
        assert response.status_code == 201, response.content
        notification_id = response.json()["id"]
        support.wait_until(lambda: support.sent_count(notification_id) >= devices * 0.4, timeout=max(300, devices / 20),
                           interval=0.02, what="40% sent")
        sent_at_kill = support.sent_count(notification_id)
        accepted_at_kill = fcm.stats().get("accepted", 0)
        support.log(ctx, f"SIGKILL worker 0 at {sent_at_kill:,} recorded / {accepted_at_kill:,} accepted")
        pool.kill(0)
        killed_at = time.perf_counter() - started
        time.sleep(2)
        pool.start(0)
        support.wait_until(lambda: support.notification_status(notification_id) == "sent",
                           timeout=max(600, devices / 10), interval=0.2, what="the fan-out to finish")
        seconds = time.perf_counter() - started
        counts = fcm.deliveries(notification_id)
        recorded = support.sent_count(notification_id)
    finally:
        if pool is not None:
            pool.stop()
        fcm.stop()
        support.municipality_drop()

    exactly_once = sum(1 for n in counts.values() if n == 1)
    duplicated = sum(1 for n in counts.values() if n > 1)
    missing = devices - len(counts)
    rows = [{"name": "expected", "label": "devices in the audience", "tokens": devices},
            {"name": "once", "label": "tokens with exactly one message", "tokens": exactly_once},
            {"name": "duplicated", "label": "tokens with more than one", "tokens": duplicated},
            {"name": "missing", "label": "tokens with none", "tokens": missing},
            {"name": "recorded", "label": "deliveries recorded sent", "tokens": recorded}]
    return {
        "parameters": {"devices": devices, "fcm_latency_ms": latency, "workers": 2, "visibility_timeout_s": visibility},
        "tables": [{"title": "Fake FCM log after a worker was killed mid fan-out", "baseline": "expected",
                    "columns": [{"key": "tokens", "label": "tokens", "decimals": 0}], "rows": rows}],
        "summary": {"exactly_once": exactly_once, "duplicated": duplicated, "missing": missing,
                    "recorded_sent": recorded, "sent_when_killed": sent_at_kill,
                    "accepted_when_killed": accepted_at_kill, "killed_after_s": round(killed_at, 1),
                    "total_seconds": round(seconds, 1)},
        "notes": ["'accepted when killed' minus 'sent when killed' is what FCM had accepted but the database had "
                  "not recorded yet: the chunks in flight, which the redelivered chunk took from the ledger."],
    }


if __name__ == "__main__":
    support.main(__import__(__name__))
