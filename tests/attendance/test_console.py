"""Attendance console pages: the teacher's morning list, school view, board, CSV export, roster
import, settings and alerts; role checks and the other municipality's staff."""
from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from accounts.roles import Role
from miniapps.attendance.models import AbsenceReport, School, StaffAssignment
from tests.base import TEST_PASSWORD

from .conftest import roster_csv


def _login(tenant, user) -> Client:
    """A console session stored in the municipality's own schema, as signing in there creates."""
    client = Client(HTTP_HOST=tenant.host)
    with tenant.schema():
        client.force_login(user)
        session = client.session
        session["console_started_at"] = session["console_seen_at"] = int(time.time())
        session.save()
    return client


def _console(world, who) -> Client:
    user = world.users.get(who) or (world.tenant.admin if who == "admin" else world.tenant.staff[who])
    return _login(world.tenant, user)


def _report(world, **extra):
    with world.tenant.schema():
        reason = world.school.reasons.get(label="体調不良").pk
    body = {"student": world.students_a[0].pk, "type": "absent", "reason": reason, "date": "2026-06-03",
            "symptoms": ["fever"], "temperature": 38.5, **extra}
    response = world.client("guardian").post("/api/v1/attendance/reports/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_teachers_morning_list_and_marking_all_seen(world):
    report = _report(world)
    client = _console(world, "teacher_a")
    page = client.get(f"/console/attendance/classes/{world.class_a.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "児童1号" in html and "発熱" in html and "38.5" in html
    assert "未確認1件" in html
    response = client.post(f"/console/attendance/classes/{world.class_a.pk}/?date=2026-06-03")
    assert response.status_code == 302
    with world.tenant.schema():
        assert AbsenceReport.objects.get(pk=report["id"]).status == "seen"
    home = client.get("/console/attendance/").content.decode()
    assert "1年1組" in home and "1年2組" not in home


def test_single_report_seen_from_the_console(world):
    report = _report(world)
    response = _console(world, "teacher_a").post(f"/console/attendance/reports/{report['id']}/seen/")
    assert response.status_code == 302
    assert _console(world, "teacher_b").post(f"/console/attendance/reports/{report['id']}/seen/").status_code == 404


@pytest.mark.parametrize("who,status", [("teacher_b", 404), ("principal", 200), ("nurse", 200), ("admin", 200),
                                        (Role.ANALYST, 403), ("board", 403)])
def test_morning_list_roles(world, who, status):
    assert _console(world, who).get(f"/console/attendance/classes/{world.class_a.pk}/").status_code == status


def test_anonymous_goes_to_the_login_page(world):
    response = Client(HTTP_HOST=world.tenant.host).get(f"/console/attendance/classes/{world.class_a.pk}/")
    assert response.status_code == 302 and "/console/login/" in response["Location"]


def test_school_view_board_and_csv_export(world):
    _report(world)
    assert "児童1号" in _console(world, "nurse").get(f"/console/attendance/schools/{world.school.pk}/").content.decode()
    assert _console(world, "teacher_a").get(f"/console/attendance/schools/{world.school.pk}/").status_code == 404
    board = _console(world, "board")
    page = board.get("/console/attendance/board/?date=2026-06-03").content.decode()
    assert "saga第一小学校" in page and "児童1号" not in page
    export = board.get("/console/attendance/board/export.csv?start=2026-06-01&end=2026-06-30")
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    text = export.content.decode("utf-8-sig").splitlines()
    assert text[0].startswith("日付,学校コード,学校名,学年,組,在籍,欠席")
    assert text[1].startswith("2026-06-03,S001,saga第一小学校,1,1組,5,1,0,0,0,1")
    assert board.get("/console/attendance/board/export.csv?start=2026-06-30&end=2026-06-01").status_code == 400
    for who in ("teacher_a", "principal"):
        assert _console(world, who).get("/console/attendance/board/").status_code == 403
        assert _console(world, who).get("/console/attendance/board/export.csv?start=2026-06-01&end=2026-06-02") \
            .status_code == 403


def test_roster_import_page_reports_bad_lines_and_imports_good_files(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    board = _console(world, "board")
    bad = "学校コード,年度,学年,組,出席番号,児童生徒番号,氏名\nS001,2026,1,3組,1,X1,\n".encode("cp932")
    response = board.post("/console/attendance/roster/", {"file": SimpleUploadedFile("r.csv", bad)})
    assert response.status_code == 400 and "2行目 氏名" in response.content.decode()
    good = roster_csv("S001", {"3組": ("", 2)}, code_prefix="N")
    response = board.post("/console/attendance/roster/", {"file": SimpleUploadedFile("r.csv", good)})
    assert response.status_code == 200 and "児童生徒 新規2" in response.content.decode()
    assert _console(world, "principal").get("/console/attendance/roster/").status_code == 403


def test_school_settings_by_the_principal(world):
    client = _console(world, "principal")
    url = f"/console/attendance/schools/{world.school.pk}/settings/"
    assert client.get(url).status_code == 200
    form = {"action": "settings", "s-name": "佐賀第一小", "s-name_en": "Saga Daiichi", "s-phone": "0952-11-2222",
            "s-cutoff_time": "08:00", "s-cutoff_message": "8時を過ぎたらお電話を", "s-cutoff_message_en": "",
            "s-past_days_allowed": "3", "s-future_days_allowed": "30", "s-notify_guardian_on_seen": "on"}
    assert client.post(url, form).status_code == 302
    reasons = {"action": "reasons", "r-reasons": "体調不良 | Unwell\n通院 | Hospital\n出席停止 | Suspension"}
    assert client.post(url, reasons).status_code == 302
    with world.tenant.schema():
        school = School.objects.get(pk=world.school.pk)
        assert (school.name, school.cutoff_time.strftime("%H:%M"), school.past_days_allowed) == ("佐賀第一小", "08:00", 3)
        assert list(school.reasons.filter(is_active=True).values_list("label", flat=True)) == \
            ["体調不良", "通院", "出席停止"]
        assert school.reasons.filter(label="忌引", is_active=False).exists()
    # The nurse reads the settings but cannot change them; a teacher of the school cannot open them.
    assert _console(world, "nurse").post(url, form).status_code == 403
    assert _console(world, "teacher_a").get(url).status_code == 404


def test_assigning_a_nurse_needs_the_teacher_role(world, saga):
    from accounts.services import staff_create

    with saga.schema():
        staff_create(username="kango@saga.example", password=TEST_PASSWORD, roles=[Role.TEACHER])
        staff_create(username="jimu@saga.example", password=TEST_PASSWORD, roles=[Role.ANALYST])
    client = _console(world, "principal")
    url = f"/console/attendance/schools/{world.school.pk}/settings/"
    assert client.post(url, {"action": "assign", "a-username": "kango@saga.example", "a-position": "nurse"}) \
        .status_code == 302
    refused = client.post(url, {"action": "assign", "a-username": "jimu@saga.example", "a-position": "nurse"})
    assert refused.status_code == 400
    with saga.schema():
        assert StaffAssignment.objects.filter(user__username="kango@saga.example", position="nurse").exists()
        assert not StaffAssignment.objects.filter(user__username="jimu@saga.example").exists()


def test_link_code_sheet_shows_codes_once(world):
    client = _console(world, "teacher_a")
    page = client.post(f"/console/attendance/classes/{world.class_a.pk}/link-codes/",
                       {"student": [str(s.pk) for s in world.students_a[:2]]}).content.decode()
    codes = re.findall(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", page)
    assert len(codes) == 2
    linked = world.client("stranger").post("/api/v1/attendance/links/", {"code": codes[1]}, format="json")
    assert linked.status_code == 201 and linked.json()["id"] == world.students_a[1].pk


def test_alert_pages_and_policy(world):
    from .conftest import link

    with world.tenant.schema():
        link(world.users["guardian"], world.students_a[1])
    _report(world, symptoms=["influenza"])
    _report(world, student=world.students_a[1].pk, symptoms=["influenza"])
    principal = _console(world, "principal")
    listing = principal.get("/console/attendance/alerts/").content.decode()
    assert "1年1組" in listing and "40.0%" in listing
    with world.tenant.schema():
        from miniapps.attendance.models import OutbreakAlert

        alert = OutbreakAlert.objects.get()
    assert "児童2号" in principal.get(f"/console/attendance/alerts/{alert.pk}/").content.decode()
    assert _console(world, "teacher_b").get(f"/console/attendance/alerts/{alert.pk}/").status_code == 404
    assert principal.post(f"/console/attendance/alerts/{alert.pk}/").status_code == 302
    home = principal.get("/console/attendance/").content.decode()
    assert "学級閉鎖の検討" in home
    admin = _console(world, "admin")
    policy = {"outbreak_threshold_percent": "30", "outbreak_min_absent": "3", "outbreak_quiet_days": "2",
              "infection_symptoms": ["fever", "influenza"], "retention_fiscal_years": "2", "link_code_ttl_days": "14"}
    assert admin.post("/console/attendance/policy/", policy).status_code == 302
    assert principal.get("/console/attendance/policy/").status_code == 403


def test_console_pages_of_another_municipality_are_not_reachable(world, kanzaki):
    """A Kanzaki teacher's console session means nothing on Saga's host, and Saga's ids mean
    nothing on Kanzaki's."""
    _report(world)
    foreign = _login(kanzaki, kanzaki.staff[Role.TEACHER])
    foreign.defaults["HTTP_HOST"] = world.tenant.host
    response = foreign.get(f"/console/attendance/classes/{world.class_a.pk}/")
    assert response.status_code == 302 and "/console/login/" in response["Location"]
    own = _login(kanzaki, kanzaki.staff[Role.TEACHER])
    assert own.get(f"/console/attendance/classes/{world.class_a.pk}/").status_code == 404
    assert _login(kanzaki, kanzaki.admin).get(f"/console/attendance/schools/{world.school.pk}/settings/") \
        .status_code == 404
