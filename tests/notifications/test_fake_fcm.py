"""The fake FCM server as the platform runs it (`manage.py fake_fcm`), driven by the real
firebase-admin SDK through FCM_ENDPOINT."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import warnings

import pytest
import requests
from firebase_admin import messaging

from notifications import push
from notifications.fake_fcm import read_log


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fake_fcm_process(tmp_path, settings):
    port, log = _free_port(), tmp_path / "fcm.jsonl"
    proc = subprocess.Popen([sys.executable, "manage.py", "fake_fcm", "--port", str(port), "--latency-ms", "50",
                             "--log", str(log)], stdout=subprocess.PIPE, text=True)
    try:
        assert "fake FCM listening on" in proc.stdout.readline()
        settings.FCM_ENDPOINT = f"http://127.0.0.1:{port}"
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        proc.wait(10)


def _message(token, ref="r", nid="7"):
    return push.PushMessage(ref=ref, title="避難指示", body="直ちに避難", data={"notification_id": nid}, token=token,
                            high_priority=True, collapse_key="n7")


def test_send_each_against_the_command_line_server(fake_fcm_process):
    url, log = fake_fcm_process
    config = push.config_for(None)
    tokens = [f"cli-token-{i:03d}" for i in range(100)] + ["dead-cli-token"]
    accepted = []
    results = push.send_each([_message(t, ref=t) for t in tokens], config=config,
                             on_accepted=lambda ref, name: accepted.append(ref))
    assert [r.ok for r in results] == [True] * 100 + [False]
    assert results[-1].error_code == "UNREGISTERED" and results[-1].unregistered and not results[-1].retryable
    assert sorted(accepted) == tokens[:100]
    lines = read_log(log)
    assert sorted(line["token"] for line in lines) == tokens[:100]
    assert len({line["name"] for line in lines}) == 100
    assert all(line["name"].startswith("projects/superapp-local/messages/") for line in lines)
    assert lines[0]["data"] == {"notification_id": "7"} and lines[0]["title"] == "避難指示"
    stats = requests.get(f"{url}/_fake/stats", timeout=5).json()["stats"]
    assert stats["accepted"] == 100 and stats["unregistered"] == 1
    assert stats["max_in_flight"] > 10, "requests wait out the latency concurrently, not one after another"


def test_the_http_v1_wire_format(fake_fcm_process):
    url, _ = fake_fcm_process
    ok = requests.post(f"{url}/v1/projects/demo-project/messages:send",
                       json={"message": {"token": "wire-token-1", "notification": {"title": "t"}, "data": {"k": "v"}}})
    assert ok.status_code == 200 and ok.json()["name"].startswith("projects/demo-project/messages/")
    dead = requests.post(f"{url}/v1/projects/demo-project/messages:send", json={"message": {"token": "dead-1"}})
    assert dead.status_code == 404
    assert dead.json()["error"]["status"] == "NOT_FOUND"
    assert dead.json()["error"]["details"][0]["errorCode"] == "UNREGISTERED"
    flaky = [requests.post(f"{url}/v1/projects/p/messages:send", json={"message": {"token": "flaky-1"}}).status_code
             for _ in range(2)]
    assert flaky == [503, 200]
    bad = requests.post(f"{url}/v1/projects/p/messages:send", json={"message": {"token": "x", "data": {"n": 1}}})
    assert bad.status_code == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"
    two_targets = requests.post(f"{url}/v1/projects/p/messages:send", json={"message": {"token": "x", "topic": "y"}})
    assert two_targets.status_code == 400


def test_flaky_tokens_are_retried_by_the_sdk_and_delivered_once(fake_fcm_process):
    url, log = fake_fcm_process
    [result] = push.send_each([_message("flaky-sdk-token")], config=push.config_for(None))
    assert result.ok
    assert [line["token"] for line in read_log(log)] == ["flaky-sdk-token"]
    assert requests.get(f"{url}/_fake/stats", timeout=5).json()["stats"]["unavailable"] == 1


def test_quota_errors_are_retryable_for_the_caller(fake_fcm_process):
    [first] = push.send_each([_message("quota-token-1")], config=push.config_for(None))
    assert first.error_code == "QUOTA_EXCEEDED" and first.retryable
    [second] = push.send_each([_message("quota-token-1")], config=push.config_for(None))
    assert second.ok


def test_topic_subscription_both_apis_and_topic_send_expands_in_the_log(fake_fcm_process):
    url, log = fake_fcm_process
    config = push.config_for(None)
    assert push.subscribe(["topic-a", "topic-b", "dead-topic"], "saga.all.events", config=config) == {
        "dead-topic": "UNREGISTERED"}
    with warnings.catch_warnings():  # the legacy Instance ID batch API (iid.googleapis.com/iid/v1:batchAdd)
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = messaging.subscribe_to_topic_legacy(["topic-c"], "/topics/saga.all.events", app=push._app(config))
        assert legacy.success_count == 1
        removed = messaging.unsubscribe_from_topic_legacy(["topic-c"], "saga.all.events", app=push._app(config))
        assert removed.success_count == 1
    assert push.unsubscribe(["topic-b"], "saga.all.events", config=config) == {}
    [result] = push.send_each([push.PushMessage(ref="t", title="t", body="b", data={"notification_id": "9"},
                                                topic="saga.all.events")], config=config)
    assert result.ok
    lines = read_log(log)
    assert [(line["topic"], line["token"], line["name"]) for line in lines] == [
        ("saga.all.events", "topic-a", result.message_name)]
    stats = requests.get(f"{url}/_fake/stats", timeout=5).json()
    assert stats["stats"]["iid_batch_requests"] == 2 and stats["topics"] == {"saga.all.events": 1}
    assert json.loads(json.dumps(lines[0]))["data"] == {"notification_id": "9"}


def test_a_client_that_goes_away_during_the_latency_gets_nothing_logged(fake_fcm_process):
    url, log = fake_fcm_process
    body = json.dumps({"message": {"token": "vanishing-token"}}).encode()
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))) as sock:
        sock.sendall(b"POST /v1/projects/p/messages:send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    time.sleep(0.3)  # past the 50 ms latency
    assert read_log(log) == []
    assert requests.get(f"{url}/_fake/stats", timeout=5).json()["stats"]["abandoned"] == 1


def test_a_municipality_with_its_own_firebase_project_sends_through_it(saga, fake_fcm):
    from notifications.tenancy import current_municipality

    with saga.schema():
        saga.municipality.settings = {**saga.municipality.settings, "firebase": {"project_id": "saga-city-app"}}
        saga.municipality.save(update_fields=["settings"])
        config = push.config_for(current_municipality())
        assert config.project_id == "saga-city-app" and config.endpoint == fake_fcm.url
        [result] = push.send_each([_message("own-project-token")], config=config)
    assert result.message_name.startswith("projects/saga-city-app/messages/")
    assert [line["project"] for line in fake_fcm.log()] == ["saga-city-app"]


def test_the_default_project_uses_anonymous_credentials(settings):
    settings.FCM_PROJECT_ID, settings.FCM_CREDENTIALS_FILE = "superapp-local", ""
    config = push.config_for(None)
    assert config == push.FirebaseConfig("superapp-local", "", settings.FCM_ENDPOINT)
    credential = push._AnonymousCredential().get_credential()
    assert type(credential).__name__ == "AnonymousCredentials"
