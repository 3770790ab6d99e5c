"""Object-level isolation between municipalities: both have schools whose ids coincide (each schema
counts from 1); nothing of one is reachable from the other, by token, by host or by id."""
from __future__ import annotations

import pytest

from miniapps.attendance.models import AbsenceReport

from .conftest import build_school


@pytest.fixture
def both(saga, kanzaki, clock):
    return build_school(saga, code="SG1"), build_school(kanzaki, code="KZ1")


def _report(world):
    with world.tenant.schema():
        reason = world.school.reasons.get(label="体調不良").pk
    response = world.client("guardian").post("/api/v1/attendance/reports/", {
        "student": world.students_a[0].pk, "type": "absent", "reason": reason, "date": "2026-06-03",
        "symptoms": ["fever"]}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_same_ids_in_both_municipalities_stay_apart(both):
    saga_world, kanzaki_world = both
    saga_report, kanzaki_report = _report(saga_world), _report(kanzaki_world)
    # Each guardian sees only their own municipality's report, whatever the ids.
    assert saga_world.client("guardian").get("/api/v1/attendance/reports/").json()["results"][0]["school"]["code"] \
        == "SG1"
    assert kanzaki_world.client("guardian").get("/api/v1/attendance/reports/").json()["results"][0]["school"]["code"] \
        == "KZ1"
    # A Saga token on Kanzaki's host is unknown there, for every kind of object.
    for who in ("guardian", "teacher_a", "principal", "board"):
        client = saga_world.client(who)
        client.defaults["HTTP_HOST"] = kanzaki_world.tenant.host
        for path in (f"/api/v1/attendance/reports/{kanzaki_report['id']}/",
                     f"/api/v1/staff/attendance/classes/{kanzaki_world.class_a.pk}/",
                     f"/api/v1/staff/attendance/schools/{kanzaki_world.school.pk}/",
                     "/api/v1/staff/attendance/board/"):
            response = client.get(path)
            assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token", (who, path)
    # Kanzaki's own teacher of the class with Saga's class id sees Kanzaki's class, not Saga's.
    listed = kanzaki_world.client("teacher_a").get(f"/api/v1/staff/attendance/classes/{kanzaki_world.class_a.pk}/")
    assert listed.json()["school"]["code"] == "KZ1"
    assert {e["reports"][0]["id"] for e in listed.json()["students"] if e["reports"]} == {kanzaki_report["id"]}


def test_a_saga_link_code_does_not_link_in_kanzaki(both):
    saga_world, kanzaki_world = both
    code = saga_world.client("teacher_a").post(
        f"/api/v1/staff/attendance/students/{saga_world.students_a[3].pk}/link-codes/").json()["code"]
    response = kanzaki_world.client("stranger").post("/api/v1/attendance/links/", {"code": code}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "attendance_link_code_invalid"
    assert saga_world.client("stranger").post("/api/v1/attendance/links/", {"code": code},
                                              format="json").status_code == 201


def test_the_board_view_counts_only_its_own_schools(both):
    saga_world, kanzaki_world = both
    _report(saga_world)
    codes = [row["school"]["code"] for row in saga_world.client("board").get("/api/v1/staff/attendance/board/")
             .json()["schools"]]
    assert codes == ["SG1"]
    with kanzaki_world.tenant.schema():
        assert not AbsenceReport.objects.exists()
