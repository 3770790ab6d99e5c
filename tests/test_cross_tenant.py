"""Cross-tenant battery: every tenant API operation, called on one municipality's host with the
other municipality's resident, staff or admin token, must answer 401/403/404 in the error shape and
never return data. Routes are discovered from the URL conf, so new endpoints are covered as they land."""
from __future__ import annotations

import json

import pytest

from accounts.roles import Role
from tests.battery import tenant_api_operations

OPERATIONS = tenant_api_operations()
WHO = ["resident", "admin", Role.SHELTER_STAFF, Role.TEACHER]


def test_the_battery_discovers_the_api():
    paths = {op.path_template for op in OPERATIONS}
    assert {"/api/v1/me/", "/api/v1/residents/", "/api/v1/staff/districts/", "/api/v1/auth/token/"} <= paths
    assert len(OPERATIONS) >= 7


def _call(client, operation, body):
    return client.generic(operation.method, operation.path(), json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("direction", ["saga->kanzaki", "kanzaki->saga"])
@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_foreign_token_gets_no_data(tenants_pair, db, operation, who, direction):
    saga, kanzaki = tenants_pair
    home, other = (saga, kanzaki) if direction == "saga->kanzaki" else (kanzaki, saga)
    foreign = home.client(who)
    foreign.defaults["HTTP_HOST"] = other.host  # home's token, other's host
    response = _call(foreign, operation, {"username": f"admin@{other.host.split('.')[0]}.example",
                                          "password": "x", "name": "x"})
    assert response.status_code in (401, 403, 404), (operation, response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] in {"invalid_token", "not_authenticated", "permission_denied", "not_found"}


def test_the_same_tokens_work_at_home(saga):
    """The battery's control: the tokens it uses are valid where they belong."""
    for who in WHO:
        assert saga.client(who).get("/api/v1/me/").status_code == 200
