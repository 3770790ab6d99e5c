"""Staff device tokens, lockout, role checks, district management."""
from __future__ import annotations

import pytest

from accounts.models import AuditEvent, District
from accounts.roles import Role
from accounts.services import staff_set_roles
from tests.base import STAFF_ROLES, TEST_PASSWORD, TenantApiClient, assert_num_queries


def _token(client, username, password=TEST_PASSWORD, **extra):
    return client.post("/api/v1/auth/token/", {"username": username, "password": password}, format="json", **extra)


def test_staff_token_carries_only_that_staff_members_roles(saga):
    response = _token(saga.client(), "teacher@saga.example")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["roles"] == ["teacher"]
    teacher = TenantApiClient(saga.host, body["token"])
    assert teacher.get("/api/v1/me/").json()["roles"] == ["teacher"]
    denied = teacher.post("/api/v1/staff/districts/", {"name": "新校区"}, format="json")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "permission_denied"


def test_staff_token_is_refused_on_another_municipalitys_host(saga, kanzaki):
    assert _token(kanzaki.client(), "admin@saga.example").status_code == 401


def test_residents_cannot_get_staff_tokens(saga):
    with saga.schema():
        saga.resident.set_password(TEST_PASSWORD)
        saga.resident.save(update_fields=["password"])  # the session-wide object may carry a rolled-back district
    assert _token(saga.client(), saga.resident.username).status_code == 401


def test_lockout_after_repeated_failures(saga, settings):
    settings.STAFF_LOGIN_MAX_FAILURES = 3
    client = saga.client()
    codes = [_token(client, "analyst@saga.example", "wrong-password", REMOTE_ADDR="10.1.1.1").json()["error"]["code"]
             for _ in range(3)]
    assert codes == ["invalid_credentials"] * 3
    locked = _token(client, "analyst@saga.example", REMOTE_ADDR="10.1.1.1")  # even the right password
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "account_locked"
    with saga.schema():
        assert AuditEvent.objects.filter(action="staff.locked_out", data__username="analyst@saga.example").exists()
    # The lock is per name and address: the same person from the office network still signs in.
    assert _token(client, "analyst@saga.example", REMOTE_ADDR="10.1.1.2").status_code == 201


def test_success_resets_the_failure_counter(saga, settings):
    settings.STAFF_LOGIN_MAX_FAILURES = 3
    client = saga.client()
    for _ in range(2):
        _token(client, "analyst@saga.example", "wrong-password")
    assert _token(client, "analyst@saga.example").status_code == 201
    for _ in range(2):
        _token(client, "analyst@saga.example", "wrong-password")
    assert _token(client, "analyst@saga.example").status_code == 201


def test_staff_token_input_validation(saga):
    response = saga.client().post("/api/v1/auth/token/", {"username": "x"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["error"]["fields"]


def test_admin_creates_a_district_and_residents_see_it(saga):
    response = saga.client("admin").post("/api/v1/staff/districts/", {"name": "テスト校区", "kana": "てすと"},
                                         format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["name"] == "テスト校区"
    listed = saga.client().get("/api/v1/districts/").json()
    assert {"id": created["id"], "name": "テスト校区", "kana": "てすと"} in listed
    with saga.schema():
        assert AuditEvent.objects.filter(action="district.create", target_id=str(created["id"])).exists()


def test_duplicate_district_is_409_and_blank_name_400(saga):
    client = saga.client("admin")
    assert client.post("/api/v1/staff/districts/", {"name": "重複"}, format="json").status_code == 201
    duplicate = client.post("/api/v1/staff/districts/", {"name": " 重複 "}, format="json")
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "conflict"
    blank = client.post("/api/v1/staff/districts/", {"name": ""}, format="json")
    assert blank.status_code == 400 and "name" in blank.json()["error"]["fields"]


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_only_admins_manage_districts(saga, role):
    response = saga.client(role).post("/api/v1/staff/districts/", {"name": f"校区-{role}"}, format="json")
    assert response.status_code == 403


def test_residents_and_anonymous_cannot_manage_districts(saga):
    assert saga.client("resident").post("/api/v1/staff/districts/", {"name": "a"}, format="json").status_code == 403
    assert saga.client().post("/api/v1/staff/districts/", {"name": "a"}, format="json").status_code == 401


def test_district_list_query_count_is_constant(saga):
    with saga.schema():
        for index in range(5):
            District.objects.create(name=f"校区{index}")
    client = saga.client()
    client.get("/api/v1/districts/")
    with assert_num_queries(2):  # search_path + one select, however many districts
        assert len(client.get("/api/v1/districts/").json()) >= 5


def test_role_changes_are_audited(saga):
    with saga.schema():
        teacher = saga.staff[Role.TEACHER]
        staff_set_roles(staff=teacher, roles=[Role.TEACHER, Role.SHELTER_STAFF], acting_user=saga.admin)
        event = AuditEvent.objects.get(action="staff.roles_changed", target_id=str(teacher.pk), actor=saga.admin)
        assert event.actor_id == saga.admin.pk
        assert event.data["before"] == ["teacher"]
        assert event.data["after"] == ["shelter_staff", "teacher"]
