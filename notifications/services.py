"""Writes for notifications: devices, topic preferences, creating notifications, inbox state, email.

Sending itself (fan-out, chunks, topic messages, topic subscriptions) lives in `pipeline.py` and
runs in Celery tasks; services here only schedule it, on commit.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_has_role
from accounts.services import audit_record
from superapp.api.errors import ApiError

from . import audience as audiences
from .models import (
    ALWAYS_ON_TOPICS, Device, InboxEntry, Notification, NotificationPreference, OutboundEmail, SystemSendKey, Topic,
)
from .roles import TOPIC_SENDER_ROLES
from .tenancy import current_municipality

# FCM registration tokens are URL-safe base64 with ':' separators (about 160 characters today).
TOKEN_RE = re.compile(r"^[A-Za-z0-9_:.\-]{8,1024}$")
DEEP_LINK_RE = re.compile(r"^(/[^\s]*|https://[^\s]+|[a-z][a-z0-9+.-]*://[^\s]*)$")
MAX_SCHEDULE_AHEAD = timedelta(days=366)


# --- topic subscriptions ------------------------------------------------------------------------
def _schedule_topic_sync() -> None:
    from .tasks import sync_topic_subscriptions

    # robust: if the broker is down the change is still committed; the beat's sync picks it up.
    transaction.on_commit(lambda: sync_topic_subscriptions.apply_async(), robust=True)


def _mark_topics_dirty(devices) -> int:
    return devices.update(topics_dirty=True, topics_version=F("topics_version") + 1, topics_claimed_at=None)


def resident_topics_changed(*, user: User) -> None:
    """The resident's district changed: re-sync their devices' district topics."""
    if _mark_topics_dirty(Device.objects.filter(user=user, is_active=True)):
        _schedule_topic_sync()


# --- devices ------------------------------------------------------------------------------------
def _check_token(token: str) -> None:
    if not TOKEN_RE.match(token or ""):
        raise ApiError("invalid_device_token", fields={"token": [
            "FCMの登録トークンの形式ではありません。 / This is not an FCM registration token."]})


@transaction.atomic
def device_register(*, user: User, token: str, platform: str, app_version: str = "",
                    locale: str = "") -> tuple[Device, bool]:
    """Registers the app install's token for `user`. A known token is moved to `user` (the app was
    signed in to another account on this phone), never duplicated. Returns (device, created)."""
    _check_token(token)
    now = timezone.now()
    device = Device.objects.select_for_update().filter(token=token).first()
    if device is None:
        try:
            with transaction.atomic():
                device = Device.objects.create(user=user, token=token, platform=platform, app_version=app_version,
                                               locale=locale, registered_at=now)
        except IntegrityError:  # registered concurrently: move it like any known token
            device = Device.objects.select_for_update().get(token=token)
        else:
            _schedule_topic_sync()
            return device, True
    moved = device.user_id != user.pk or not device.is_active
    device.user = user
    device.platform, device.app_version, device.locale = platform, app_version, locale
    device.registered_at = now
    fields = ["user", "platform", "app_version", "locale", "registered_at"]
    if moved:
        device.is_active, device.deactivated_at, device.deactivated_reason = True, None, ""
        device.topics_dirty, device.topics_version, device.topics_claimed_at = True, device.topics_version + 1, None
        fields += ["is_active", "deactivated_at", "deactivated_reason", "topics_dirty", "topics_version",
                   "topics_claimed_at"]
    device.save(update_fields=fields)
    if moved:
        _schedule_topic_sync()
    return device, False


@transaction.atomic
def device_remove(*, device: Device) -> None:
    """The resident signed out on that phone: stop pushing to it and unsubscribe it from topics."""
    device.is_active, device.deactivated_at, device.deactivated_reason = False, timezone.now(), "removed"
    device.topics_dirty, device.topics_version, device.topics_claimed_at = True, device.topics_version + 1, None
    device.save(update_fields=["is_active", "deactivated_at", "deactivated_reason", "topics_dirty",
                               "topics_version", "topics_claimed_at"])
    _schedule_topic_sync()


def devices_deactivate_unregistered(*, device_ids: list[int]) -> int:
    """FCM says these tokens are gone (UNREGISTERED): it dropped their topics too."""
    if not device_ids:
        return 0
    return Device.objects.filter(pk__in=device_ids, is_active=True).update(
        is_active=False, deactivated_at=timezone.now(), deactivated_reason="unregistered",
        subscribed_topics=[], topics_dirty=False, topics_claimed_at=None)


# --- preferences --------------------------------------------------------------------------------
@transaction.atomic
def notification_preferences_set(*, user: User, muted_topics: list[str]) -> NotificationPreference:
    """Mutes the given topics (disaster cannot be muted) and re-syncs the resident's topics."""
    if always_on := sorted(set(muted_topics) & ALWAYS_ON_TOPICS):
        raise ApiError("validation_error", fields={"muted_topics": [
            f"{', '.join(always_on)} は常に通知されるため、オフにできません。 / "
            f"{', '.join(always_on)} notifications are always on and cannot be muted."]})
    unknown = sorted(set(muted_topics) - set(Topic.values))
    if unknown:
        raise ApiError("validation_error", fields={"muted_topics": [
            f"不明なトピックです: {', '.join(unknown)} / Unknown topics: {', '.join(unknown)}"]})
    muted = sorted(set(muted_topics))
    preference, created = NotificationPreference.objects.select_for_update().get_or_create(
        user=user, defaults={"muted_topics": muted})
    if not created and preference.muted_topics != muted:
        preference.muted_topics = muted
        preference.save(update_fields=["muted_topics", "updated_at"])
        created = True
    if created and _mark_topics_dirty(Device.objects.filter(user=user, is_active=True)):
        _schedule_topic_sync()
    return preference


# --- notifications ------------------------------------------------------------------------------
def _check_sender(user: User, topic: str) -> None:
    roles = TOPIC_SENDER_ROLES.get(topic)
    if roles is None:  # a personal topic (school): only the system sends it
        raise ApiError("permission_denied", status_code=403, message_en=(
            f"{topic} notifications are sent by their mini-app, not from the staff composer."),
            message=f"「{Topic(topic).label.split(' / ')[0]}」の通知はミニアプリから送られます。")
    if not user_has_role(user, *roles):
        raise ApiError("permission_denied", status_code=403, message_en=(
            f"You may not send {topic} notifications (needs one of: {', '.join(roles)})."),
            message=f"「{Topic(topic).label.split(' / ')[0]}」の通知を送る権限がありません。")


def empty_audience_error() -> ApiError:
    return ApiError("empty_audience", fields={"audience": [
        "条件に当てはまる住民がいません。条件を見直してください。 / No resident matches this audience."]})


@transaction.atomic
def notification_create(*, acting_user: User, title: str, body: str, topic: str, audience: dict,
                        priority: str | None = None, deep_link: str = "", send_at=None) -> Notification:
    """Creates a notification and schedules its sending (now, on commit; or by the beat at send_at)."""
    _check_sender(acting_user, topic)
    parsed = audiences.audience_parse(audience)
    if deep_link and not DEEP_LINK_RE.match(deep_link):
        raise ApiError("validation_error", fields={"deep_link": [
            "アプリ内パス（/で始まる）か https:// のURLで指定してください。 / Use an in-app path starting with / "
            "or an https:// URL."]})
    now = timezone.now()
    if send_at is not None:
        if send_at < now - timedelta(minutes=1):
            raise ApiError("validation_error", fields={"send_at": [
                "過去の日時は指定できません。 / send_at is in the past."]})
        if send_at > now + MAX_SCHEDULE_AHEAD:
            raise ApiError("validation_error", fields={"send_at": [
                "予約は1年以内で指定してください。 / Schedule at most a year ahead."]})
    if not audiences.audience_residents(parsed, topic).exists():  # a count would cost seconds city-wide
        raise empty_audience_error()

    scheduled = send_at is not None and send_at > now
    notification = Notification.objects.create(
        title=title, body=body, topic=topic,
        priority=priority or (Notification.Priority.HIGH if topic == Topic.DISASTER else Notification.Priority.NORMAL),
        deep_link=deep_link, audience=parsed.as_json(),
        mode=Notification.Mode.TOPIC if parsed.is_broadcast else Notification.Mode.DEVICE,
        broadcast_everyone=parsed.everyone and parsed.is_broadcast,
        broadcast_districts=list(parsed.districts) if parsed.is_broadcast else [],
        status=Notification.Status.SCHEDULED if scheduled else Notification.Status.QUEUED,
        send_at=send_at, created_by=acting_user,
    )
    audit_record(actor=acting_user, action="notification.create", target=notification,
                 data={"topic": topic, "mode": notification.mode, "audience": notification.audience,
                       "send_at": send_at.isoformat() if send_at else None})
    if not scheduled:
        notification_enqueue(notification=notification)
    return notification


SYSTEM_APP_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_RESERVED_DATA_KEYS = frozenset({"notification_id", "topic", "deep_link"})


def _claim_system_key(*, key: str, app: str) -> bool:
    """Claims an idempotency key in the caller's transaction: False when it was used before (or is
    being used by a transaction that then commits: the insert waits for it on the unique index)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {SystemSendKey._meta.db_table} (key, app, notification_ids, created_at) "
            "VALUES (%s, %s, '{}', now()) ON CONFLICT (key) DO NOTHING RETURNING id", [key, app])
        return cursor.fetchone() is not None


@transaction.atomic
def notification_send_system(*, app: str, user_ids: Iterable[int], title: str, body: str, topic: str,
                             priority: str = Notification.Priority.NORMAL, deep_link: str = "",
                             data: dict[str, str] | None = None, key: str | None = None,
                             include_staff: bool = False) -> list[Notification]:
    """A notification the system sends on its own (a garbage reminder, a report the school has seen,
    an outbreak alert) to an explicit list of users: one message per active device plus an inbox
    item each, through the same pipeline as staff notifications, sending when the caller's
    transaction commits. No staff member acts: `created_by` is empty and the audit row names `app`.

    * Users who muted `topic` are left out (never for disaster); users the list names who are not
      active residents are left out too, and staff unless `include_staff` (e.g. a principal's phone).
    * Lists longer than `audience.MAX_USER_IDS` become one notification per chunk; a chunk that
      reaches nobody (everyone muted it, or left) creates nothing.
    * `key` makes the send idempotent: the same key again creates nothing new and returns [].
      Prefix it with the app (`attendance-seen-12-ja`).
    * `data`: extra string values for the push payload (the app's routing ids).

    Returns the notifications created, each with `recipients` set to the users it reached."""
    if not SYSTEM_APP_RE.match(app):
        raise ValueError(f"app must be a short lowercase label, not {app!r}")
    if topic not in Topic.values:
        raise ValueError(f"unknown topic {topic!r}")
    if priority not in Notification.Priority.values:
        raise ValueError(f"unknown priority {priority!r}")
    if deep_link and (len(deep_link) > 500 or not DEEP_LINK_RE.match(deep_link)):
        raise ValueError(f"deep_link must be an in-app path or a URL of at most 500 characters: {deep_link!r}")
    payload = {str(k): str(v) for k, v in (data or {}).items()}
    if reserved := sorted(_RESERVED_DATA_KEYS & set(payload)):
        raise ValueError(f"data may not set the pipeline's own keys: {', '.join(reserved)}")
    if key is not None and not 0 < len(key) <= 200:
        raise ValueError("key must be 1 to 200 characters")
    ids = sorted({int(user_id) for user_id in user_ids})
    if not ids:
        return []
    if key is not None and not _claim_system_key(key=key, app=app):
        return []

    created: list[Notification] = []
    for start in range(0, len(ids), audiences.MAX_USER_IDS):
        parsed = audiences.Audience(user_ids=tuple(ids[start:start + audiences.MAX_USER_IDS]),
                                    include_staff=include_staff)
        recipients = audiences.audience_size(parsed, topic)["residents"]
        if recipients == 0:
            continue
        notification = Notification.objects.create(
            title=title[:100], body=body[:1000], topic=topic, priority=priority, deep_link=deep_link, data=payload,
            audience=parsed.as_json(), mode=Notification.Mode.DEVICE, status=Notification.Status.QUEUED,
            created_by=None,
        )
        notification.recipients = recipients
        audit_record(actor=None, action="notification.create", target=notification,
                     data={"by": app, "topic": topic, "mode": notification.mode, "recipients": recipients,
                           "key": key, "include_staff": include_staff})
        notification_enqueue(notification=notification)
        created.append(notification)
    if key is not None and created:
        SystemSendKey.objects.filter(key=key).update(notification_ids=[n.pk for n in created])
    return created


def notification_enqueue(*, notification: Notification) -> None:
    """Sends the dispatch task on commit, on the disaster queue for disaster notifications, in the
    schema that is current now (by commit time a caller looping over municipalities may be in
    another one; see `superapp.celery.enqueue_on_commit`)."""
    from .tasks import dispatch, queue_for

    queue = queue_for(notification)
    notification_id = notification.pk
    headers = {"_schema_name": connection.schema_name}
    transaction.on_commit(lambda: dispatch.apply_async((notification_id,), queue=queue, headers=headers),
                          robust=True)


@transaction.atomic
def notification_cancel(*, notification: Notification, acting_user: User) -> Notification:
    _check_sender(acting_user, notification.topic)
    if notification.status != Notification.Status.SCHEDULED:
        raise ApiError("conflict", status_code=409, fields={"status": [
            "予約中の通知のみ取り消せます。 / Only scheduled notifications can be cancelled."]})
    notification.status = Notification.Status.CANCELLED
    notification.save(update_fields=["status"])
    audit_record(actor=acting_user, action="notification.cancel", target=notification)
    return notification


# --- inbox --------------------------------------------------------------------------------------
_INBOX_UPSERT = """
    INSERT INTO {table} (notification_id, user_id, created_at, read_at, opened_at)
    VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (user_id, notification_id) DO UPDATE SET
        read_at = COALESCE({table}.read_at, EXCLUDED.read_at),
        opened_at = COALESCE({table}.opened_at, EXCLUDED.opened_at)
    RETURNING read_at, opened_at
"""


def inbox_mark(*, user: User, notification: Notification, opened: bool = False) -> tuple:
    """Marks an inbox item read (and opened, when the push was tapped). The first time counts.
    For a broadcast this creates the resident's only row for it. Returns (read_at, opened_at)."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_INBOX_UPSERT.format(table=InboxEntry._meta.db_table),
                       [notification.pk, user.pk, now, now, now if opened else None])
        return cursor.fetchone()


# --- email --------------------------------------------------------------------------------------
EMAIL_TEMPLATES = {"notice", "family_notice"}


@transaction.atomic
def email_send(*, to: list[str], template: str, context: dict, acting_user: User | None = None) -> OutboundEmail:
    """Renders `notifications/email/<template>.subject.txt` / `.body.txt` (Japanese first, English
    after) and hands the mail to Django's email backend from a task, on commit."""
    if template not in EMAIL_TEMPLATES:
        raise ValueError(f"unknown email template {template!r}")
    if not to:
        raise ApiError("validation_error", fields={"to": ["宛先がありません。 / No recipient."]})
    municipality = current_municipality()
    full_context = {"municipality_name": getattr(municipality, "name", ""), **context}
    subject = " ".join(render_to_string(f"notifications/email/{template}.subject.txt", full_context).split())
    body = render_to_string(f"notifications/email/{template}.body.txt", full_context)
    email = OutboundEmail.objects.create(to=list(to), template=template, subject=subject[:200], body=body,
                                         created_by=acting_user)
    from .tasks import deliver_email

    email_id = email.pk
    transaction.on_commit(lambda: deliver_email.apply_async((email_id,)), robust=True)
    return email


def email_deliver(*, email_id: int) -> str:
    """Sends one pending email through the configured backend; returns its status afterwards."""
    from django.core.mail import EmailMessage

    with transaction.atomic():
        email = OutboundEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status != OutboundEmail.Status.PENDING:
            return email.status if email else "missing"
        email.attempts += 1
        message = EmailMessage(subject=email.subject, body=email.body, from_email=settings.DEFAULT_FROM_EMAIL,
                               to=email.to)
        try:
            message.send(fail_silently=False)
        except Exception as error:  # SMTP down, refused: keep it pending for the retry
            email.error = f"{type(error).__name__}: {error}"[:300]
            if email.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
                email.status = OutboundEmail.Status.FAILED
            email.save(update_fields=["attempts", "error", "status"])
            return email.status
        email.status, email.sent_at, email.error = OutboundEmail.Status.SENT, timezone.now(), ""
        email.save(update_fields=["attempts", "error", "status", "sent_at"])
        return email.status
