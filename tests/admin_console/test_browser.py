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
from datetime import datetime, time, timedelta

import pyotp
import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import AuditEvent, District, StaffTotp, User
from accounts.roles import Role
from tests.base import TEST_PASSWORD
from tests.citizen_id.conftest import SAGA_CARD, enrolled, jpki_session  # noqa: F401 (a fixture)
from tests.notifications.helpers import wait_for
from tests.shelters.conftest import DEMO_CSV
from tests.shelters.test_qr_check_in import _fresh_qr

from .browser import (ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LiveServer, delete_rows_after, ensure_chromium, ensure_htmx,
                      in_own_connection, row_marks)

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


# --- Shelter reception: a citizen ID QR from a USB scanner, a manual entry, a check-out -----------
def _shelter_models() -> tuple[list, list]:
    """What the reception test commits, in the order it can be deleted: (tenant models, public models)."""
    from citizen_id.jpki.models import JpkiCrl, JpkiRevokedCertificate
    from citizen_id.models import CardQr, CitizenCard, CitizenId, EnrollmentChallenge, QrSigningKey
    from shelters.models import CheckIn, Disaster, FamilyNotice, IdempotencyRecord, Shelter, ShelterOpening

    return ([FamilyNotice, IdempotencyRecord, CheckIn, ShelterOpening, Disaster, Shelter,
             CardQr, CitizenCard, CitizenId, EnrollmentChallenge, QrSigningKey],
            [JpkiRevokedCertificate, JpkiCrl])


def _shelter_marks(schema_name: str) -> tuple[dict, dict]:
    tenant_models, public_models = _shelter_models()
    return row_marks(schema_name, tenant_models), row_marks("public", public_models)


def _open_shelter_with_a_citizen(saga, jpki, shelter_mark: int) -> tuple[int, str]:
    """Saga's demo shelters, a flood with the first one open, and the resident enrolled with a card
    (as the app does), all committed. Returns the open shelter's id and name."""
    from django.db import connection

    from citizen_id import testca
    from citizen_id.jpki.services import jpki_crl_load
    from shelters.models import Shelter
    from shelters.services import disaster_open, shelter_open, shelters_import

    connection.set_schema_to_public()
    jpki_crl_load(data=testca.make_crl(jpki.ca, []))
    jpki_crl_load(data=testca.make_crl(jpki.renewed_ca, []))
    with saga.schema():
        report = shelters_import(data=DEMO_CSV.read_bytes())
        assert report.ok, report.errors
        shelter = Shelter.objects.filter(pk__gt=shelter_mark).order_by("id").first()
        disaster = disaster_open(name="令和8年7月豪雨", type="flood", acting_user=saga.staff[Role.DISASTER_STAFF])
        shelter_open(disaster=disaster, shelter=shelter, acting_user=saga.staff[Role.DISASTER_STAFF])
    enrolled(saga, jpki, SAGA_CARD)
    return shelter.pk, shelter.name


def _remove_rows(saga, tenant_marks: dict, public_marks: dict) -> None:
    delete_rows_after(saga.schema_name, tenant_marks)
    delete_rows_after("public", public_marks)


def _check_ins(schema_name: str, shelter_id: int) -> list[tuple]:
    from shelters.models import CheckIn

    with schema_context(schema_name):
        return list(CheckIn.objects.filter(opening__shelter_id=shelter_id).order_by("id").values_list(
            "name", "source", "special_care", "checked_in_by__username", "checked_out_at"))


@pytest.fixture
def open_shelter(saga, jpki_session, settings, committed):
    """An open shelter in an open flood and an enrolled resident, committed for the live server and
    removed afterwards (also when setting it up fails half-way). Yields (shelter id, shelter name)."""
    from citizen_id import signing
    from shelters.models import Shelter

    settings.JPKI_TRUST_ANCHORS = list(jpki_session.anchor_paths)
    signing.clear_caches()  # keys cached by earlier tests belong to rolled-back transactions
    tenant_marks, public_marks = in_own_connection(_shelter_marks, saga.schema_name)
    try:
        yield in_own_connection(_open_shelter_with_a_citizen, saga, jpki_session, tenant_marks[Shelter])
    finally:
        signing.clear_caches()
        in_own_connection(_remove_rows, saga, tenant_marks, public_marks)


def test_shelter_staff_check_in_by_scanned_qr_by_hand_and_check_out(page, saga, open_shelter):
    from playwright.sync_api import expect  # auto-retrying assertions: no sleeps

    shelter_id, shelter_name = open_shelter
    sign_in(page, saga.host, f"{Role.SHELTER_STAFF}@saga.example")
    page.wait_for_url(re.compile(r"/console/$"))
    page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="避難所").click()
    page.wait_for_url(re.compile(r"/console/shelters/$"))
    page.goto(page.live.url(saga.host, f"/console/shelters/{shelter_id}/reception/"))
    expect(page.get_by_role("heading", name=f"{shelter_name} 受付", level=1)).to_be_visible()
    occupancy, evacuees = page.locator("#occupancy"), page.locator("#evacuees")
    expect(occupancy).to_contain_text("避難者 0 人")
    expect(evacuees).to_contain_text("まだ避難者はいません。")

    # A USB (keyboard-wedge) scanner types the QR text into the focused field and presses Enter.
    scan_field = page.get_by_label("市民証QRコード（スキャナーで読み取り）")
    expect(scan_field).to_be_focused()  # focused on arrival: staff scan at once
    qr_text = in_own_connection(_fresh_qr, saga)  # what the resident's app shows
    page.keyboard.type(qr_text)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("佐賀 花子 さんを受け付けました。")
    expect(evacuees.get_by_role("row").filter(has_text="佐賀 花子").filter(has_text="市民証QR")).to_have_count(1)
    expect(occupancy).to_contain_text("避難者 1 人")
    expect(scan_field).to_have_value("")
    expect(scan_field).to_be_focused()  # ready for the next person

    # Someone without the app: the manual form, behind its disclosure.
    page.get_by_text("手入力で受付（アプリのない方）").click()
    manual = page.locator("#manual-form")
    manual.get_by_label("氏名").fill("手入力 太郎")
    manual.get_by_label("ふりがな").fill("てにゅうりょく たろう")
    manual.get_by_label("生年月日（例: 1950-04-01）").fill("1940-02-03")
    manual.get_by_label("性別").select_option("male")
    manual.get_by_label("高齢者 / Elderly").check()
    manual.get_by_role("button", name="受付").click()
    expect(page.get_by_role("status")).to_contain_text("手入力 太郎 さんを受け付けました。")
    expect(occupancy).to_contain_text("避難者 2 人")
    row = evacuees.get_by_role("row").filter(has_text="手入力 太郎")
    expect(row).to_contain_text("手入力 / Manual entry")
    expect(row).to_contain_text("高齢者")

    # Check-out: tick the person (the name is the checkbox's label) and record the departure.
    page.get_by_label("手入力 太郎").check()
    page.get_by_role("button", name="選択した人の退所を記録").click()
    expect(page.get_by_role("status")).to_contain_text("退所を記録しました。")
    expect(occupancy).to_contain_text("避難者 1 人")
    expect(evacuees.get_by_role("row").filter(has_text="手入力 太郎")).to_have_count(0)
    expect(evacuees.get_by_role("row").filter(has_text="佐賀 花子")).to_have_count(1)

    people = in_own_connection(_check_ins, saga.schema_name, shelter_id)
    assert [(name, source, care, by) for name, source, care, by, _out in people] == [
        ("佐賀 花子", "qr", [], f"{Role.SHELTER_STAFF}@saga.example"),
        ("手入力 太郎", "manual", ["elderly"], f"{Role.SHELTER_STAFF}@saga.example")]
    assert people[0][4] is None and people[1][4] is not None


# --- The teacher's morning list: a guardian's absence report, marked seen -------------------------
def _next_school_morning() -> datetime:
    """The next 07:30 in Asia/Tokyo, before the schools' 08:15 cut-off. Never in the past, so the
    session cookie the server sets (from the travelled clock) is not already expired for Chromium."""
    now = timezone.localtime()
    morning = timezone.make_aware(datetime.combine(now.date(), time(7, 30)))
    return morning if morning > now else morning + timedelta(days=1)


def _attendance_models() -> list:
    from accounts.models import User
    from miniapps.attendance.models import (AbsenceReason, AbsenceReport, Announcement, AttendancePolicy,
                                            DailyClassCount, Enrollment, GuardianLink, LinkCode, OutbreakAlert,
                                            School, SchoolClass, SchoolYear, StaffAssignment, Student)

    return [AbsenceReport, DailyClassCount, OutbreakAlert, Announcement, GuardianLink, LinkCode, Enrollment,
            StaffAssignment, SchoolClass, AbsenceReason, Student, School, SchoolYear, AttendancePolicy, User]


def _school_with_a_fever_report(saga) -> tuple[object, int]:
    """A school built as tests/attendance builds it (roster CSV, a linked guardian), and the
    guardian's report through the API: absent today with a fever. Committed."""
    from miniapps.attendance.calendar import fiscal_year_of, today_local
    from tests.attendance.conftest import build_school

    day = today_local()
    world = build_school(saga, fiscal_year=fiscal_year_of(day))
    with saga.schema():
        reason = world.school.reasons.get(label="体調不良").pk
    response = world.client("guardian").post("/api/v1/attendance/reports/", {
        "student": world.students_a[0].pk, "type": "absent", "reason": reason, "date": day.isoformat(),
        "symptoms": ["fever"], "temperature": 38.5, "note": "朝から熱があります"}, format="json")
    assert response.status_code == 201, response.content
    return world, response.json()["id"]


def _report_state(schema_name: str, report_id: int) -> tuple[str, str | None]:
    from miniapps.attendance.models import AbsenceReport

    with schema_context(schema_name):
        report = AbsenceReport.objects.select_related("seen_by").get(pk=report_id)
        return report.status, report.seen_by.username if report.seen_by else None


@pytest.fixture
def school_morning(saga, settings, committed):
    """07:30 on a school day (the whole process travels: the server thread too), a school with two
    classes and a fever report for the first child of 1組, committed and removed afterwards.
    Yields (world, report id)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # five staff accounts
    marks = in_own_connection(row_marks, saga.schema_name, _attendance_models())
    with time_machine.travel(_next_school_morning(), tick=True):
        try:
            yield in_own_connection(_school_with_a_fever_report, saga)
        finally:
            in_own_connection(delete_rows_after, saga.schema_name, marks)


def test_teacher_sees_the_class_list_with_a_fever_report_and_marks_it_seen(page, saga, school_morning):
    from playwright.sync_api import expect

    world, report_id = school_morning
    teacher = world.users["teacher_a"]
    sign_in(page, saga.host, teacher.username)
    page.wait_for_url(re.compile(r"/console/$"))
    page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="出欠連絡").click()
    page.wait_for_url(re.compile(r"/console/attendance/$"))
    classes = page.get_by_role("table")
    class_row = classes.get_by_role("row").filter(has_text="1年1組")
    expect(class_row).to_have_count(1)
    expect(classes.get_by_role("row").filter(has_text="1年2組")).to_have_count(0)  # not this teacher's class
    expect(class_row.get_by_role("cell").nth(3)).to_have_text("1")  # absent today
    class_row.get_by_role("link", name="朝の出欠確認 / Morning list").click()

    page.wait_for_url(re.compile(rf"/console/attendance/classes/{world.class_a.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("1年1組")
    listing = page.locator("main table")
    expect(listing.locator("tbody tr")).to_have_count(5)  # every child of the class, reported or not
    report_row = listing.get_by_role("row").filter(has_text="児童1号")
    for text in ("欠席", "体調不良", "発熱", "38.5℃", "朝から熱があります"):
        expect(report_row).to_contain_text(text)
    expect(page.get_by_role("button", name="未確認1件をすべて確認済みにする / Mark all 1 seen")).to_be_visible()

    report_row.get_by_role("button", name="確認 / Seen").click()
    page.wait_for_url(re.compile(rf"/console/attendance/classes/{world.class_a.pk}/\?date="))
    expect(report_row).to_contain_text("確認済み / Seen")
    expect(report_row.get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("すべて確認済みにする"))).to_have_count(0)
    assert in_own_connection(_report_state, saga.schema_name, report_id) == ("seen", teacher.username)


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
