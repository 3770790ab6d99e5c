"""Console sign-in: password with lockout, optional TOTP second step, idle timeout, CSRF, security
headers, language choice."""
from __future__ import annotations

import time

import pyotp
import pytest
from django.utils import timezone

from accounts.models import AuditEvent, StaffTotp
from accounts.roles import Role
from admin_console.access import SESSION_SEEN_KEY, SESSION_STARTED_KEY
from tests.base import TEST_PASSWORD, TenantApiClient

from .conftest import console_client


def _login(client, username, password=TEST_PASSWORD, next=None, **request):
    data = {"username": username, "password": password, **({"next": next} if next else {})}
    return client.post("/console/login/", data, **request)


def test_sign_in_lands_on_next_and_is_audited(saga):
    client = TenantApiClient(saga.host)
    first = client.get("/console/staff/")
    assert first.status_code == 302 and first["Location"] == "/console/login/?next=/console/staff/"
    response = _login(client, "admin@saga.example", next="/console/staff/")
    assert response.status_code == 302 and response["Location"] == "/console/staff/"
    assert client.get("/console/staff/").status_code == 200
    with saga.schema():
        assert AuditEvent.objects.filter(action="staff.console_login", actor=saga.admin).count() == 1


def test_next_cannot_leave_the_site(saga):
    response = _login(TenantApiClient(saga.host), "admin@saga.example", next="https://evil.example/")
    assert response["Location"] == "/console/"


def test_wrong_password_then_lockout_with_japanese_messages(saga, settings):
    settings.STAFF_LOGIN_MAX_FAILURES = 3
    client = TenantApiClient(saga.host)
    for _ in range(3):
        wrong = _login(client, "teacher@saga.example", "wrong-password", REMOTE_ADDR="10.2.2.2")
        assert wrong.status_code == 400
        assert "ユーザー名またはパスワードが違います。" in wrong.content.decode()
    locked = _login(client, "teacher@saga.example", REMOTE_ADDR="10.2.2.2")  # even the right password
    assert locked.status_code == 429
    assert "一時的にロックされています" in locked.content.decode()
    with saga.schema():
        assert "_auth_user_id" not in client.session
        assert AuditEvent.objects.filter(action="staff.locked_out", data__username="teacher@saga.example").exists()


def test_residents_cannot_sign_in_to_the_console(saga):
    with saga.schema():
        saga.resident.set_password(TEST_PASSWORD)
        saga.resident.save()
    assert _login(TenantApiClient(saga.host), saga.resident.username).status_code == 400


def test_sign_out_is_a_post_and_ends_the_session(saga):
    client = console_client(saga, "admin")
    assert client.get("/console/logout/").status_code == 405
    response = client.post("/console/logout/")
    assert response.status_code == 302 and response["Location"] == "/console/login/"
    assert "ログアウトしました。" in client.get("/console/login/").content.decode()
    assert client.get("/console/").status_code == 302


def test_idle_sessions_end(saga, settings):
    settings.CONSOLE_IDLE_TIMEOUT_SECONDS = 600
    client = console_client(saga, "admin")
    assert client.get("/console/").status_code == 200
    with saga.schema():
        session = client.session
        session[SESSION_SEEN_KEY] = int(time.time()) - 601
        session.save()
    response = client.get("/console/districts/")
    assert response.status_code == 302 and response["Location"] == "/console/login/?next=/console/districts/"
    assert "一定時間操作がなかったため" in client.get("/console/login/").content.decode()
    assert client.get("/console/").status_code == 302  # signed out for good


def test_activity_keeps_the_session_and_its_expiry_moving(saga, settings):
    settings.CONSOLE_IDLE_TIMEOUT_SECONDS = 600
    client = console_client(saga, "admin")
    client.get("/console/")
    with saga.schema():
        session = client.session
        session[SESSION_SEEN_KEY] = int(time.time()) - 300  # idle for 5 minutes: still fine
        session.save()
    assert client.get("/console/").status_code == 200
    with saga.schema():
        session = client.session
        assert session[SESSION_SEEN_KEY] >= int(time.time()) - 2
        assert 590 <= session.get_expiry_age() <= 600  # the database row expires with the idle timeout


def test_sessions_end_after_the_absolute_limit_even_when_active(saga, settings):
    settings.SESSION_COOKIE_AGE = 3600
    client = console_client(saga, "admin")
    client.get("/console/")
    with saga.schema():
        session = client.session
        session[SESSION_STARTED_KEY] = int(time.time()) - 3601
        session.save()
    assert client.get("/console/").status_code == 302


# --- Two-factor -----------------------------------------------------------------------------------
def _enrol(tenant, user) -> str:
    secret = pyotp.random_base32()
    with tenant.schema():
        StaffTotp.objects.create(user=user, secret=secret, confirmed_at=timezone.now())
    return secret


def test_enrolment_shows_an_inline_svg_qr_and_confirms_with_a_code(saga):
    client = console_client(saga, "admin")
    page = client.get("/console/account/").content.decode()
    assert "2段階認証を設定する" in page
    assert client.post("/console/account/", {"action": "begin"}).status_code == 302
    page = client.get("/console/account/").content.decode()
    assert '<svg width="' in page and 'class="segno"' in page and "<img" not in page
    with saga.schema():
        device = StaffTotp.objects.get(user=saga.admin)
    assert device.secret in page and not device.is_confirmed
    wrong = client.post("/console/account/", {"action": "confirm", "code": "12345"})
    assert wrong.status_code == 400 and "確認コードが違うか、期限切れです。" in wrong.content.decode()
    right = client.post("/console/account/", {"action": "confirm", "code": pyotp.TOTP(device.secret).now()})
    assert right.status_code == 302
    with saga.schema():
        device.refresh_from_db()
        assert device.is_confirmed
        assert AuditEvent.objects.filter(action="staff.2fa_enabled", actor=saga.admin).exists()
    assert "2段階認証を無効にする" in client.get("/console/account/").content.decode()
    # Turning it off needs a current code too (a fresh step: each code works once).
    with saga.schema():
        StaffTotp.objects.filter(pk=device.pk).update(last_used_step=0)
    assert client.post("/console/account/", {"action": "disable", "code": "000000"}).status_code == 400
    off = client.post("/console/account/", {"action": "disable", "code": pyotp.TOTP(device.secret).now()})
    assert off.status_code == 302
    with saga.schema():
        assert not StaffTotp.objects.filter(user=saga.admin).exists()


def test_sign_in_with_two_factor(saga):
    secret = _enrol(saga, saga.staff[Role.ANALYST])
    client = TenantApiClient(saga.host)
    first = _login(client, "analyst@saga.example", next="/console/dashboard/")
    assert first.status_code == 302 and first["Location"] == "/console/login/verify/"
    with saga.schema():
        assert "_auth_user_id" not in client.session  # not signed in after the password alone
    assert client.get("/console/dashboard/").status_code == 302
    wrong = client.post("/console/login/verify/", {"code": "000000" if pyotp.TOTP(secret).now() != "000000" else "999999"})
    assert wrong.status_code == 400 and "確認コードが違うか、期限切れです。" in wrong.content.decode()
    code = pyotp.TOTP(secret).now()
    # Full-width digits typed with a Japanese IME are accepted.
    full_width = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    done = client.post("/console/login/verify/", {"code": full_width})
    assert done.status_code == 302 and done["Location"] == "/console/dashboard/"
    assert client.get("/console/dashboard/").status_code == 200


def test_a_totp_code_works_only_once(saga):
    secret = _enrol(saga, saga.staff[Role.ANALYST])
    code = pyotp.TOTP(secret).now()
    first = TenantApiClient(saga.host)
    _login(first, "analyst@saga.example")
    assert first.post("/console/login/verify/", {"code": code}).status_code == 302
    replay = TenantApiClient(saga.host)
    _login(replay, "analyst@saga.example")
    assert replay.post("/console/login/verify/", {"code": code}).status_code == 400


def test_wrong_codes_count_towards_the_lockout(saga, settings):
    settings.STAFF_LOGIN_MAX_FAILURES = 3
    _enrol(saga, saga.staff[Role.ANALYST])
    client = TenantApiClient(saga.host)
    _login(client, "analyst@saga.example", REMOTE_ADDR="10.3.3.3")
    for _ in range(3):
        client.post("/console/login/verify/", {"code": "000001"}, REMOTE_ADDR="10.3.3.3")
    locked = client.post("/console/login/verify/", {"code": "000002"}, REMOTE_ADDR="10.3.3.3")
    assert locked.status_code == 429
    again = _login(TenantApiClient(saga.host), "analyst@saga.example", REMOTE_ADDR="10.3.3.3")
    assert again.status_code == 429


def test_the_code_step_expires(saga):
    _enrol(saga, saga.staff[Role.ANALYST])
    client = TenantApiClient(saga.host)
    _login(client, "analyst@saga.example")
    with saga.schema():
        session = client.session
        session["console_2fa_pending"]["at"] -= 301
        session.save()
    response = client.get("/console/login/verify/")
    assert response.status_code == 302 and response["Location"] == "/console/login/"
    assert "確認コードの入力時間が過ぎました" in client.get("/console/login/").content.decode()


def test_the_code_step_without_a_password_goes_to_the_login_page(saga):
    assert TenantApiClient(saga.host).get("/console/login/verify/")["Location"] == "/console/login/"


def test_an_admin_can_reset_a_lost_authenticator(saga):
    _enrol(saga, saga.staff[Role.ANALYST])
    client = console_client(saga, "admin")
    path = f"/console/staff/{saga.staff[Role.ANALYST].pk}/"
    assert "2段階認証を解除" in client.get(path).content.decode()
    assert client.post(f"{path}reset-2fa/").status_code == 302
    with saga.schema():
        assert not StaffTotp.objects.filter(user=saga.staff[Role.ANALYST]).exists()
        assert AuditEvent.objects.filter(action="staff.2fa_reset", actor=saga.admin).exists()


# --- Headers, CSRF, language ------------------------------------------------------------------------
def test_security_headers_on_console_pages(saga):
    for response in (TenantApiClient(saga.host).get("/console/login/"),
                     console_client(saga, "admin").get("/console/dashboard/"),
                     console_client(saga, Role.TEACHER).get("/console/staff/")):
        csp = response["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert "no-store" in response["Cache-Control"]
        assert "camera" not in response["Permissions-Policy"]  # left for the shelter QR scanner
    session_cookie = console_client(saga, "admin")
    response = _login(TenantApiClient(saga.host), "admin@saga.example")
    assert response.cookies["sessionid"]["httponly"] and response.cookies["sessionid"]["samesite"] == "Lax"
    assert session_cookie  # (client kept for symmetry)


def test_csrf_is_enforced_with_an_html_page(saga):
    client = TenantApiClient(saga.host, enforce_csrf_checks=True)
    response = client.post("/console/login/", {"username": "admin@saga.example", "password": TEST_PASSWORD})
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert "ページの有効期限が切れました" in response.content.decode()
    api = TenantApiClient(saga.host, enforce_csrf_checks=True).post("/api/v1/auth/token/", {}, format="json")
    assert api["Content-Type"].startswith("application/json")  # the API is untouched


def test_language_switch_and_accept_language_is_ignored(saga):
    client = TenantApiClient(saga.host)
    ja = client.get("/console/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert '<html lang="ja">' in ja.content.decode() and "ログイン" in ja.content.decode()
    switched = client.post("/console/language/", {"language": "en", "next": "/console/login/"})
    assert switched.status_code == 302 and switched["Location"] == "/console/login/"
    en = client.get("/console/login/")
    html = en.content.decode()
    assert '<html lang="en">' in html and "Sign in" in html and en["Content-Language"] == "en"
    errors = client.post("/console/login/", {"username": "", "password": ""}).content.decode()
    assert "This field is required." in errors
    client.post("/console/language/", {"language": "ja", "next": "/console/login/"})
    assert "ログイン" in client.get("/console/login/").content.decode()


def test_english_catalogue_is_compiled():
    """`make messages` (compilemessages) must have run: the English UI depends on it."""
    from pathlib import Path

    from django.conf import settings

    po = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    assert mo.exists(), "run `make messages` (python manage.py compilemessages)"
    assert mo.stat().st_mtime >= po.stat().st_mtime, "django.po changed: run `make messages` again"


@pytest.mark.parametrize("path", ["/console/nowhere/", "/console/staff/abc/"])
def test_console_404s_are_html(saga, path):
    response = console_client(saga, "admin").get(path)
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    assert "見つかりません。" in response.content.decode()
