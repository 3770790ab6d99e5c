"""Per-device push fan-out through the whole pipeline against a plain `send_each` loop.

The pipeline (staff API → Celery fan-out → chunk tasks of 500 → firebase-admin `send_each` → fake
FCM at 20 ms latency → per-token results in PostgreSQL) with 1 and 2 worker processes, against the
SDK's floor: one process calling `messaging.send_each` on the same tokens, 500 at a time, nothing
else. firebase-admin spends about 2 ms of CPU per message, so the floor is about 500 messages/s per
process; the pipeline should keep at least 0.8× of it per worker and grow with workers.

BENCH_NOTIFY_DEVICES (default 5,000; the issue's figure is 50,000), BENCH_FCM_LATENCY_MS (20).
"""
from __future__ import annotations

import time

from bench import notify_support as support

NAME = "notify_fanout"
DESCRIPTION = "per-device push fan-out: pipeline with 1 and 2 workers vs a plain send_each loop (the SDK floor)"


def _floor(all_tokens: list[str]) -> float:
    from notifications import push

    config = push.config_for(None)
    started = time.perf_counter()
    for start in range(0, len(all_tokens), push.MAX_BATCH):
        batch = all_tokens[start:start + push.MAX_BATCH]
        results = push.send_each([push.PushMessage(ref=str(i), title="ベンチマーク", body="floor", token=token,
                                                   data={"notification_id": "0", "topic": "city_news"},
                                                   collapse_key="n0")
                                  for i, token in enumerate(batch)], config=config)
        assert all(r.ok for r in results)
    return time.perf_counter() - started


def _pipeline(client, workers: int, devices: int, fcm) -> dict:
    pool = support.Workers(workers, fcm_url=fcm.url)
    try:
        pool.wait_ready()
        accepted_before = fcm.stats().get("accepted", 0)
        started = time.perf_counter()
        response = client.post("/api/v1/staff/notifications/", {
            "title": "ベンチマーク", "body": f"{workers} workers", "topic": "city_news",
            "audience": {"interests": ["benchfan"]}}, format="json")
        assert response.status_code == 201, response.content
        notification_id = response.json()["id"]
        support.wait_until(lambda: support.notification_status(notification_id) == "sent",
                           timeout=max(120, devices / 50), interval=0.2, what="the fan-out to finish")
        seconds = time.perf_counter() - started
        accepted = fcm.stats().get("accepted", 0) - accepted_before
        assert accepted == devices == support.sent_count(notification_id), (accepted, devices)
        return {"seconds": seconds, "msgs": devices / seconds}
    finally:
        pool.stop()


def run(ctx) -> dict:
    support.django_setup()
    devices = support.env_int("BENCH_NOTIFY_DEVICES", 5000)
    latency = support.env_int("BENCH_FCM_LATENCY_MS", 20)
    support.log(ctx, f"onboarding {support.SCHEMA} and seeding {devices:,} residents with a device each")
    support.municipality_create()
    fcm = support.FakeFcm(latency_ms=latency, log_path=support.RESULTS_DIR / "notify_fanout.fcm.log")
    try:
        support.configure_process(fcm.url)
        support.seed(residents=devices, interests=["benchfan"])
        all_tokens = support.tokens()
        client = support.staff_client()
        # The machine is shared: the floor is measured before and after the pipeline runs and averaged.
        support.log(ctx, "floor: one process, send_each over the same tokens")
        floor_runs = [_floor(all_tokens)]
        pipeline_rows = []
        for workers in (1, 2):
            support.log(ctx, f"pipeline with {workers} worker(s)")
            figures = _pipeline(client, workers, devices, fcm)
            pipeline_rows.append({"name": f"pipeline-{workers}", "label": f"pipeline, {workers} worker process(es)",
                                  "seconds": figures["seconds"], "msgs": figures["msgs"],
                                  "per_process": figures["msgs"] / workers})
        support.log(ctx, "floor again")
        floor_runs.append(_floor(all_tokens))
        floor_seconds = sum(floor_runs) / len(floor_runs)
        rows = [{"name": "floor", "label": "send_each loop, 1 process (SDK floor; mean of before and after)",
                 "seconds": floor_seconds, "msgs": devices / floor_seconds, "per_process": devices / floor_seconds},
                *pipeline_rows]
    finally:
        fcm.stop()
        support.municipality_drop()
    floor_rate = rows[0]["msgs"]
    return {
        "parameters": {"devices": devices, "fcm_latency_ms": latency, "chunk": 500,
                       "floor_runs_s": [round(x, 1) for x in floor_runs], "load_average": list(__import__("os").getloadavg())},
        "tables": [{
            "title": f"Per-device fan-out of {devices:,} messages (fake FCM at {latency} ms)",
            "baseline": "floor",
            "columns": [{"key": "msgs", "label": "messages/s", "better": "higher", "decimals": 0},
                        {"key": "per_process", "label": "messages/s per process", "better": "higher", "decimals": 0},
                        {"key": "seconds", "label": "seconds", "better": "lower", "decimals": 1}],
            "rows": rows,
        }],
        "summary": {"floor_msgs_per_s": round(floor_rate), "pipeline_1w_msgs_per_s": round(rows[1]["msgs"]),
                    "pipeline_2w_msgs_per_s": round(rows[2]["msgs"]),
                    "per_process_ratio_1w": round(rows[1]["per_process"] / floor_rate, 2),
                    "per_process_ratio_2w": round(rows[2]["per_process"] / floor_rate, 2),
                    "scaling_2w_over_1w": round(rows[2]["msgs"] / rows[1]["msgs"], 2)},
        "notes": [
            "Pipeline time runs from the staff API request to the notification's status 'sent' (every token's "
            "result recorded), and includes the fan-out, the per-chunk row locks and the Redis acceptance ledger.",
            "The machine has 2 cores shared by the workers, the fake FCM server, PostgreSQL and this process: "
            "with 2 workers the per-process figure is bounded by the cores, not by the pipeline.",
        ],
    }


if __name__ == "__main__":
    support.main(__import__(__name__))
