"""Session-wide fixtures: Saga and Kanzaki onboarded through `municipality_onboard`, each with a
resident and one staff member per role, all built through services."""
from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection
from django_redis import get_redis_connection
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.services import resident_create, staff_create, staff_token_issue
from tenants.services import municipality_onboard, tenant_template_prepare

from .base import STAFF_ROLES, TEST_PASSWORD, TenantFixture

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def _build_tenant(*, code: str, name: str, name_en: str, label: str) -> TenantFixture:
    host = f"{label}.{settings.PLATFORM_DOMAIN}"
    result = municipality_onboard(code=code, name=name, name_en=name_en, domain=host,
                                  admin_email=f"admin@{label}.example", admin_password=TEST_PASSWORD,
                                  prefecture="佐賀県")
    with schema_context(result.municipality.schema_name):
        admin = User.objects.get(username=f"admin@{label}.example")
        fixture = TenantFixture(
            municipality=result.municipality, host=host, admin=admin,
            admin_token=staff_token_issue(user=admin, client_ip="127.0.0.1").raw,
            resident=None, resident_token="",  # set below
        )
        issued = resident_create(nickname=f"{name}の住民")
        fixture.resident, fixture.resident_token = issued.token.user, issued.raw
        for role in STAFF_ROLES:
            user = staff_create(username=f"{role}@{label}.example", email=f"{role}@{label}.example",
                                password=TEST_PASSWORD, roles=[role])
            fixture.staff[role] = user
            fixture.staff_tokens[role] = staff_token_issue(user=user, client_ip="127.0.0.1").raw
    return fixture


@pytest.fixture(scope="session")
def tenants_pair(django_db_setup, django_db_blocker) -> tuple[TenantFixture, TenantFixture]:
    with django_db_blocker.unblock():
        tenant_template_prepare()
        saga = _build_tenant(code="412015", name="佐賀市", name_en="Saga City", label="saga")
        kanzaki = _build_tenant(code="412104", name="神埼市", name_en="Kanzaki City", label="kanzaki")
        connection.set_schema_to_public()
    return saga, kanzaki


@pytest.fixture
def saga(tenants_pair, db) -> TenantFixture:
    return tenants_pair[0]


@pytest.fixture
def kanzaki(tenants_pair, db) -> TenantFixture:
    return tenants_pair[1]


@pytest.fixture(autouse=True)
def _reset_schema_and_cache():
    """Every test starts on the public schema with this worker's Redis keys gone (throttles, lockouts),
    and with them the process's copies of the public shelter payloads (see shelters.selectors)."""
    from shelters.selectors import forget_local_copies

    _flush_worker_keys()
    forget_local_copies()
    yield
    connection.set_schema_to_public()


def _flush_worker_keys() -> None:
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    client = get_redis_connection("default")
    keys = list(client.scan_iter(match=f"*:{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
