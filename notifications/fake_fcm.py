"""A local FCM server for development, tests and benchmarks (`manage.py fake_fcm`).

It answers the HTTP endpoints firebase-admin 7.7 calls, the way Google does:

* `POST /v1/projects/<p>/messages:send` (what `messaging.send` and `send_each` call, one request per
  message) → `{"name": "projects/<p>/messages/<n>"}`. Tokens starting with `dead-` get 404
  UNREGISTERED; tokens starting with `flaky-` get 503 UNAVAILABLE on the first attempt of each
  distinct message (the SDK's transport retries 503s by itself); tokens starting with `quota-` get
  429 QUOTA_EXCEEDED on the first attempt (the SDK does not retry those: the caller must).
* Topic management, FCM v1 (what `subscribe_to_topic` / `unsubscribe_from_topic` call):
  `POST /v1/projects/<p>/registrations/<token>/topicSubscriptions?topic_name=<t>` and
  `DELETE .../topicSubscriptions/<t>?allow_missing=true`; and the legacy Instance ID batch API
  (`POST /iid/v1:batchAdd` / `:batchRemove` with `{"to": "/topics/<t>", "registration_tokens": [...]}`).
* A topic message is accepted once and logged once per subscribed token.

A message counts as accepted when its response is written to a client that is still connected:
a client killed while waiting for the (optional) latency gets nothing and nothing is logged.
With a log file, each accepted message (or each token a topic message reached) is one JSON line:
{"name", "project", "token", "topic"?, "data", "title", "body", "ts"}.

`/_fake/stats`, `/_fake/topics/<topic>` and `POST /_fake/reset` are for tests and benchmarks.
Topic names live in one namespace here, whatever the project (ours carry the municipality).
"""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from aiohttp import web

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_TOPIC_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~%")


def _error(status: int, grpc_status: str, message: str, fcm_code: str | None = None) -> web.Response:
    error: dict = {"code": status, "message": message, "status": grpc_status}
    if fcm_code:
        error["details"] = [{"@type": FCM_ERROR_TYPE, "errorCode": fcm_code}]
    return web.json_response({"error": error}, status=status)


def _topic_name(raw: str) -> str | None:
    name = raw[len("/topics/"):] if raw.startswith("/topics/") else raw
    return name if name and set(name) <= _TOPIC_CHARS else None


class FakeFcm:
    """The server's state and request handlers; `serve()` / `ThreadedFakeFcm` run it."""

    def __init__(self, *, latency_ms: float = 0, log_path: str | Path | None = None) -> None:
        self.latency = max(0.0, latency_ms) / 1000
        self.log_path = Path(log_path) if log_path else None
        self._log = open(self.log_path, "a", encoding="utf-8") if self.log_path else None
        self.topics: dict[str, set[str]] = defaultdict(set)
        self.stats: Counter = Counter()
        self._first_attempts: set[str] = set()
        self._names = itertools.count(1)

    # --- helpers --------------------------------------------------------------------------------
    def reset(self) -> None:
        self.topics.clear()
        self.stats.clear()
        self._first_attempts.clear()
        if self._log is not None:
            self._log.truncate(0)
            self._log.seek(0)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _first_attempt(self, token: str, message: dict) -> bool:
        key = token + hashlib.sha1(json.dumps(message, sort_keys=True).encode()).hexdigest()
        if key in self._first_attempts:
            return False
        self._first_attempts.add(key)
        return True

    def _write_log(self, project: str, name: str, message: dict, tokens: list[str], via: str) -> None:
        if self._log is None:
            return
        notification = message.get("notification") or {}
        head = json.dumps({"ts": round(time.time(), 3), "project": project, "name": name}, ensure_ascii=False)[:-1]
        topic = f', "topic": {json.dumps(via, ensure_ascii=False)}' if via else ""
        tail = (f', "data": {json.dumps(message.get("data") or {}, ensure_ascii=False)}'
                f', "title": {json.dumps(notification.get("title", ""), ensure_ascii=False)}'
                f', "body": {json.dumps(notification.get("body", ""), ensure_ascii=False)}}}\n')
        self._log.write("".join(f'{head}{topic}, "token": {json.dumps(token)}{tail}' for token in tokens))
        self._log.flush()

    # --- FCM HTTP v1 send -----------------------------------------------------------------------
    async def send(self, request: web.Request) -> web.Response:
        project = request.match_info["project"]
        try:
            payload = await request.json()
            message = payload["message"]
            assert isinstance(message, dict)
        except Exception:
            self.stats["invalid"] += 1
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        targets = [key for key in ("token", "fid", "topic", "condition") if message.get(key)]
        if len(targets) != 1:
            self.stats["invalid"] += 1
            return _error(400, "INVALID_ARGUMENT", "Exactly one of token, fid, topic or condition is required.")
        data = message.get("data") or {}
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            self.stats["invalid"] += 1
            return _error(400, "INVALID_ARGUMENT", "Invalid value at 'message.data': values must be strings.")
        if targets[0] == "condition":
            self.stats["invalid"] += 1
            return _error(400, "INVALID_ARGUMENT", "This fake FCM server does not evaluate conditions.")

        if self.latency:
            await asyncio.sleep(self.latency)
        if request.transport is None or request.transport.is_closing():
            self.stats["abandoned"] += 1  # the client went away: nothing was accepted
            return web.Response(status=499)

        if targets[0] == "topic":
            topic = _topic_name(message["topic"])
            if topic is None:
                self.stats["invalid"] += 1
                return _error(400, "INVALID_ARGUMENT", "Invalid topic name.")
            tokens = sorted(self.topics.get(topic, ()))
            via = topic
        else:
            token = message.get("token") or message.get("fid")
            if token.startswith("dead-"):
                self.stats["unregistered"] += 1
                return _error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
            if token.startswith("flaky-") and self._first_attempt(token, message):
                self.stats["unavailable"] += 1
                return _error(503, "UNAVAILABLE", "The service is currently unavailable.")
            if token.startswith("quota-") and self._first_attempt(token, message):
                self.stats["quota_exceeded"] += 1
                return _error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for sending messages.", "QUOTA_EXCEEDED")
            tokens, via = [token], ""

        name = f"projects/{project}/messages/{next(self._names)}"
        if payload.get("validate_only"):
            self.stats["validated"] += 1
            return web.json_response({"name": f"projects/{project}/messages/fake_message_id"})
        self._write_log(project, name, message, tokens, via)
        self.stats["accepted"] += 1
        self.stats["topic_messages" if via else "token_messages"] += 1
        self.stats["deliveries"] += len(tokens)
        return web.json_response({"name": name})

    # --- topic management -----------------------------------------------------------------------
    def _subscribe(self, token: str, topic: str) -> str | None:
        if token.startswith("dead-"):
            return "NOT_FOUND"
        self.topics[topic].add(token)
        return None

    def _unsubscribe(self, token: str, topic: str) -> str | None:
        subscribers = self.topics.get(topic)
        if subscribers is not None:
            subscribers.discard(token)
        return None

    async def v1_subscribe(self, request: web.Request) -> web.Response:
        topic = _topic_name(request.query.get("topic_name", ""))
        if topic is None:
            return _error(400, "INVALID_ARGUMENT", "Invalid topic name.")
        error = self._subscribe(request.match_info["token"], topic)
        self.stats["subscribe_requests"] += 1
        if error:
            return _error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        return web.json_response({})

    async def v1_unsubscribe(self, request: web.Request) -> web.Response:
        topic = _topic_name(request.match_info["topic"])
        if topic is None:
            return _error(400, "INVALID_ARGUMENT", "Invalid topic name.")
        self._unsubscribe(request.match_info["token"], topic)
        self.stats["unsubscribe_requests"] += 1
        return web.json_response({})

    async def iid_batch(self, request: web.Request) -> web.Response:
        try:
            payload = await request.json()
            topic = _topic_name(payload["to"])
            tokens = payload["registration_tokens"]
            assert isinstance(tokens, list) and 0 < len(tokens) <= 1000 and topic
        except Exception:
            return web.json_response({"error": "InvalidApiArgument"}, status=400)
        operation = self._subscribe if request.path.endswith(":batchAdd") else self._unsubscribe
        results = []
        for token in tokens:
            error = operation(str(token), topic)
            results.append({"error": error} if error else {})
        self.stats["iid_batch_requests"] += 1
        return web.json_response({"results": results})

    # --- inspection -----------------------------------------------------------------------------
    async def get_stats(self, request: web.Request) -> web.Response:
        return web.json_response({"stats": dict(self.stats), "topics": {t: len(s) for t, s in self.topics.items()}})

    async def get_topic(self, request: web.Request) -> web.Response:
        return web.json_response({"tokens": sorted(self.topics.get(request.match_info["topic"], ()))})

    async def post_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({})

    def application(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.add_routes([
            web.post("/v1/projects/{project}/messages:send", self.send),
            web.post("/v1/projects/{project}/registrations/{token}/topicSubscriptions", self.v1_subscribe),
            web.delete("/v1/projects/{project}/registrations/{token}/topicSubscriptions/{topic}", self.v1_unsubscribe),
            web.post("/iid/v1:batchAdd", self.iid_batch),
            web.post("/iid/v1:batchRemove", self.iid_batch),
            web.get("/_fake/stats", self.get_stats),
            web.get("/_fake/topics/{topic}", self.get_topic),
            web.post("/_fake/reset", self.post_reset),
        ])
        return app


async def _start(fake: FakeFcm, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(fake.application(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=2048, reuse_address=True)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]
    return runner, bound


def serve(*, host: str = "127.0.0.1", port: int = 9099, latency_ms: float = 0, log_path: str | None = None,
          on_ready=None) -> None:
    """Runs the server until interrupted (the management command)."""
    fake = FakeFcm(latency_ms=latency_ms, log_path=log_path)

    async def main() -> None:
        runner, bound = await _start(fake, host, port)
        if on_ready is not None:
            on_ready(bound)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        fake.close()


class ThreadedFakeFcm:
    """The server on a background thread with its own event loop (tests)."""

    def __init__(self, *, latency_ms: float = 0, log_path: str | Path | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.fake = FakeFcm(latency_ms=latency_ms, log_path=log_path)
        self.host, self.port = host, port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-fcm", daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ThreadedFakeFcm:
        self._thread.start()
        self._runner, self.port = asyncio.run_coroutine_threadsafe(
            _start(self.fake, self.host, self.port), self._loop).result(10)
        return self

    def call(self, function, *args):
        """Runs `function(*args)` on the server's loop (its state is not thread-safe)."""
        async def run():
            return function(*args)
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self.fake.close()

    def __enter__(self) -> ThreadedFakeFcm:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def read_log(path: str | Path) -> list[dict]:
    """The log's lines as dicts (tests and benchmarks)."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
