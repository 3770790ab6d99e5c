"""Guardians link to a child with a one-time code: hashed, expiring, single use, rate-limited."""
from __future__ import annotations

from datetime import datetime

import pytest

from miniapps.attendance.models import GuardianLink, LinkCode
from tests.base import assert_num_queries

from .conftest import JST


def _issue(world, student, who="teacher_a"):
    response = world.client(who).post(f"/api/v1/staff/attendance/students/{student.pk}/link-codes/")
    assert response.status_code == 201, response.content
    return response.json()["code"]


def _link(world, code, who="stranger", **extra):
    return world.client(who).post("/api/v1/attendance/links/", {"code": code}, format="json", **extra)


def test_guardian_links_with_a_code_and_sees_the_child(world):
    code = _issue(world, world.students_a[2])
    response = _link(world, code)
    assert response.status_code == 201, response.content
    child = response.json()
    assert child["id"] == world.students_a[2].pk and child["school_class"]["display_name"] == "1年1組"
    assert child["number"] == 3 and child["school"]["cutoff_time"] == "08:15"
    assert [r["label"] for r in child["school"]["reasons"]] == ["体調不良", "通院", "家庭の事情", "忌引", "その他"]
    assert [c["id"] for c in world.client("stranger").get("/api/v1/attendance/children/").json()] == [child["id"]]


def test_only_a_hash_of_the_code_is_stored(world):
    code = _issue(world, world.students_a[2])
    with world.tenant.schema():
        stored = LinkCode.objects.get(student=world.students_a[2])
        assert code.replace("-", "") not in stored.code_hash and len(stored.code_hash) == 64
        assert stored.created_by_id == world.users["teacher_a"].pk


@pytest.mark.parametrize("typed", ["lower", "fullwidth", "spaces"])
def test_codes_are_forgiving_about_how_parents_type_them(world, typed):
    code = _issue(world, world.students_a[2])
    variants = {"lower": code.lower(), "spaces": code.replace("-", " "),
                "fullwidth": "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in code)}
    assert _link(world, variants[typed]).status_code == 201


def test_a_code_works_once(world):
    code = _issue(world, world.students_a[2])
    assert _link(world, code).status_code == 201
    again = _link(world, code, who="guardian")
    assert again.status_code == 409 and again.json()["error"]["code"] == "attendance_link_code_used"
    with world.tenant.schema():
        assert not GuardianLink.objects.filter(guardian=world.users["guardian"], student=world.students_a[2]).exists()


def test_a_second_guardian_needs_their_own_code(world):
    _link(world, _issue(world, world.students_a[0]), who="guardian_b")
    with world.tenant.schema():
        assert GuardianLink.objects.filter(student=world.students_a[0]).count() == 2
    duplicate = _link(world, _issue(world, world.students_a[0]), who="guardian")
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "attendance_already_linked"


def test_an_expired_code_is_refused(world, clock):
    code = _issue(world, world.students_a[2])
    clock.move_to(datetime(2026, 7, 3, 7, 31, tzinfo=JST))  # default lifetime 30 days
    response = _link(world, code)
    assert response.status_code == 400 and response.json()["error"]["code"] == "attendance_link_code_expired"


@pytest.mark.parametrize("code", ["AAAA-BBBB-CCCC", "short", "", "x" * 41])
def test_wrong_codes_are_400(world, code):
    response = _link(world, code)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"attendance_link_code_invalid", "validation_error"}


def test_guessing_is_rate_limited_per_guardian_and_address(world, settings):
    settings.ATTENDANCE_LINK_MAX_FAILURES = 3
    code = _issue(world, world.students_a[2])
    for _ in range(3):
        assert _link(world, "AAAA-BBBB-CCCC", REMOTE_ADDR="10.0.0.1").status_code == 400
    locked = _link(world, code, REMOTE_ADDR="10.0.0.9")  # even the right code, from another address
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "rate_limited"
    assert locked.json()["error"]["fields"]["retry_after_seconds"]
    # Another resident on the same address is locked too (a script switching accounts).
    assert _link(world, code, who="guardian_b", REMOTE_ADDR="10.0.0.1").status_code == 429
    # Another resident elsewhere is not.
    assert _link(world, code, who="guardian_b", REMOTE_ADDR="10.0.0.2").status_code == 201


@pytest.mark.parametrize("who,status", [(None, 401), ("teacher_a", 403), ("admin", 403)])
def test_only_residents_link(world, who, status):
    assert _link(world, "AAAA-BBBB-CCCC", who=who).status_code == status


def test_unlink(world):
    client = world.client("guardian")
    response = client.delete(f"/api/v1/attendance/children/{world.students_a[0].pk}/")
    assert response.status_code == 204
    assert client.get("/api/v1/attendance/children/").json() == []
    assert client.delete(f"/api/v1/attendance/children/{world.students_a[0].pk}/").status_code == 404
    assert world.client("guardian_b").delete(f"/api/v1/attendance/children/{world.students_a[0].pk}/").status_code \
        == 404


def test_link_query_count(world):
    code = _issue(world, world.students_a[2])
    client = world.client("stranger")
    client.get("/api/v1/attendance/options/")
    # search_path, token, savepoint, code (locked), existing link, insert link, update code, audit,
    # release, children (+ reasons, enrollments)
    with assert_num_queries(12):
        assert client.post("/api/v1/attendance/links/", {"code": code}, format="json").status_code == 201
