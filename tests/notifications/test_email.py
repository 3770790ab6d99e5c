"""The email channel: templated Japanese mail through Django's SMTP backend into the SMTP sink."""
from __future__ import annotations

import email
import socket
from email.policy import default as default_policy

import pytest
from django.utils import timezone

from notifications.models import OutboundEmail
from notifications.services import email_deliver, email_send
from notifications.smtp_sink import start as start_sink


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def sink(tmp_path, settings):
    port = _free_port()
    controller = start_sink(port=port, directory=tmp_path / "mail")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
    settings.DEFAULT_FROM_EMAIL = "no-reply@saga.example"
    yield tmp_path / "mail"
    controller.stop()


def _mails(directory):
    return [email.message_from_bytes(path.read_bytes(), policy=default_policy) for path in sorted(directory.glob("*.eml"))]


def test_a_family_notice_arrives_in_japanese(saga, sink, django_capture_on_commit_callbacks):
    with saga.schema(), django_capture_on_commit_callbacks() as callbacks:
        outbound = email_send(to=["kazoku@example.jp"], template="family_notice", context={
            "resident_name": "佐賀 花子", "shelter_name": "勧興小学校 体育館", "shelter_address": "佐賀市大財3丁目",
            "checked_in_at": timezone.now()})
    assert len(callbacks) == 1, "the send task is scheduled on commit"
    assert outbound.subject == "【佐賀市】佐賀 花子さんが勧興小学校 体育館に避難しました"
    with saga.schema():
        assert email_deliver(email_id=outbound.pk) == "sent"
        assert email_deliver(email_id=outbound.pk) == "sent", "a second run sends nothing more"
        assert OutboundEmail.objects.get(pk=outbound.pk).sent_at is not None
    [mail] = _mails(sink)
    assert str(mail["Subject"]).strip() == outbound.subject  # decoded from its MIME encoded-words
    assert mail["To"] == "kazoku@example.jp" and mail["From"] == "no-reply@saga.example"
    body = mail.get_content()
    assert "佐賀 花子さんが" in body and "佐賀市大財3丁目" in body and "checked in at 勧興小学校 体育館" in body


def test_smtp_down_keeps_the_mail_pending_for_a_retry(saga, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _free_port()  # nothing listens
    with saga.schema():
        outbound = email_send(to=["a@example.jp"], template="notice", context={"title": "お知らせ", "body": "本文"})
        assert email_deliver(email_id=outbound.pk) == "pending"
        outbound.refresh_from_db()
        assert outbound.attempts == 1 and "ConnectionRefused" in outbound.error


def test_unknown_templates_and_empty_recipients_are_refused(saga):
    with saga.schema():
        with pytest.raises(ValueError):
            email_send(to=["a@example.jp"], template="nope", context={})
        with pytest.raises(Exception) as error:
            email_send(to=[], template="notice", context={"title": "t", "body": "b"})
        assert getattr(error.value, "code", None) == "validation_error"


def test_the_smtp_sink_command_writes_each_mail_to_the_directory(tmp_path):
    import smtplib
    import subprocess
    import sys
    import time

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "manage.py", "smtp_sink", "--port", str(port), "--dir", str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert "SMTP sink on" in proc.stdout.readline()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.sendmail("a@example.jp", ["b@example.jp"], "Subject: hello\r\n\r\nbody\r\n")
        deadline = time.monotonic() + 10
        while not list(tmp_path.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.05)
        [path] = tmp_path.glob("*.eml")
        assert b"Subject: hello" in path.read_bytes() and b"X-Sink-Rcpt-To: b@example.jp" in path.read_bytes()
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
