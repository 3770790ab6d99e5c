"""The console in a real browser: Debian's Chromium driven by Playwright against the real WSGI app.

Runs in `make test`. Skipped (with the reason) only when Chromium is missing and cannot be
installed. The server runs in another thread with its own database connection, so the data the
browser writes is committed; each test notes what existed and removes the rest afterwards (through
a connection of its own, outside the test's transaction). A failing test leaves a full-page
screenshot in test-artifacts/.
"""
from __future__ import annotations

import os
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
from tests.notifications.helpers import wait_for

from .browser import (ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LiveServer, ensure_chromium, ensure_htmx,
                      in_own_connection)

# Pushes in the browser test go through the same fake FCM server (real HTTP, the real firebase-admin
# code path) as the pipeline tests: their fixtures, imported.
from tests.notifications.conftest import _fake_fcm_server, fake_fcm  # noqa: E402,F401


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


# --- Sending a notification to a district --------------------------------------------------------
PUSH_QUEUE = f"test-browser-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
PUSH_DISASTER_QUEUE = f"{PUSH_QUEUE}-disaster"
PUSH_NICKNAME = "ブラウザ配信テスト"
PUSH_DISTRICT = "ブラウザ配信校区"


def _close_task_connections(**_kwargs) -> None:
    """After each task, in the worker's thread: its database connection is not left open (the test
    database is dropped at the end of the session, and the live server's connection must live on)."""
    from django.db import connections

    connections.close_all()


@pytest.fixture
def push_worker(fake_fcm, settings, django_db_blocker):
    """A real Celery worker thread on queues of this test process, as in tests/notifications: the
    live server's requests enqueue the dispatch on commit and the worker sends through the fake FCM
    server (no CELERY_TASK_ALWAYS_EAGER here)."""
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    from superapp.celery import app as celery_app
    from tests.notifications.conftest import _purge

    settings.CELERY_DISASTER_QUEUE = PUSH_DISASTER_QUEUE
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 0.2
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = PUSH_QUEUE
    task_postrun.connect(_close_task_connections, weak=False)
    try:
        with django_db_blocker.unblock():
            _purge(PUSH_QUEUE, PUSH_DISASTER_QUEUE)
            with start_worker(celery_app, pool="solo", perform_ping_check=False,
                              queues=[PUSH_DISASTER_QUEUE, PUSH_QUEUE], shutdown_timeout=20) as running:
                yield running
    finally:
        task_postrun.disconnect(_close_task_connections)
        celery_app.conf.task_default_queue = previous


def _push_residents(schema_name: str) -> dict:
    """Three phones in the district (two residents) and one elsewhere, registered through the
    service, which has the worker subscribe them to their FCM topics."""
    from accounts.services import district_create, resident_create
    from notifications.services import device_register

    with schema_context(schema_name):
        district = district_create(name=PUSH_DISTRICT)
        elsewhere = district_create(name=f"{PUSH_DISTRICT}（外）")
        tokens = {"in": [], "out": []}
        for index, (where, phones) in enumerate([(district, 2), (district, 1), (elsewhere, 1)]):
            user = resident_create(nickname=f"{PUSH_NICKNAME}{index}", district=where).token.user
            for phone in range(phones):
                token = f"browser-push-{index}-{phone}"
                device_register(user=user, token=token, platform="android")
                tokens["in" if where == district else "out"].append(token)
        return {"district_id": district.pk, **tokens}


def _topics_synced(schema_name: str) -> bool:
    from notifications.models import Device

    with schema_context(schema_name):
        return not Device.objects.filter(user__nickname__startswith=PUSH_NICKNAME, topics_dirty=True).exists()


def _push_cleanup(schema_name: str) -> None:
    from notifications.models import Device, Notification

    with schema_context(schema_name):
        Notification.objects.all().delete()
        Device.objects.filter(user__nickname__startswith=PUSH_NICKNAME).delete()
        User.objects.filter(nickname__startswith=PUSH_NICKNAME).delete()


@pytest.fixture
def push_residents(committed, push_worker, saga):
    data = in_own_connection(_push_residents, saga.schema_name)
    wait_for(lambda: in_own_connection(_topics_synced, saga.schema_name), message="topic subscriptions synced")
    yield data
    in_own_connection(_push_cleanup, saga.schema_name)


def _latest_notification(schema_name: str) -> dict | None:
    from notifications.models import Notification

    with schema_context(schema_name):
        return Notification.objects.order_by("-pk").values("pk", "status", "audience", "created_by__username").first()


def test_disaster_staff_sends_a_notification_to_a_district(push_residents, page, saga, fake_fcm):
    # push_residents first: the worker starts before Playwright (its start closes connections, which
    # Django refuses inside the asyncio loop Playwright runs in this thread).
    sign_in(page, saga.host, f"{Role.DISASTER_STAFF}@saga.example")
    page.wait_for_url(re.compile(r"/console/$"))
    page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="お知らせ配信").click()
    page.wait_for_url(re.compile(r"/console/notifications/$"))
    page.get_by_role("link", name="新しいお知らせを作成").click()
    page.wait_for_url(re.compile(r"/console/notifications/new/$"))
    page.evaluate("window.__sameDocument = true")

    page.get_by_label("件名").fill("大雨の避難情報")
    page.get_by_label("本文").fill("ブラウザ配信校区に避難指示が出ました。最寄りの避難所へ。")
    size = page.locator("#audience-size")
    assert "配信対象を選ぶと" in size.inner_text()
    page.get_by_label(PUSH_DISTRICT, exact=True).check()  # the live audience size follows (htmx)
    page.locator("#audience-size", has_text="住民 2 人・端末 3 台").wait_for()
    assert "トピック配信" in size.inner_text()
    page.get_by_label("65歳以上").check()  # narrower: nobody of the two gave a birth year
    page.locator("#audience-size", has_text="住民 0 人・端末 0 台").wait_for()
    page.get_by_label("65歳以上").uncheck()
    page.locator("#audience-size", has_text="住民 2 人・端末 3 台").wait_for()
    assert page.evaluate("window.__sameDocument") is True  # no reload: htmx swapped the figure in place

    page.get_by_role("button", name="送信・予約する").click()
    page.wait_for_url(re.compile(r"/console/notifications/\d+/$"))
    assert "「大雨の避難情報」の送信を開始しました。" in page.get_by_role("status").first.inner_text()
    page.evaluate("window.__detailDocument = true")
    # The stats panel reloads itself while sending; the worker sends through the fake FCM server.
    page.locator("#notification-stats .badge.ok").wait_for(timeout=60_000)
    assert page.locator("#stat-targeted").inner_text() == "3"
    assert page.locator("#stat-sent").inner_text() == "3"
    assert page.locator("#stat-failed").inner_text() == "0"
    assert page.locator("#stat-topic-messages").inner_text() == "1"
    assert page.evaluate("window.__detailDocument") is True

    notification = in_own_connection(_latest_notification, saga.schema_name)
    assert notification["status"] == "sent" and notification["audience"] == {"districts": [push_residents["district_id"]]}
    assert notification["created_by__username"] == f"{Role.DISASTER_STAFF}@saga.example"
    delivered = [line for line in fake_fcm.log() if line["data"].get("notification_id") == str(notification["pk"])]
    assert sorted(line["token"] for line in delivered) == sorted(push_residents["in"])
    assert {line["topic"] for line in delivered} == {f"saga.d{push_residents['district_id']}.disaster"}
