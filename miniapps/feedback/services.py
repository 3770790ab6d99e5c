"""Writes for feedback: a resident sends it, staff answer (by e-mail too when a reply address was given)."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from miniapps.selectors import catalog_known_ids
from superapp.api.errors import ApiError

from .models import Feedback


def feedback_submit(*, user: User, category: str, text: str, miniapp_id: str = "", reply_email: str = "") -> Feedback:
    text = text.strip()
    if not text:
        raise ApiError("validation_error", fields={"text": ["本文を入力してください / Please write something"]})
    if miniapp_id and not catalog_known_ids({miniapp_id}):
        raise ApiError("validation_error", fields={"miniapp": [
            f"不明なミニアプリです: {miniapp_id} / Unknown mini-app: {miniapp_id}"]})
    return Feedback.objects.create(resident=user, category=category, text=text, miniapp_id=miniapp_id,
                                   reply_email=reply_email.strip())


@transaction.atomic
def feedback_reply(*, feedback: Feedback, text: str, acting_user: User) -> Feedback:
    """Records the answer the resident sees in the app; e-mails it when a reply address was given.
    Answering again replaces the answer (and e-mails the new one)."""
    text = text.strip()
    if not text:
        raise ApiError("validation_error", fields={"text": ["回答を入力してください / The answer is empty"]})
    feedback.reply = text
    feedback.status = Feedback.Status.ANSWERED
    feedback.replied_by = acting_user
    feedback.replied_at = timezone.now()
    feedback.save(update_fields=["reply", "status", "replied_by", "replied_at"])
    audit_record(actor=acting_user, action="feedback.replied", target=feedback,
                 data={"emailed": bool(feedback.reply_email)})
    if feedback.reply_email:
        from .tasks import send_feedback_reply

        send_feedback_reply.delay_on_commit(feedback.pk, feedback.replied_at.isoformat())
    return feedback
