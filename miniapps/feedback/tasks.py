"""E-mail of a staff answer to the resident's reply address."""
from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail

from superapp.celery import app

from .models import Feedback


@app.task(name="miniapps.feedback.tasks.send_feedback_reply", autoretry_for=(OSError,), retry_backoff=True,
          max_retries=5)
def send_feedback_reply(feedback_id: int, replied_at: str) -> bool:
    """Sends the answer given at `replied_at`. Idempotent per answer: a redelivered task for an
    answer that was since replaced, or already sent, does nothing."""
    feedback = Feedback.objects.filter(pk=feedback_id).first()
    if feedback is None or not feedback.reply_email or feedback.replied_at is None \
            or feedback.replied_at.isoformat() != replied_at:
        return False
    from django.core.cache import cache

    sent_key = f"feedback-reply-sent:{feedback_id}:{replied_at}"
    if not cache.add(sent_key, 1, timeout=7 * 24 * 3600):
        return False
    try:
        send_mail(
            subject=f"ご意見への回答 / Answer to your feedback (#{feedback.pk})",
            message=(f"ご意見をお寄せいただきありがとうございました。\n\n{feedback.reply}\n\n"
                     f"--- お寄せいただいた内容 / Your message ---\n{feedback.text}\n"),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[feedback.reply_email],
        )
    except Exception:
        cache.delete(sent_key)  # not sent: a retry may send it
        raise
    return True
