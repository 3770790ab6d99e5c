"""The console in a real browser: Debian's Chromium driven by Playwright against the real WSGI app.

Runs in `make test`. Skipped (with the reason) only when Chromium is missing and cannot be
installed. The server runs in another thread with its own database connection, so the data the
browser writes is committed; each test notes what existed and removes the rest afterwards (through
a connection of its own, outside the test's transaction). A failing test leaves a full-page
screenshot in test-artifacts/.
"""
from __future__ import annotations

import re
from datetime import datetime

import pyotp
import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import AuditEvent, District, StaffTotp, User
from accounts.roles import Role
from tests.base import TEST_PASSWORD

from .browser import (ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LiveServer, ensure_chromium, ensure_htmx,
                      in_own_connection)


@pytest.fixture(scope="module")
def wsgi_server(tenants_pair):
    server = LiveServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium_available():
    reason = ensure_chromium()
    if reason:
        pytest.skip(reason)
    ensure_htmx()


def _snapshot(tenants) -> dict:
    marks = {}
    for tenant in tenants:
        with schema_context(tenant.schema_name):
            marks[tenant.schema_name] = (
                AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0,
                District.objects.order_by("-id").values_list("id", flat=True).first() or 0,
                dict(User.objects.filter(kind=User.Kind.STAFF).values_list("id", "last_login")),
            )
    return marks


def _restore(marks: dict) -> None:
    for schema_name, (audit_mark, district_mark, last_logins) in marks.items():
        with schema_context(schema_name):
            AuditEvent.objects.filter(id__gt=audit_mark).delete()
            District.objects.filter(id__gt=district_mark).delete()
            StaffTotp.objects.all().delete()
            Session.objects.all().delete()
            for user_id, last_login in last_logins.items():
                User.objects.filter(pk=user_id).update(last_login=last_login)


@pytest.fixture
def committed(saga, kanzaki):
    """The browser's writes are real commits (the server thread has its own connection): note what
    exists before the test and put it back afterwards, through a connection of our own."""
    marks = in_own_connection(_snapshot, (saga, kanzaki))
    yield
    in_own_connection(_restore, marks)


@pytest.fixture
def page(chromium_available, wsgi_server, committed, request):
    """A tablet-sized page in a fresh browser. Playwright's sync API runs an asyncio loop in this
    thread while it lives, and Django then refuses ORM calls here: tests read and write the
    database through `in_own_connection` instead (which also sees the server's commits)."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    context = browser.new_context(locale="ja-JP", viewport={"width": 1024, "height": 768})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.csp_violations = []
    page.on("console", lambda message: page.csp_violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: page.csp_violations.append(f"page error: {error}"))
    page.live = wsgi_server
    try:
        yield page
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
            page.screenshot(path=str(ARTIFACTS / f"{name}-{datetime.now():%H%M%S}.png"), full_page=True)
    finally:
        context.close()
        browser.close()
        playwright.stop()
    assert page.csp_violations == [], page.csp_violations


def sign_in(page, host: str, username: str, password: str = TEST_PASSWORD) -> None:
    page.goto(page.live.url(host, "/console/login/"))
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()


def test_admin_signs_in_and_sees_the_dashboard(page, saga):
    page.goto(page.live.url(saga.host, "/console/dashboard/"))
    assert "/console/login/" in page.url  # not signed in: the login page, remembering where to go
    page.get_by_label("ユーザー名").fill("admin@saga.example")
    page.get_by_label("パスワード").fill(TEST_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(re.compile(r"/console/dashboard/$"))
    assert page.get_by_role("heading", name="ダッシュボード", level=1).is_visible()
    assert page.locator("#stat-residents dd").first.inner_text().startswith("1")
    chart = page.locator("#chart-residents_by_district")
    assert chart.locator("svg[role=img]").is_visible()
    assert chart.get_by_role("table").is_visible()
    assert page.locator("#chart-residents_by_age svg").is_visible()
    # The stylesheet and htmx came from /static/ under the strict CSP (no violations: see fixture).
    assert page.evaluate("typeof window.htmx") == "object"
    # Keyboard: the first Tab reaches the skip link, which leads to the main content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "本文へ移動"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def _district_and_audit(schema_name: str, name: str) -> tuple[int | None, bool]:
    with schema_context(schema_name):
        district_id = District.objects.filter(name=name).values_list("id", flat=True).first()
        audited = AuditEvent.objects.filter(action="district.create", target_id=str(district_id)).exists()
    return district_id, audited


def test_admin_adds_and_renames_a_district_without_a_page_reload(page, saga):
    sign_in(page, saga.host, "admin@saga.example")
    page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="校区").click()
    page.wait_for_url(re.compile(r"/console/districts/$"))
    page.evaluate("window.__sameDocument = true")

    page.get_by_role("button", name="追加").click()  # empty name: a Japanese error, in place
    error = page.locator("#district-panel .errorlist")
    error.wait_for()
    assert "この項目は必須です。" in error.inner_text()
    assert page.get_by_label("校区名").get_attribute("aria-invalid") == "true"

    page.get_by_label("校区名").fill("ブラウザ小学校区")
    page.get_by_label("かな").fill("ぶらうざしょうがっこうく")
    page.get_by_role("button", name="追加").click()
    page.locator("#district-table").get_by_role("cell", name="ブラウザ小学校区", exact=True).wait_for()
    assert page.evaluate("window.__sameDocument") is True  # htmx swapped the panel; no reload
    district_id, audited = in_own_connection(_district_and_audit, saga.schema_name, "ブラウザ小学校区")
    assert district_id is not None and audited

    page.get_by_role("link", name=re.compile("^編集.*ブラウザ小学校区$")).click()
    page.get_by_label("校区名").fill("ブラウザ南小学校区")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(r"/console/districts/$"))
    assert page.get_by_role("status").inner_text().startswith("校区「ブラウザ南小学校区」を更新しました。")
    assert in_own_connection(_district_and_audit, saga.schema_name, "ブラウザ南小学校区")[0] == district_id


def test_role_without_permission_gets_403_on_page_and_post(page, saga):
    sign_in(page, saga.host, f"{Role.TEACHER}@saga.example")
    page.wait_for_url(re.compile(r"/console/$"))
    nav = page.get_by_role("navigation", name="メインメニュー")
    assert nav.get_by_role("link", name="ホーム").is_visible()
    assert nav.get_by_role("link", name="校区").count() == 0 and nav.get_by_role("link", name="職員").count() == 0

    response = page.goto(page.live.url(saga.host, "/console/districts/"))
    assert response.status == 403
    assert response.headers["content-type"].startswith("text/html")
    assert page.get_by_role("heading", name="この操作を行う権限がありません。").is_visible()

    # The form post, sent by the browser with the session cookie and a valid CSRF token, is refused too.
    posted = page.evaluate("""async () => {
        const token = document.cookie.split("; ").find(c => c.startsWith("csrftoken=")).split("=")[1];
        const response = await fetch("/console/districts/", {method: "POST", credentials: "same-origin",
            headers: {"X-CSRFToken": token, "Content-Type": "application/x-www-form-urlencoded"},
            body: new URLSearchParams({name: "不正な校区"})});
        return {status: response.status, type: response.headers.get("content-type"), text: await response.text()};
    }""")
    assert posted["status"] == 403 and posted["type"].startswith("text/html")
    assert "この操作を行う権限がありません。" in posted["text"]
    assert in_own_connection(_district_and_audit, saga.schema_name, "不正な校区") == (None, False)


def test_saga_staff_cannot_sign_in_on_kanzakis_host(page, saga, kanzaki):
    sign_in(page, kanzaki.host, "admin@saga.example")
    assert page.get_by_role("alert").inner_text().startswith("ユーザー名またはパスワードが違います。")
    assert "/console/login/" in page.url
    assert page.goto(page.live.url(kanzaki.host, "/console/")).url.endswith("/console/login/?next=/console/")
    # The same person on their own host signs in (the test's control).
    sign_in(page, saga.host, "admin@saga.example")
    page.wait_for_url(re.compile(r"/console/$"))


def _enrol(schema_name: str, user_id: int, secret: str) -> None:
    with schema_context(schema_name):
        StaffTotp.objects.create(user_id=user_id, secret=secret, confirmed_at=timezone.now())


def test_two_factor_sign_in_and_english_ui(page, saga):
    secret = pyotp.random_base32()
    in_own_connection(_enrol, saga.schema_name, saga.staff[Role.ANALYST].pk, secret)
    sign_in(page, saga.host, f"{Role.ANALYST}@saga.example")
    page.wait_for_url(re.compile(r"/console/login/verify/$"))
    page.get_by_label("確認コード（6桁）").fill("000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.get_by_role("button", name="確認").click()
    assert "確認コードが違うか、期限切れです。" in page.locator(".errorlist").first.inner_text()
    page.get_by_label("確認コード（6桁）").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="確認").click()
    page.wait_for_url(re.compile(r"/console/$"))

    page.get_by_label("表示言語 / Language").select_option("en")
    page.get_by_role("button", name="切り替え").click()
    page.wait_for_url(re.compile(r"/console/$"))
    assert page.locator("html").get_attribute("lang") == "en"
    nav = page.get_by_role("navigation", name="Main menu")
    nav.get_by_role("link", name="Dashboard").click()
    assert page.get_by_role("heading", name="Dashboard", level=1).is_visible()
