"""Onboarding through the service and the management command; suspension; host routing."""
from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from accounts.models import AuditEvent, User
from accounts.roles import ALL_ROLES
from superapp.api.errors import ApiError
from tenants.models import Domain, Municipality
from tenants.services import municipality_onboard, template_is_current
from tests.base import TEST_PASSWORD, TenantApiClient


@pytest.fixture
def committed(django_db_blocker, tenants_pair):
    """Schema creation is DDL outside the test transaction: these tests clean up after themselves."""
    created: list[str] = []
    with django_db_blocker.unblock():
        yield created
        connection.set_schema_to_public()
        for municipality in Municipality.objects.filter(code__in=created):
            municipality.domains.all().delete()
            municipality.delete(force_drop=True)


def test_onboard_clones_the_template_and_creates_an_admin_with_every_role(committed):
    committed.append("412023")
    result = municipality_onboard(code="412023", name="唐津市", name_en="Karatsu City", domain="karatsu.localhost",
                                  admin_email="admin@karatsu.example", admin_password=TEST_PASSWORD)
    assert result.created and result.path == "clone"
    municipality = result.municipality
    assert municipality.schema_name == "karatsu"
    assert schema_exists("karatsu")
    assert municipality.settings["privacy_threshold"] == 10
    assert Domain.objects.get(domain="karatsu.localhost").is_primary
    with schema_context("karatsu"):
        admin = User.objects.get(username="admin@karatsu.example")
        assert admin.check_password(TEST_PASSWORD)
        assert set(admin.groups.values_list("name", flat=True)) == set(ALL_ROLES)
        assert AuditEvent.objects.filter(action="municipality.onboarded").exists()

    # The admin signs in with that email on the new host and holds every role.
    response = TenantApiClient("karatsu.localhost").post(
        "/api/v1/auth/token/", {"username": "admin@karatsu.example", "password": TEST_PASSWORD}, format="json")
    assert response.status_code == 201, response.content
    assert set(response.json()["roles"]) == set(ALL_ROLES)


def test_onboard_is_idempotent(committed):
    committed.append("412031")
    kwargs = dict(code="412031", name="鳥栖市", domain="tosu.localhost", admin_email="admin@tosu.example",
                  admin_password=TEST_PASSWORD)
    assert municipality_onboard(**kwargs).created
    again = municipality_onboard(**kwargs)
    assert not again.created and again.path == "existing"
    assert "既に登録済み" in again.message
    assert Municipality.objects.filter(code="412031").count() == 1


def test_onboard_custom_schema_and_migrate_path(committed, settings):
    committed.append("412040")
    settings.TENANT_CREATION_FAKES_MIGRATIONS = False
    result = municipality_onboard(code="412040", name="多久市", domain="taku-city.localhost", schema_name="taku",
                                  admin_email="admin@taku.example", admin_password=TEST_PASSWORD)
    assert result.path == "migrate" and result.municipality.schema_name == "taku"
    with schema_context("taku"):
        assert User.objects.filter(username="admin@taku.example").exists()


@pytest.mark.parametrize("overrides, field, status", [
    ({"code": "412016"}, "code", 400),                      # bad check digit
    ({"domain": "saga.localhost"}, "domain", 409),          # domain taken by Saga
    ({"domain": "not a host"}, "domain", 400),
    ({"schema_name": "public"}, "schema", 400),
    ({"schema_name": "saga"}, "schema", 409),
    ({"admin_email": "not-an-email"}, "admin_email", 400),
    ({"code": "412015", "domain": "other.localhost"}, "code", 409),  # Saga's code, other domain
])
def test_onboard_refuses_bad_or_conflicting_input(committed, overrides, field, status):
    kwargs = dict(code="412058", name="伊万里市", domain="imari.localhost", admin_email="admin@imari.example",
                  admin_password=TEST_PASSWORD)
    kwargs.update(overrides)
    with pytest.raises(ApiError) as excinfo:
        municipality_onboard(**kwargs)
    assert excinfo.value.status_code == status
    assert field in excinfo.value.fields
    assert not Municipality.objects.filter(code="412058").exists()


def test_weak_admin_password_leaves_nothing_behind(committed):
    with pytest.raises(ApiError) as excinfo:
        municipality_onboard(code="412058", name="伊万里市", domain="imari.localhost",
                             admin_email="admin@imari.example", admin_password="1234")
    assert "password" in excinfo.value.fields
    assert not Municipality.objects.filter(code="412058").exists()
    assert not schema_exists("imari")


def test_onboard_command_and_rerun(committed):
    committed.append("412066")
    out = io.StringIO()
    args = ["--code", "412066", "--name", "武雄市", "--domain", "takeo.localhost",
            "--admin-email", "admin@takeo.example", "--admin-password", TEST_PASSWORD]
    call_command("onboard_municipality", *args, stdout=out)
    assert "登録しました" in out.getvalue() and "takeo" in out.getvalue()
    out = io.StringIO()
    call_command("onboard_municipality", *args, stdout=out)
    assert "already onboarded" in out.getvalue()
    with pytest.raises(CommandError, match="check digit"):
        call_command("onboard_municipality", "--code", "412067", "--name", "x", "--domain", "x.localhost",
                     "--admin-email", "a@x.example", "--admin-password", TEST_PASSWORD)


def test_offboard_suspends_with_403_json_and_keeps_data(committed, tenants_pair):
    committed.append("412074")
    municipality_onboard(code="412074", name="鹿島市", domain="kashima.localhost",
                         admin_email="admin@kashima.example", admin_password=TEST_PASSWORD)
    client = TenantApiClient("kashima.localhost")
    assert client.get("/api/v1/districts/").status_code == 200

    call_command("offboard_municipality", "--code", "412074", stdout=io.StringIO())
    response = client.get("/api/v1/districts/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "municipality_suspended"
    with schema_context("kashima"):
        assert User.objects.filter(username="admin@kashima.example").exists()  # nothing deleted
    directory = TenantApiClient("localhost").get("/api/v1/municipalities/").json()
    assert "412074" not in [row["code"] for row in directory]

    call_command("offboard_municipality", "--code", "412074", "--resume", stdout=io.StringIO())
    assert client.get("/api/v1/districts/").status_code == 200


def test_offboard_unknown_code_is_a_clear_error(db):
    with pytest.raises(CommandError, match="412082"):
        call_command("offboard_municipality", "--code", "412082", stdout=io.StringIO())


def test_template_is_current_after_prepare(tenants_pair, django_db_blocker):
    with django_db_blocker.unblock():
        assert template_is_current()
