"""Celery tasks for disaster operations: family notices (避難完了のお知らせ), contact confirmations,
CAP alert pushes. Each is idempotent: a redelivered task sends nothing twice."""
from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from superapp.celery import app
from tenants.selectors import current_municipality

from .models import Alert, CheckIn, EmergencyContact, FamilyNotice


def _base_url() -> str:
    municipality = current_municipality()
    host = municipality.primary_host if municipality else settings.PLATFORM_DOMAIN
    port = f":{settings.PLATFORM_PUBLIC_PORT}" if settings.PLATFORM_PUBLIC_PORT else ""
    return f"{settings.PLATFORM_SCHEME}://{host}{port}"


@app.task(name="shelters.tasks.send_contact_confirmations", acks_late=True)
def send_contact_confirmations(items: list[list]) -> int:
    """items: [contact_id, raw_token] pairs, sent right after the contacts were saved."""
    municipality = current_municipality()
    sent = 0
    for contact_id, raw_token in items:
        contact = EmergencyContact.objects.select_related("user").filter(pk=contact_id, confirmed_at__isnull=True,
                                                                         confirmation_sent_at__isnull=True).first()
        if contact is None:
            continue
        context = {"contact": contact, "municipality": municipality,
                   "link": f"{_base_url()}/contacts/confirm/{raw_token}/",
                   "nickname": contact.user.nickname or "住民"}
        send_mail(
            subject=f"【{municipality.name if municipality else ''}】緊急連絡先の確認 / Please confirm",
            message=render_to_string("shelters/email/confirm_contact.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[contact.email],
        )
        EmergencyContact.objects.filter(pk=contact.pk).update(confirmation_sent_at=timezone.now())
        sent += 1
    return sent


@app.task(name="shelters.tasks.send_family_notices", acks_late=True,
          autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_family_notices(check_in_ids: list[int]) -> int:
    """Emails each confirmed emergency contact of the checked-in residents, once per check-in and contact."""
    municipality = current_municipality()
    sent = 0
    for check_in in CheckIn.objects.filter(pk__in=check_in_ids, resident__isnull=False).select_related(
            "opening__shelter", "resident"):
        contacts = EmergencyContact.objects.filter(user_id=check_in.resident_id, confirmed_at__isnull=False)
        for contact in contacts:
            with transaction.atomic():
                notice, _ = FamilyNotice.objects.select_for_update().get_or_create(check_in=check_in, contact=contact)
                if notice.sent_at is not None:
                    continue
                context = {"check_in": check_in, "shelter": check_in.opening.shelter, "contact": contact,
                           "municipality": municipality,
                           "checked_in_at": timezone.localtime(check_in.checked_in_at)}
                send_mail(
                    subject=f"【{municipality.name if municipality else ''}】避難完了のお知らせ / Arrived at a shelter",
                    message=render_to_string("shelters/email/family_notice.txt", context),
                    from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[contact.email],
                )
                notice.sent_at = timezone.now()
                notice.save(update_fields=["sent_at"])
                sent += 1
    return sent


@app.task(name="shelters.tasks.push_alert", acks_late=True)
def push_alert(alert_id: int) -> int | None:
    """Pushes an active CAP alert to the residents of its districts (or everyone), once."""
    from .push import alert_push

    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(pk=alert_id, pushed_at__isnull=True).first()
        if alert is None or not alert.is_active:
            return None
        notification_id = alert_push(alert)
        alert.pushed_at = timezone.now()
        alert.push_notification_id = notification_id
        alert.save(update_fields=["pushed_at", "push_notification_id"])
    return notification_id
