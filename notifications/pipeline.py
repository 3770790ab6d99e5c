"""The push pipeline, run by Celery tasks (`tasks.py`) inside the municipality's schema.

    dispatch ─┬─ topic broadcast: one FCM message per topic (TopicMessage rows)
              └─ per device: keyset pages of ≤500 audience devices → Delivery rows (pending)
                 → one `send_chunk` task per page → send_each → per-token results

Exactly once: a chunk locks its pending deliveries (FOR UPDATE SKIP LOCKED, so a duplicate of the
task running at the same time finds nothing to do) and only sends those still pending. Messages FCM
accepts are also written to Redis the moment they are accepted (`AcceptanceLedger`), so a worker
killed halfway through a batch leaves a record the redelivered chunk uses instead of sending again.
UNREGISTERED tokens are deactivated; retryable failures stay pending and the task retries with
exponential backoff; a fan-out whose worker died is resumed by the beat tick (`dispatch_due`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User

from . import audience as audiences
from . import push
from .models import Delivery, Device, InboxEntry, Notification, NotificationPreference, TopicMessage
from .services import devices_deactivate_unregistered
from .tenancy import current_municipality

log = logging.getLogger(__name__)


# --- acceptance ledger --------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _ledger_redis() -> redis.Redis:
    # Written from up to 500 SDK threads at once: a bounded, blocking pool.
    pool = redis.BlockingConnectionPool.from_url(settings.REDIS_URL, max_connections=32, timeout=10)
    return redis.Redis(connection_pool=pool)


class AcceptanceLedger:
    """Messages FCM accepted for one notification, by ref, until the database has them."""

    TTL_SECONDS = 3 * 24 * 3600

    def __init__(self, notification_id: int) -> None:
        prefix = settings.CACHES["default"]["KEY_PREFIX"]
        self.key = f"{prefix}:notifications:accepted:{connection.schema_name}:{notification_id}"

    def open(self) -> None:
        """Creates the hash with its expiry once, so recording a message is a single HSET."""
        pipe = _ledger_redis().pipeline(transaction=False)
        pipe.hset(self.key, "-", "")
        pipe.expire(self.key, self.TTL_SECONDS)
        pipe.execute()

    def record(self, ref: str, message_name: str) -> None:
        _ledger_redis().hset(self.key, ref, message_name)

    def accepted(self, refs: list[str]) -> dict[str, str]:
        if not refs:
            return {}
        names = _ledger_redis().hmget(self.key, refs)
        return {ref: name.decode() for ref, name in zip(refs, names) if name is not None}

    def forget(self, refs: list[str]) -> None:
        if refs:
            _ledger_redis().hdel(self.key, *refs)


# --- messages -----------------------------------------------------------------------------------
def _payload(notification: Notification) -> dict[str, str]:
    data = {str(key): str(value) for key, value in (notification.data or {}).items()}
    data.update({"notification_id": str(notification.pk), "topic": notification.topic})
    if notification.deep_link:
        data["deep_link"] = notification.deep_link
    return data


def _message(notification: Notification, *, ref: str, token: str | None = None, topic: str | None = None) -> push.PushMessage:
    return push.PushMessage(
        ref=ref, title=notification.title, body=notification.body, data=_payload(notification), token=token,
        topic=topic, high_priority=notification.priority == Notification.Priority.HIGH,
        collapse_key=f"n{notification.pk}",
    )


def _config() -> push.FirebaseConfig:
    return push.config_for(current_municipality())


def _audience(notification: Notification) -> audiences.Audience:
    return audiences.audience_parse(notification.audience, check_districts=False, system=True)


def backoff_seconds(retries: int) -> float:
    """Exponential backoff: base, 2×base, 4×base ... capped at 10 minutes."""
    return min(600.0, settings.NOTIFICATIONS_RETRY_BASE_SECONDS * (2 ** retries))


@dataclass(frozen=True)
class Outcome:
    sent: int = 0
    failed: int = 0
    deactivated: int = 0
    recovered: int = 0  # accepted by FCM in an earlier, interrupted attempt: recorded, not re-sent
    retry: bool = False  # retryable failures are still pending


# --- dispatch -----------------------------------------------------------------------------------
def dispatch(notification_id: int) -> str:
    """Starts (or resumes) sending a notification. Returns what it did, for logs and tests."""
    now = timezone.now()
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None:
        return "missing"
    if notification.status in (Notification.Status.SCHEDULED, Notification.Status.CANCELLED, Notification.Status.SENT):
        return notification.status
    Notification.objects.filter(pk=notification.pk, dispatched_at__isnull=True).update(
        dispatched_at=now, status=Notification.Status.SENDING, progress_at=now)
    notification.refresh_from_db()
    if notification.mode == Notification.Mode.TOPIC:
        return "topic"  # the task goes on with send_topic_messages (and retries it)
    fan_out(notification)
    return "fan_out"


def _complete_if_done(notification_id: int) -> bool:
    notification = Notification.objects.only("fanout_done", "mode").get(pk=notification_id)
    if notification.mode == Notification.Mode.TOPIC:
        pending = TopicMessage.objects.filter(notification_id=notification_id, status=Delivery.Status.PENDING).exists()
    else:
        pending = not notification.fanout_done or Delivery.objects.filter(
            notification_id=notification_id, status=Delivery.Status.PENDING).exists()
    if pending:
        return False
    now = timezone.now()
    return bool(Notification.objects.filter(pk=notification_id, status=Notification.Status.SENDING).update(
        status=Notification.Status.SENT, completed_at=now, progress_at=now))


# --- per-device fan-out -------------------------------------------------------------------------
def fan_out(notification: Notification) -> int:
    """Materialises the audience as pending deliveries (and inbox rows) page by page, keyset on the
    device id, and sends one chunk task per page as soon as the page commits. Resumable."""
    from .tasks import queue_for, send_chunk

    queue = queue_for(notification)
    devices = audiences.audience_devices(_audience(notification), notification.topic).order_by("pk")
    cursor, pages = notification.fanout_cursor, 0
    while True:
        with transaction.atomic():
            high = _materialise_page(notification.pk, devices.filter(pk__gt=cursor))
            if high is None:
                Notification.objects.filter(pk=notification.pk).update(fanout_done=True, progress_at=timezone.now())
                break
            low = cursor
            Notification.objects.filter(pk=notification.pk).update(fanout_cursor=high, progress_at=timezone.now())
            transaction.on_commit(lambda low=low, high=high: send_chunk.apply_async(
                (notification.pk, low, high), queue=queue))
            cursor, pages = high, pages + 1
    # Residents with the topic unmuted but no device still get the inbox item.
    _inbox_for_deviceless(notification)
    # The last chunk may have finished before fanout_done was set: then nobody else completes it.
    _complete_if_done(notification.pk)
    return pages


def _materialise_page(notification_id: int, devices) -> int | None:
    """One statement: the next ≤500 audience devices become pending deliveries and their residents
    get inbox rows. Returns the page's last device id, None when the audience is exhausted."""
    page_sql, params = devices.values_list("pk", "user_id")[:settings.NOTIFICATIONS_CHUNK_SIZE].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH page (device_id, user_id) AS ({page_sql}), "
            f"deliveries AS (INSERT INTO {Delivery._meta.db_table} "
            "(notification_id, device_id, status, message_name, error_code, attempts, updated_at) "
            "SELECT %s, device_id, 'pending', '', '', 0, now() FROM page ON CONFLICT DO NOTHING), "
            f"inbox AS (INSERT INTO {InboxEntry._meta.db_table} (notification_id, user_id, created_at) "
            "SELECT DISTINCT %s, user_id, now() FROM page ON CONFLICT DO NOTHING) "
            "SELECT max(device_id) FROM page", [*params, notification_id, notification_id])
        return cursor.fetchone()[0]


def _inbox_for_deviceless(notification: Notification) -> None:
    residents = audiences.audience_residents(_audience(notification), notification.topic).filter(
        ~Q(devices__is_active=True)).values_list("pk", flat=True).distinct()
    InboxEntry.objects.bulk_create([InboxEntry(notification_id=notification.pk, user_id=user_id)
                                    for user_id in residents], ignore_conflicts=True)


@dataclass
class _DeliveryRow:
    """The columns a chunk needs (model instances cost more than the send for 500 rows)."""

    pk: int
    attempts: int
    device_id: int
    token: str
    device_active: bool
    status: str = Delivery.Status.PENDING
    message_name: str = ""
    error_code: str = ""
    updated_at: object = None


def send_chunk(notification_id: int, low: int, high: int) -> Outcome:
    """Sends the pending deliveries of devices in (low, high] and records every token's result."""
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None or notification.status == Notification.Status.CANCELLED:
        return Outcome()
    ledger = AcceptanceLedger(notification_id)
    use_ledger = settings.NOTIFICATIONS_ACCEPTANCE_LEDGER
    with transaction.atomic():
        pending = [_DeliveryRow(*row) for row in
                   Delivery.objects.select_for_update(skip_locked=True, of=("self",))
                   .filter(notification_id=notification_id, status=Delivery.Status.PENDING,
                           device_id__gt=low, device_id__lte=high)
                   .order_by("device_id").values_list("pk", "attempts", "device_id", "device__token", "device__is_active")]
        if not pending:
            return Outcome()
        now = timezone.now()
        refs = [str(row.pk) for row in pending]
        recovered = ledger.accepted(refs) if use_ledger else {}
        if use_ledger:
            ledger.open()
        to_send = [row for row in pending if str(row.pk) not in recovered and row.device_active]
        results = {r.ref: r for r in push.send_each(
            [_message(notification, ref=str(row.pk), token=row.token) for row in to_send],
            config=_config(), on_accepted=ledger.record if use_ledger else None)}

        sent = failed = 0
        dead_devices: list[int] = []
        retry = False
        for row in pending:
            ref = str(row.pk)
            row.updated_at = now
            if ref in recovered:
                row.status, row.message_name = Delivery.Status.SENT, recovered[ref]
                row.attempts += 1
                sent += 1
                continue
            if not row.device_active:
                row.status, row.error_code = Delivery.Status.FAILED, "DEVICE_INACTIVE"
                failed += 1
                continue
            result = results[ref]
            row.attempts += 1
            if result.ok:
                row.status, row.message_name = Delivery.Status.SENT, result.message_name
                sent += 1
            elif result.retryable and row.attempts < settings.NOTIFICATIONS_MAX_ATTEMPTS:
                row.error_code = result.error_code  # stays pending
                retry = True
            else:
                row.status, row.error_code = Delivery.Status.FAILED, result.error_code
                failed += 1
                if result.unregistered:
                    dead_devices.append(row.device_id)
        _record_results(Delivery, pending)
        deactivated = devices_deactivate_unregistered(device_ids=dead_devices)
        Notification.objects.filter(pk=notification_id).update(progress_at=now)
    if use_ledger:
        ledger.forget(refs)
    if not retry:
        _complete_if_done(notification_id)
    return Outcome(sent=sent, failed=failed, deactivated=deactivated, recovered=len(recovered), retry=retry)


def _record_results(model, rows) -> None:
    """One UPDATE … FROM unnest(arrays) for a batch of deliveries or topic messages: six array
    parameters instead of bulk_update's CASE expressions or thousands of VALUES placeholders."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {model._meta.db_table} AS r SET status = v.status, message_name = v.message_name, "
            "error_code = v.error_code, attempts = v.attempts, updated_at = v.updated_at "
            "FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[], %s::varchar[], %s::smallint[], %s::timestamptz[]) "
            "AS v(id, status, message_name, error_code, attempts, updated_at) WHERE r.id = v.id",
            [[r.pk for r in rows], [r.status for r in rows], [r.message_name for r in rows],
             [r.error_code for r in rows], [r.attempts for r in rows], [r.updated_at for r in rows]])


def resume_pending(notification: Notification) -> int:
    """Sends chunk tasks again for every page of still-pending deliveries (their worker died)."""
    from .tasks import queue_for, send_chunk

    queue = queue_for(notification)
    pending = Delivery.objects.filter(notification=notification, status=Delivery.Status.PENDING).order_by("device_id")
    cursor, chunks = 0, 0
    while True:
        page = list(pending.filter(device_id__gt=cursor).values_list("device_id", flat=True)[:settings.NOTIFICATIONS_CHUNK_SIZE])
        if not page:
            return chunks
        send_chunk.apply_async((notification.pk, cursor, page[-1]), queue=queue)
        cursor, chunks = page[-1], chunks + 1


# --- topic broadcasts ---------------------------------------------------------------------------
def send_topic_messages(notification_id: int) -> Outcome:
    """Sends the broadcast's pending topic messages (one per municipality/district topic)."""
    notification = Notification.objects.get(pk=notification_id)
    topics = audiences.broadcast_topics(_audience(notification), schema=connection.schema_name, topic=notification.topic)
    if not TopicMessage.objects.filter(notification=notification).exists():
        TopicMessage.objects.bulk_create([TopicMessage(notification=notification, fcm_topic=t) for t in topics],
                                         ignore_conflicts=True)
    ledger = AcceptanceLedger(notification_id)
    with transaction.atomic():
        pending = list(TopicMessage.objects.select_for_update(skip_locked=True)
                       .filter(notification=notification, status=Delivery.Status.PENDING).order_by("pk"))
        if not pending:
            return Outcome()
        now = timezone.now()
        refs = [f"t{m.pk}" for m in pending]
        recovered = ledger.accepted(refs)
        ledger.open()
        to_send = [m for m in pending if f"t{m.pk}" not in recovered]
        results: dict[str, push.PushResult] = {}
        for start in range(0, len(to_send), push.MAX_BATCH):
            batch = to_send[start:start + push.MAX_BATCH]
            results.update({r.ref: r for r in push.send_each(
                [_message(notification, ref=f"t{m.pk}", topic=m.fcm_topic) for m in batch],
                config=_config(), on_accepted=ledger.record)})
        sent = failed = 0
        retry = False
        for message in pending:
            ref = f"t{message.pk}"
            message.attempts += 1
            message.updated_at = now
            if ref in recovered or results[ref].ok:
                message.status, message.error_code = Delivery.Status.SENT, ""
                message.message_name = recovered.get(ref) or results[ref].message_name
                sent += 1
            elif results[ref].retryable and message.attempts < settings.NOTIFICATIONS_MAX_ATTEMPTS:
                message.error_code = results[ref].error_code
                retry = True
            else:
                message.status, message.error_code = Delivery.Status.FAILED, results[ref].error_code
                failed += 1
        _record_results(TopicMessage, pending)
        Notification.objects.filter(pk=notification_id).update(progress_at=now)
    ledger.forget(refs)
    # Stats only, so after the send: how many devices each topic reached.
    for fcm_topic, count in _subscriber_counts([m.fcm_topic for m in pending if m.status == Delivery.Status.SENT]):
        TopicMessage.objects.filter(notification_id=notification_id, fcm_topic=fcm_topic).update(device_count=count)
    if not retry:
        _complete_if_done(notification_id)
    return Outcome(sent=sent, failed=failed, recovered=len(recovered), retry=retry)


def _subscriber_counts(topics: list[str]) -> list[tuple[str, int]]:
    """Active devices subscribed to each topic (GIN index on subscribed_topics)."""
    return [(topic, Device.objects.filter(is_active=True, subscribed_topics__contains=[topic]).count())
            for topic in topics]


# --- the beat tick ------------------------------------------------------------------------------
def dispatch_due(now=None) -> dict[str, int]:
    """Queues scheduled notifications whose time has come and resumes stalled ones."""
    from .services import notification_enqueue
    from .tasks import dispatch as dispatch_task, queue_for

    now = now or timezone.now()
    with transaction.atomic():
        due = list(Notification.objects.select_for_update(skip_locked=True)
                   .filter(status=Notification.Status.SCHEDULED, send_at__lte=now))
        for notification in due:
            Notification.objects.filter(pk=notification.pk).update(status=Notification.Status.QUEUED)
            notification_enqueue(notification=notification)

    stall = now - timedelta(seconds=settings.NOTIFICATIONS_STALL_SECONDS)
    stalled = list(Notification.objects.filter(
        Q(status=Notification.Status.SENDING, progress_at__lt=stall)
        | Q(status=Notification.Status.QUEUED, progress_at__isnull=True, created_at__lt=stall)
        | Q(status=Notification.Status.QUEUED, progress_at__lt=stall)))
    resumed = 0
    for notification in stalled:
        Notification.objects.filter(pk=notification.pk).update(progress_at=now)
        if notification.mode == Notification.Mode.DEVICE:
            resume_pending(notification)  # pages already materialised whose chunk tasks were lost
        if notification.mode == Notification.Mode.TOPIC or not notification.fanout_done:
            dispatch_task.apply_async((notification.pk,), queue=queue_for(notification))  # continues from the cursor
        resumed += 1
    return {"due": len(due), "resumed": resumed}


# --- FCM topic subscriptions --------------------------------------------------------------------
_CLAIM_SECONDS = 300


def sync_topic_subscriptions(*, batch_size: int = 1000, max_batches: int | None = None) -> dict[str, int]:
    """Brings devices' FCM topic subscriptions in line with their resident's district and muted
    topics: claims up to 1,000 changed devices at a time, subscribes/unsubscribes them per topic in
    batches of 1,000 tokens, and records what FCM confirmed."""
    schema = connection.schema_name
    config = _config()
    totals = {"devices": 0, "subscribed": 0, "unsubscribed": 0, "deactivated": 0, "failed": 0}
    batches = 0
    while max_batches is None or batches < max_batches:
        now = timezone.now()
        with transaction.atomic():
            rows = list(Device.objects.select_for_update(skip_locked=True)
                        .filter(Q(topics_claimed_at__isnull=True) | Q(topics_claimed_at__lt=now - timedelta(seconds=_CLAIM_SECONDS)),
                                topics_dirty=True)
                        .order_by("pk").values("pk", "token", "user_id", "is_active", "subscribed_topics", "topics_version")
                        [:batch_size])
            if not rows:
                break
            Device.objects.filter(pk__in=[r["pk"] for r in rows]).update(topics_claimed_at=now)
        batches += 1
        users = {u["pk"]: u for u in User.objects.filter(pk__in={r["user_id"] for r in rows})
                 .values("pk", "district_id", "kind", "is_active")}
        muted = dict(NotificationPreference.objects.filter(user_id__in=users).values_list("user_id", "muted_topics"))

        desired: dict[int, list[str]] = {}
        adds: dict[str, list[str]] = {}
        removes: dict[str, list[str]] = {}
        for row in rows:
            user = users.get(row["user_id"])  # None: deleted meanwhile (its devices go with it)
            wanted = (audiences.desired_topics(schema=schema, district_id=user["district_id"], muted=muted.get(row["user_id"], []))
                      if user and row["is_active"] and user["is_active"] and user["kind"] == User.Kind.RESIDENT else [])
            desired[row["pk"]] = wanted
            for topic in set(wanted) - set(row["subscribed_topics"]):
                adds.setdefault(topic, []).append(row["token"])
            for topic in set(row["subscribed_topics"]) - set(wanted):
                removes.setdefault(topic, []).append(row["token"])

        failures: dict[str, str] = {}
        for topic, tokens in sorted(adds.items()):
            failures.update(push.subscribe(tokens, topic, config=config))
            totals["subscribed"] += len(tokens)
        for topic, tokens in sorted(removes.items()):
            failures.update(push.unsubscribe(tokens, topic, config=config))
            totals["unsubscribed"] += len(tokens)

        dead = [r["pk"] for r in rows if r["is_active"] and push.is_dead_token_error(failures.get(r["token"], ""))]
        done = [r for r in rows if r["token"] not in failures]
        retry_later = [r["pk"] for r in rows if r["token"] in failures and r["pk"] not in dead]
        with transaction.atomic():
            totals["deactivated"] += devices_deactivate_unregistered(device_ids=dead)
            if done:
                _record_synced(done, desired)
            if retry_later:
                Device.objects.filter(pk__in=retry_later).update(topics_claimed_at=None)
        totals["devices"] += len(rows)
        totals["failed"] += len(retry_later)
        if retry_later and len(retry_later) == len(rows):
            break  # FCM refuses everything right now; the beat's next sync tries again
    return totals


def _record_synced(rows: list[dict], desired: dict[int, list[str]]) -> None:
    """One UPDATE for the batch: what FCM now has, and clean unless changed again meanwhile."""
    values = ", ".join(["(%s, %s::varchar[], %s)"] * len(rows))
    params: list = []
    for row in rows:
        params += [row["pk"], desired[row["pk"]], row["topics_version"]]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Device._meta.db_table} AS d SET subscribed_topics = v.topics, "
            "topics_dirty = (d.topics_version <> v.version), topics_claimed_at = NULL "
            f"FROM (VALUES {values}) AS v(id, topics, version) WHERE d.id = v.id", params)
