"""Teachers' class lists, marking seen, whole-school and board views: who sees what, and how many queries."""
from __future__ import annotations

import pytest

from accounts.roles import Role
from miniapps.attendance.models import AbsenceReport, SchoolClass
from tests.base import STAFF_ROLES, assert_num_queries

from .conftest import build_school, roster_csv


def _reason(world, label="体調不良"):
    with world.tenant.schema():
        return world.school.reasons.get(label=label).pk


def _report(world, who="guardian", student=None, **fields):
    body = {"student": (student or world.students_a[0]).pk, "type": "absent", "reason": _reason(world),
            "date": "2026-06-03"}
    body.update(fields)
    response = world.client(who).post("/api/v1/attendance/reports/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _class_url(school_class, day=None):
    return f"/api/v1/staff/attendance/classes/{school_class.pk}/" + (f"?date={day}" if day else "")


def test_teacher_sees_todays_list_for_their_class(world):
    report = _report(world, symptoms=["fever", "cough"], temperature=38.4, note="病院に行きます")
    body = world.client("teacher_a").get(_class_url(world.class_a)).json()
    assert body["date"] == "2026-06-03" and body["school_class"]["display_name"] == "1年1組"
    assert [entry["number"] for entry in body["students"]] == [1, 2, 3, 4, 5]
    first = body["students"][0]
    assert first["student"]["name"] == "児童1号"
    (listed,) = first["reports"]
    assert listed["id"] == report["id"] and listed["type"] == "absent" and listed["reason"]["label"] == "体調不良"
    assert listed["symptoms"] == ["fever", "cough"] and listed["temperature"] == 38.4
    assert listed["note"] == "病院に行きます" and listed["status"] == "pending"
    assert body["counts"] == {"enrolled": 5, "absent": 1, "late": 0, "early_leave": 0, "other": 0,
                              "infection_absent": 1, "symptoms": {"cough": 1, "fever": 1}}


def test_late_and_early_leave_show_with_expected_times(world):
    from .conftest import link

    with world.tenant.schema():
        link(world.users["guardian"], world.students_a[1])
    _report(world, type="late", reason=_reason(world, "通院"), expected_time="10:15")
    _report(world, student=world.students_a[1], type="early_leave", reason=_reason(world, "家庭の事情"),
            expected_time="13:30")
    body = world.client("teacher_a").get(_class_url(world.class_a)).json()
    assert body["counts"]["late"] == 1 and body["counts"]["early_leave"] == 1
    assert body["students"][0]["reports"][0]["expected_time"] == "10:15"
    assert body["students"][1]["reports"][0]["expected_time"] == "13:30"


def test_class_list_query_count_does_not_grow_with_the_class(saga, clock):
    small = build_school(saga, code="Q05", size=5)
    big = build_school(saga, code="Q30", size=30)
    for world in (small, big):
        from .conftest import link

        with world.tenant.schema():
            for student in world.students_a[1:5]:
                link(world.users["guardian"], student)
        for student in world.students_a[:5]:
            _report(world, student=student, symptoms=["fever"], temperature=38.0)
        client = world.client("teacher_a")
        client.get(_class_url(world.class_a))  # first use of the token records last_used_at
        # search_path, token, roles, scope, class, enrollments, reports, policy
        with assert_num_queries(8):
            body = client.get(_class_url(world.class_a)).json()
        assert len(body["students"]) == len(world.students_a) and body["counts"]["absent"] == 5


def test_a_teacher_asking_for_another_class_gets_404(world):
    response = world.client("teacher_b").get(_class_url(world.class_a))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    missing = world.client("teacher_b").get("/api/v1/staff/attendance/classes/999999/")
    assert missing.json() == response.json()
    assert world.client("teacher_b").get(_class_url(world.class_b)).status_code == 200


@pytest.mark.parametrize("who,status", [("principal", 200), ("nurse", 200), ("admin", 200), ("teacher_a", 200),
                                        ("teacher_b", 404), (Role.TEACHER, 404), ("board", 403), ("resident", 403),
                                        ("guardian", 403), (None, 401)])
def test_class_list_roles(world, who, status):
    response = world.client(who).get(_class_url(world.class_a))
    assert response.status_code == status, response.content
    if status >= 400:
        assert set(response.json()["error"]) == {"code", "message", "message_en", "fields"}


@pytest.mark.parametrize("role", [r for r in STAFF_ROLES if r != Role.TEACHER])
def test_staff_without_the_teacher_role_are_403(world, role):
    response = world.client(role).get(_class_url(world.class_a))
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def test_a_principal_of_another_school_sees_nothing_here(world, saga):
    other = build_school(saga, code="S002")
    assert other.client("principal").get(_class_url(world.class_a)).status_code == 404
    assert other.client("principal").get(f"/api/v1/staff/attendance/schools/{world.school.pk}/").status_code == 404
    assert world.client("principal").get(_class_url(other.class_a)).status_code == 404


def test_bad_date_is_400(world):
    response = world.client("teacher_a").get(_class_url(world.class_a, "2026-13-01"))
    assert response.status_code == 400 and "date" in response.json()["error"]["fields"]


def test_staff_class_index(world):
    _report(world)
    mine = world.client("teacher_a").get("/api/v1/staff/attendance/classes/").json()
    assert [c["display_name"] for c in mine] == ["1年1組"]
    assert mine[0]["enrolled"] == 5 and mine[0]["counts"]["absent"] == 1
    assert mine[0]["homeroom_teachers"] == [{"id": world.users["teacher_a"].pk, "name": "担任 一郎"}]
    assert [c["display_name"] for c in world.client("principal").get("/api/v1/staff/attendance/classes/").json()] \
        == ["1年1組", "1年2組"]
    assert world.client(Role.TEACHER).get("/api/v1/staff/attendance/classes/").json() == []
    client = world.client("principal")
    client.get("/api/v1/staff/attendance/classes/")
    with assert_num_queries(7):  # search_path, token, roles, scope, classes, teachers, counts
        client.get("/api/v1/staff/attendance/classes/")


# --- Marking seen -------------------------------------------------------------------------------
def test_teacher_marks_a_report_seen_and_the_guardian_sees_it(world):
    report = _report(world)
    response = world.client("teacher_a").post(f"/api/v1/staff/attendance/reports/{report['id']}/seen/")
    assert response.status_code == 200 and response.json()["status"] == "seen"
    assert world.client("guardian").get(f"/api/v1/attendance/reports/{report['id']}/").json()["status"] == "seen"
    with world.tenant.schema():
        stored = AbsenceReport.objects.get(pk=report["id"])
        assert stored.seen_by_id == world.users["teacher_a"].pk and stored.seen_at is not None
    again = world.client("teacher_a").post(f"/api/v1/staff/attendance/reports/{report['id']}/seen/")
    assert again.status_code == 200 and again.json()["seen_at"] == response.json()["seen_at"]


def test_marking_another_class_report_is_404_and_withdrawn_is_409(world):
    report = _report(world)
    assert world.client("teacher_b").post(f"/api/v1/staff/attendance/reports/{report['id']}/seen/").status_code == 404
    world.client("guardian").post(f"/api/v1/attendance/reports/{report['id']}/withdraw/")
    response = world.client("teacher_a").post(f"/api/v1/staff/attendance/reports/{report['id']}/seen/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "attendance_report_withdrawn"


def test_mark_the_whole_class_seen(world):
    from .conftest import link

    with world.tenant.schema():
        link(world.users["guardian"], world.students_a[1])
    _report(world)
    _report(world, student=world.students_a[1], date="2026-06-02", end_date="2026-06-04")
    tomorrow_only = _report(world, date="2026-06-05", student=world.students_a[1])
    client = world.client("teacher_a")
    response = client.post(f"/api/v1/staff/attendance/classes/{world.class_a.pk}/seen/", {"date": "2026-06-03"},
                           format="json")
    assert response.json() == {"marked": 2}
    assert client.post(f"/api/v1/staff/attendance/classes/{world.class_a.pk}/seen/", {"date": "2026-06-03"},
                       format="json").json() == {"marked": 0}
    assert world.client("guardian").get(f"/api/v1/attendance/reports/{tomorrow_only['id']}/").json()["status"] == \
        "pending"
    assert world.client("teacher_b").post(f"/api/v1/staff/attendance/classes/{world.class_a.pk}/seen/",
                                          {"date": "2026-06-03"}, format="json").status_code == 404
    bad = client.post(f"/api/v1/staff/attendance/classes/{world.class_a.pk}/seen/", {"date": "today"}, format="json")
    assert bad.status_code == 400


# --- Whole school and board of education ----------------------------------------------------------
def test_principal_and_nurse_see_the_whole_school(world):
    _report(world, symptoms=["influenza"])
    _report(world, who="guardian_b", student=world.students_b[0], type="late", reason=_reason(world, "通院"))
    for who in ("principal", "nurse", "admin"):
        body = world.client(who).get(f"/api/v1/staff/attendance/schools/{world.school.pk}/").json()
        assert body["totals"]["enrolled"] == 10 and body["totals"]["absent"] == 1 and body["totals"]["late"] == 1
        assert body["totals"]["symptoms"] == {"influenza": 1}
        assert [row["school_class"]["display_name"] for row in body["classes"]] == ["1年1組", "1年2組"]
        assert body["grades"] == [{"grade": 1, **body["totals"]}]
        assert {r["student"]["name"] for r in body["reports"]} == {"児童1号", "児童6号"}
    for who, status in (("teacher_a", 404), ("board", 403), ("guardian", 403)):
        assert world.client(who).get(f"/api/v1/staff/attendance/schools/{world.school.pk}/").status_code == status
    assert [s["code"] for s in world.client("nurse").get("/api/v1/staff/attendance/schools/").json()] == ["S001"]
    assert world.client("teacher_a").get("/api/v1/staff/attendance/schools/").json() == []


def test_school_view_query_count_is_constant(world):
    client = world.client("principal")
    url = f"/api/v1/staff/attendance/schools/{world.school.pk}/"
    client.get(url)
    with assert_num_queries(8):  # search_path, token, roles, scope, school, classes, reports, policy
        assert client.get(url).json()["totals"]["absent"] == 0
    _report(world, symptoms=["fever"])
    with assert_num_queries(8):  # search_path, token, roles, scope, school, classes, reports, policy
        assert client.get(url).json()["totals"]["absent"] == 1


def test_board_of_education_sees_every_schools_counts_without_names(world, saga):
    other = build_school(saga, code="S002")
    _report(world, symptoms=["fever"])
    _report(other, symptoms=["fever"])
    _report(other, who="guardian_b", student=other.students_b[0], symptoms=["covid19"])
    body = world.client("board").get("/api/v1/staff/attendance/board/?date=2026-06-03").json()
    by_code = {row["school"]["code"]: row for row in body["schools"]}
    assert by_code["S001"]["absent"] == 1 and by_code["S002"]["absent"] == 2
    assert by_code["S002"]["enrolled"] == 10 and by_code["S002"]["symptoms"] == {"covid19": 1, "fever": 1}
    assert body["totals"]["absent"] == 3 and body["totals"]["enrolled"] == 20
    assert "reports" not in body and "students" not in str(body)
    for who, status in (("admin", 200), ("principal", 403), ("teacher_a", 403), ("analyst", 403),
                        ("guardian", 403), (None, 401)):
        assert world.client(who).get("/api/v1/staff/attendance/board/").status_code == status
    client = world.client("board")
    with assert_num_queries(7):  # search_path, token, roles, scope, schools, enrollments, counts
        client.get("/api/v1/staff/attendance/board/?date=2026-06-03")


def test_link_codes_are_issued_by_the_homeroom_teacher_or_the_school(world):
    student = world.students_a[2]
    response = world.client("teacher_a").post(f"/api/v1/staff/attendance/students/{student.pk}/link-codes/")
    assert response.status_code == 201, response.content
    code = response.json()["code"]
    assert len(code) == 14 and code.count("-") == 2 and response.json()["student"]["id"] == student.pk
    assert world.client("principal").post(f"/api/v1/staff/attendance/students/{student.pk}/link-codes/").status_code \
        == 201
    assert world.client("teacher_b").post(f"/api/v1/staff/attendance/students/{student.pk}/link-codes/").status_code \
        == 404
    assert world.client("guardian").post(f"/api/v1/staff/attendance/students/{student.pk}/link-codes/").status_code \
        == 403


def test_classes_of_an_earlier_year_stay_readable(world, clock):
    """After next April's roster, last year's class keeps its reports for the teacher who had it."""
    from datetime import datetime

    from miniapps.attendance.roster import roster_import

    from .conftest import JST

    report = _report(world)
    clock.move_to(datetime(2027, 4, 6, 7, 0, tzinfo=JST))
    with world.tenant.schema():
        roster_import(data=roster_csv("S001", {"1組": (world.users["teacher_b"].username, 5)}, fiscal_year=2027,
                                      grade=2))
        assert SchoolClass.objects.filter(school=world.school).count() == 3
    world.reissue_tokens()  # staff tokens last 12 hours; the clock moved ten months
    old = world.client("teacher_a").get(_class_url(world.class_a, "2026-06-03")).json()
    assert old["students"][0]["reports"][0]["id"] == report["id"]
    new = world.client("teacher_a").get("/api/v1/staff/attendance/classes/").json()
    assert new == []  # teacher_a has no class in 2027
