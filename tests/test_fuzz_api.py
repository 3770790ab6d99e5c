"""Property-based fuzzing of the tenant API from its own OpenAPI schema (schemathesis).

Fails on any 5xx, on a response that does not match the documented schema, on an undocumented
status code, or when a request that violates the schema is accepted. (Schema-valid requests may still
be refused: "   " is a valid string to the schema but a blank name to us.) FUZZ_EXAMPLES raises the number of generated cases per operation (`make fuzz`)."""
from __future__ import annotations

import os
from datetime import timedelta

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from accounts.services import api_token_issue
from superapp.wsgi import application

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))


@pytest.fixture
def tenant_api_schema(saga):
    # Requests go through the real WSGI handler; like Django's test client, keep the test's
    # connection (and its transaction) open across them.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(
            "/api/schema/", application, headers={"Host": saga.host, "Accept": "application/vnd.oai.openapi+json"}
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("tenant_api_schema")


def _excluded(case) -> list:
    """Schema-valid requests may be refused ("   " is a string to the schema, a blank name to us).
    For GETs, negative cases are mostly unknown extra query parameters, which the API ignores as
    HTTP APIs usually do; malformed values of documented parameters are covered by the endpoints'
    own tests (e.g. page/page_size, from/to)."""
    return [positive_data_acceptance, *([negative_data_rejection] if case.method == "GET" else [])]


# The WSGI transport asks for gzip (requests' default headers) but hands back the bytes undecoded;
# the gzipped public payloads are checked in tests/shelters/test_public_payloads.py.
IDENTITY = {"Accept-Encoding": "identity"}


def _fresh_token(tenant, user) -> str:
    with tenant.schema():
        return api_token_issue(user=user, kind=user.kind, ttl=timedelta(hours=1)).raw


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_tenant_api_as_admin(case, saga):
    print("CASE", case.method, case.path, case.body)
    case.call_and_validate(headers={"Host": saga.host, "Authorization": f"Bearer {saga.admin_token}",
                                    **IDENTITY})


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_tenant_api_as_resident(case, saga):
    case.call_and_validate(headers={"Host": saga.host, "Authorization": f"Bearer {_fresh_token(saga, saga.resident)}",
                                    **IDENTITY}, excluded_checks=_excluded(case))
