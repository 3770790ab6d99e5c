"""The push adapter: the only module that talks to firebase-admin.

It builds FCM messages, calls `messaging.send_each` / `subscribe_to_topic` / `unsubscribe_from_topic`
on a firebase-admin app per Firebase project (a municipality may bring its own), and turns the SDK's
per-message exceptions into plain results: sent, or failed with an FCM error code that says whether
the token is dead (UNREGISTERED) and whether a retry may help (quota, 5xx, timeouts).

With `settings.FCM_ENDPOINT` set, every request the SDK makes to fcm.googleapis.com or
iid.googleapis.com is rewritten to that server (the fake one from `manage.py fake_fcm`), so the real
SDK code path runs in development, tests and benchmarks. The SDK has no setting for this; mounting a
URL-rewriting requests adapter on the messaging service's session is the least intrusive way.

`send_each` can report each message the moment FCM accepts it (`on_accepted`), from the SDK's own
sending threads, before the whole batch returns: the pipeline records that outside the database so
that a worker killed in the middle of a batch does not send those messages again when the chunk is
redelivered.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import firebase_admin
import google.auth.credentials
import requests
from django.conf import settings
from firebase_admin import _http_client, credentials, exceptions, messaging

log = logging.getLogger(__name__)

# firebase-admin 7.7 deprecates Message(token=) in favour of fid= (Firebase installation ids). The
# app registers FCM registration tokens, which the FCM HTTP v1 API still addresses as "token", so
# `_fcm_message` sets the attribute after construction (the encoder still sends it as "token").

FCM_HOSTS = ("https://fcm.googleapis.com", "https://iid.googleapis.com")
MAX_BATCH = 500  # send_each's limit
MAX_TOPIC_BATCH = 1000  # subscribe_to_topic's limit

# Retrying may help: quota, server errors, timeouts, connection failures.
_RETRYABLE = (
    messaging.QuotaExceededError,
    exceptions.ResourceExhaustedError,
    exceptions.UnavailableError,
    exceptions.InternalError,
    exceptions.DeadlineExceededError,
    exceptions.UnknownError,
)


@dataclass(frozen=True)
class FirebaseConfig:
    project_id: str
    credentials_file: str = ""
    endpoint: str = ""


@dataclass(frozen=True)
class PushMessage:
    """One FCM message: to a device token or to an FCM topic. `ref` is the caller's id for it."""

    ref: str
    title: str
    body: str
    data: dict[str, str] = field(default_factory=dict)
    token: str | None = None
    topic: str | None = None
    high_priority: bool = False
    # Devices replace an earlier message with the same key instead of showing both.
    collapse_key: str = ""

    @property
    def target(self) -> str:
        return self.token or self.topic or ""


@dataclass(frozen=True)
class PushResult:
    ref: str
    message_name: str = ""
    error_code: str = ""
    retryable: bool = False
    unregistered: bool = False

    @property
    def ok(self) -> bool:
        return not self.error_code


def config_for(municipality) -> FirebaseConfig:
    """A municipality's Firebase project (settings["firebase"]), else the installation's default."""
    own = ((getattr(municipality, "settings", None) or {}).get("firebase") or {}) if municipality else {}
    if own.get("project_id"):
        return FirebaseConfig(own["project_id"], own.get("credentials_file", ""), settings.FCM_ENDPOINT)
    return FirebaseConfig(settings.FCM_PROJECT_ID, settings.FCM_CREDENTIALS_FILE, settings.FCM_ENDPOINT)


# --- firebase-admin apps ------------------------------------------------------------------------
class _AnonymousCredential(credentials.Base):
    """No OAuth token at all: enough for a local FCM server, which checks none."""

    def get_credential(self):
        return google.auth.credentials.AnonymousCredentials()


class _EndpointAdapter(requests.adapters.HTTPAdapter):
    """Sends every request to `endpoint`, keeping path and query (Google host → local server)."""

    def __init__(self, endpoint: str, **kwargs):
        super().__init__(**kwargs)
        parts = urlsplit(endpoint)
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path.rstrip("/")

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        request.url = urlunsplit((self._scheme, self._netloc, self._prefix + parts.path, parts.query, ""))
        return super().send(request, **kwargs)


_apps: dict[FirebaseConfig, firebase_admin.App] = {}
_apps_lock = threading.Lock()


def _app(config: FirebaseConfig) -> firebase_admin.App:
    app = _apps.get(config)
    if app is not None:
        return app
    with _apps_lock:
        app = _apps.get(config)
        if app is None:
            app = _apps[config] = _initialise(config)
    return app


def _initialise(config: FirebaseConfig) -> firebase_admin.App:
    name = "superapp-" + hashlib.sha256(repr(config).encode()).hexdigest()[:16]
    try:
        app = firebase_admin.get_app(name)
    except ValueError:
        credential = credentials.Certificate(config.credentials_file) if config.credentials_file else _AnonymousCredential()
        app = firebase_admin.initialize_app(
            credential, {"projectId": config.project_id, "httpTimeout": settings.FCM_HTTP_TIMEOUT_SECONDS}, name=name)
    session = messaging._get_messaging_service(app)._client.session
    if config.endpoint:
        # send_each runs one thread per message (up to 500): keep as many connections alive.
        adapter = _EndpointAdapter(config.endpoint, pool_connections=4, pool_maxsize=MAX_BATCH,
                                   max_retries=_http_client.DEFAULT_RETRY_CONFIG)
        for host in FCM_HOSTS:
            session.mount(host, adapter)
    session.hooks["response"].append(_on_response)
    return app


# --- acceptance callbacks -----------------------------------------------------------------------
# (target, notification id) → callback(message_name), for the duration of one send_each call.
_listeners: dict[tuple[str, str], Callable[[str], None]] = {}
_listeners_lock = threading.Lock()


def _on_response(response: requests.Response, *args, **kwargs) -> None:
    """requests response hook, run in the SDK's sending thread once a message's final response is in."""
    if response.status_code != 200 or not _listeners or not response.request.url.endswith("messages:send"):
        return
    try:
        sent = json.loads(response.request.body)["message"]
        key = (sent.get("token") or sent.get("topic") or "", (sent.get("data") or {}).get("notification_id", ""))
        callback = _listeners.get(key)
        if callback is not None:
            callback(response.json()["name"])
    except Exception:  # a failing callback must never turn into a failed batch
        log.exception("push on_accepted callback failed")


# --- sending ------------------------------------------------------------------------------------
def _fcm_message(message: PushMessage) -> messaging.Message:
    collapse = message.collapse_key or None
    apns_headers = {"apns-priority": "10" if message.high_priority else "5"}
    if collapse:
        apns_headers["apns-collapse-id"] = collapse[:64]
    fcm_message = messaging.Message(
        topic=message.topic,
        notification=messaging.Notification(title=message.title, body=message.body),
        data=message.data,
        android=messaging.AndroidConfig(priority="high" if message.high_priority else "normal", collapse_key=collapse),
        apns=messaging.APNSConfig(headers=apns_headers),
    )
    # Set after construction: Message(token=) warns on every call (about 80 µs a message).
    fcm_message.token = message.token
    return fcm_message


def classify(error: Exception) -> PushResult:
    """The FCM error code of a failed message and what to do about it."""
    if isinstance(error, messaging.UnregisteredError):
        return PushResult("", error_code="UNREGISTERED", unregistered=True)
    if isinstance(error, messaging.QuotaExceededError):
        return PushResult("", error_code="QUOTA_EXCEEDED", retryable=True)
    if isinstance(error, messaging.SenderIdMismatchError):
        return PushResult("", error_code="SENDER_ID_MISMATCH")
    if isinstance(error, messaging.ThirdPartyAuthError):
        return PushResult("", error_code="THIRD_PARTY_AUTH_ERROR")
    code = getattr(error, "code", None) or "UNKNOWN"
    return PushResult("", error_code=str(code)[:40], retryable=isinstance(error, _RETRYABLE))


def send_each(messages: Sequence[PushMessage], *, config: FirebaseConfig,
              on_accepted: Callable[[str, str], None] | None = None) -> list[PushResult]:
    """Sends up to 500 messages with `messaging.send_each`; one result per message, in order.

    `on_accepted(ref, message_name)` runs as each message is accepted (before the batch returns);
    it needs a `notification_id` in the message's data to be routed."""
    if not messages:
        return []
    if len(messages) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} messages per call")
    app = _app(config)
    fcm_messages = [_fcm_message(message) for message in messages]
    keys: list[tuple[str, str]] = []
    if on_accepted is not None:
        with _listeners_lock:
            for message in messages:
                key = (message.target, message.data.get("notification_id", ""))
                _listeners[key] = lambda name, ref=message.ref: on_accepted(ref, name)
                keys.append(key)
    try:
        batch = messaging.send_each(fcm_messages, app=app)
    finally:
        if keys:
            with _listeners_lock:
                for key in keys:
                    _listeners.pop(key, None)
    results = []
    for message, response in zip(messages, batch.responses):
        if response.success:
            results.append(PushResult(message.ref, message_name=response.message_id))
        else:
            verdict = classify(response.exception)
            results.append(PushResult(message.ref, error_code=verdict.error_code, retryable=verdict.retryable,
                                      unregistered=verdict.unregistered))
    return results


def _topic_batches(tokens: Sequence[str]):
    for start in range(0, len(tokens), MAX_TOPIC_BATCH):
        yield list(tokens[start:start + MAX_TOPIC_BATCH])


def subscribe(tokens: Sequence[str], fcm_topic: str, *, config: FirebaseConfig) -> dict[str, str]:
    """Subscribes tokens to an FCM topic in batches of 1,000; returns {token: error} for failures."""
    return _manage_topic(messaging.subscribe_to_topic, tokens, fcm_topic, config)


def unsubscribe(tokens: Sequence[str], fcm_topic: str, *, config: FirebaseConfig) -> dict[str, str]:
    return _manage_topic(messaging.unsubscribe_from_topic, tokens, fcm_topic, config)


def _manage_topic(operation, tokens: Sequence[str], fcm_topic: str, config: FirebaseConfig) -> dict[str, str]:
    app = _app(config)
    failures: dict[str, str] = {}
    for batch in _topic_batches(tokens):
        try:
            response = operation(batch, fcm_topic, app=app)
        except exceptions.FirebaseError as error:
            failures.update({token: str(error.code) for token in batch})
            continue
        for error in response.errors:
            failures[batch[error.index]] = error.reason
    return failures


def is_dead_token_error(reason: str) -> bool:
    """Topic management reports a token FCM no longer knows this way."""
    return reason in {"UNREGISTERED", "NOT_FOUND", "registration-token-not-registered"}
