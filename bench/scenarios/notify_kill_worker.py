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


def _one_run(ctx, *, devices: int, latency: int, visibility: int, ledger: bool) -> dict:
    support.log(ctx, f"onboarding {support.SCHEMA} and seeding {devices:,} devices (acceptance ledger {'on' if ledger else 'off'})")
    support.municipality_create()
    fcm = support.FakeFcm(latency_ms=latency, log_path=support.RESULTS_DIR / "notify_kill_worker.fcm.log")
    pool = None
    try:
        support.configure_process(fcm.url)
        support.seed(residents=devices, interests=["benchkill"])
        client = support.staff_client()
        pool = support.Workers(2, fcm_url=fcm.url, visibility_timeout=visibility, extra_env={
            "CELERY_UNACKED_RESTORE_SECONDS": "2", "NOTIFICATIONS_ACCEPTANCE_LEDGER": "1" if ledger else "0"})
        pool.wait_ready()
        started = time.perf_counter()
        response = client.post("/api/v1/staff/notifications/", {
            "title": "ベンチマーク", "body": "kill a worker", "topic": "city_news",
            "audience": {"interests": ["benchkill"]}}, format="json")
        assert response.status_code == 201, response.content
        notification_id = response.json()["id"]
        # Past 40%, at a moment when FCM has accepted messages the database has not recorded yet
        # (a worker is in the middle of a send_each batch).
        def mid_batch():
            accepted, recorded = fcm.stats().get("accepted", 0), support.sent_count(notification_id)
            return (accepted, recorded) if accepted >= devices * 0.4 and accepted - recorded >= 100 else None
        accepted_at_kill, sent_at_kill = support.wait_until(mid_batch, timeout=max(300, devices / 20), interval=0.01,
                                                            what="40% sent, mid-batch")
        support.log(ctx, f"SIGKILL worker 0 at {sent_at_kill:,} recorded / {accepted_at_kill:,} accepted")
        pool.kill(0)
        killed_at = time.perf_counter() - started
        time.sleep(2)
        pool.start(0)
        restarted_at = time.perf_counter() - started
        progress = []

        def finished():
            progress.append((round(time.perf_counter() - started, 1), support.sent_count(notification_id)))
            return support.notification_status(notification_id) == "sent"
        support.wait_until(finished, timeout=max(600, devices / 10), interval=1.0, what="the fan-out to finish")
        seconds = time.perf_counter() - started
        counts = fcm.deliveries(notification_id)
        recorded = support.sent_count(notification_id)
    finally:
        if pool is not None:
            pool.stop()
        fcm.stop()
        support.municipality_drop()

    return {"exactly_once": sum(1 for n in counts.values() if n == 1),
            "duplicated": sum(1 for n in counts.values() if n > 1), "missing": devices - len(counts),
            "recorded_sent": recorded, "sent_when_killed": sent_at_kill, "accepted_when_killed": accepted_at_kill,
            "killed_after_s": round(killed_at, 1), "restarted_after_s": round(restarted_at, 1),
            "total_seconds": round(seconds, 1), "progress_s_sent": progress[::5]}


def run(ctx) -> dict:
    support.django_setup()
    devices = support.env_int("BENCH_KILL_DEVICES", 5000)
    latency = support.env_int("BENCH_FCM_LATENCY_MS", 20)
    visibility = support.env_int("BENCH_KILL_VISIBILITY_SECONDS", 10)
    runs = {name: _one_run(ctx, devices=devices, latency=latency, visibility=visibility, ledger=ledger)
            for name, ledger in (("without-ledger", False), ("with-ledger", True))}
    rows = [{"name": name, "label": ("database state only (baseline)" if name == "without-ledger"
                                     else "database + acceptance ledger"), **figures}
            for name, figures in runs.items()]
    return {
        "parameters": {"devices": devices, "fcm_latency_ms": latency, "workers": 2, "visibility_timeout_s": visibility},
        "tables": [{"title": f"Fake FCM log after a worker was SIGKILLed mid fan-out ({devices:,} devices)",
                    "baseline": "without-ledger",
                    "columns": [{"key": "exactly_once", "label": "tokens ×1", "better": "higher", "decimals": 0},
                                {"key": "duplicated", "label": "tokens ×2+", "better": "lower", "decimals": 0, "ratio": False},
                                {"key": "missing", "label": "tokens ×0", "better": "lower", "decimals": 0, "ratio": False},
                                {"key": "total_seconds", "label": "seconds", "better": "lower", "decimals": 1}],
                    "rows": rows}],
        "summary": runs,
        "notes": [
            "Both runs kill worker 0 when 40% are accepted and FCM has accepted at least 100 messages the database "
            "has not recorded yet (a send_each batch in flight).",
            "Baseline: only the delivery rows decide what a redelivered chunk sends, so everything the killed batch "
            "had already handed to FCM goes out twice.",
            "With the ledger, what remains possible is a message FCM accepted in the last instant, whose response "
            "the killed process never read: no client can know it was delivered. Those carry the same collapse key, "
            "so the phone shows one notification.",
        ],
    }


if __name__ == "__main__":
    support.main(__import__(__name__))
