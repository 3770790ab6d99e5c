"""Helpers for the notifications tests: residents and devices built through services and the API."""
from __future__ import annotations

import time
from itertools import count

from accounts.models import District, User
from accounts.services import district_create, resident_create
from tests.base import TenantApiClient

NICKNAME_PREFIX = "通知テスト"
_serial = count(1)


def make_resident(tenant, *, district: District | None = None, interests=(), birth_year: int | None = None,
                  language: str = "ja") -> tuple[User, TenantApiClient]:
    """A resident (through `resident_create`) and an API client signed in as them."""
    with tenant.schema():
        issued = resident_create(nickname=f"{NICKNAME_PREFIX}{next(_serial)}", district=district,
                                 interests=list(interests), birth_year=birth_year, language=language)
    return issued.token.user, TenantApiClient(tenant.host, issued.raw)


def created_users(tenant):
    return User.objects.filter(nickname__startswith=NICKNAME_PREFIX)


def make_district(tenant, name: str) -> District:
    with tenant.schema():
        existing = District.objects.filter(name=name).first()
        return existing or district_create(name=name)


def register(client: TenantApiClient, token: str, platform: str = "android") -> dict:
    response = client.post("/api/v1/devices/", {"token": token, "platform": platform}, format="json")
    assert response.status_code in (200, 201), response.content
    return response.json()


def wait_for(predicate, timeout: float = 30, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
