"""Fixtures for console tests: a signed-in console client per tenant and role."""
from __future__ import annotations

import pytest

from tests.base import TenantApiClient, TenantFixture


def staff_user(tenant: TenantFixture, who: str):
    return tenant.admin if who == "admin" else tenant.staff[who]


def console_client(tenant: TenantFixture, who: str | None = None, *, host: str | None = None) -> TenantApiClient:
    """A browser-like client on `host` (default: the tenant's own), signed in as `who` of `tenant`
    ("admin" or a role name) through a session in that tenant's schema, or anonymous."""
    client = TenantApiClient(host or tenant.host)
    if who is not None:
        with tenant.schema():
            client.force_login(staff_user(tenant, who))
    return client


@pytest.fixture
def console():
    return console_client


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item, so browser fixtures can screenshot failures."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
