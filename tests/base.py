"""Shared test base: two municipalities built through the real services, a tenant-aware API
client, and a query-count assertion that prints the SQL on mismatch."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from accounts.models import User
from accounts.roles import ALL_ROLES, Role
from tenants.models import Municipality

TEST_PASSWORD = "test-pass-2026-x"


class TenantApiClient(APIClient):
    """An API client bound to one host. After each request the connection's schema is put back,
    so assertions in the test body run where the test put them, not where the request left them."""

    def __init__(self, host: str, token: str | None = None, **kwargs):
        super().__init__(HTTP_HOST=host, **kwargs)
        self.host = host
        if token:
            self.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    def request(self, **request):
        saved_tenant = getattr(connection, "tenant", None)
        saved_schema = connection.schema_name
        try:
            return super().request(**request)
        finally:
            if saved_tenant is not None and getattr(saved_tenant, "schema_name", None) == saved_schema:
                connection.set_tenant(saved_tenant)
            else:
                connection.set_schema(saved_schema)


@dataclass
class TenantFixture:
    """One municipality and its named users, with raw tokens (built once per test session)."""

    municipality: Municipality
    host: str
    admin: User
    admin_token: str
    resident: User
    resident_token: str
    staff: dict[str, User] = field(default_factory=dict)
    staff_tokens: dict[str, str] = field(default_factory=dict)

    @property
    def schema_name(self) -> str:
        return self.municipality.schema_name

    def schema(self):
        """`with saga.schema(): ...` runs ORM code in this municipality's schema."""
        return schema_context(self.schema_name)

    def client(self, who: str | None = None) -> TenantApiClient:
        """who: None (anonymous), "resident", "admin", or a role name (that staff member's token)."""
        token = None
        if who == "resident":
            token = self.resident_token
        elif who == "admin":
            token = self.admin_token
        elif who is not None:
            token = self.staff_tokens[who]
        return TenantApiClient(self.host, token)


STAFF_ROLES = [role for role in ALL_ROLES if role != Role.MUNICIPALITY_ADMIN]


class QueryCountMismatch(AssertionError):
    pass


@contextlib.contextmanager
def assert_num_queries(expected: int):
    """Exact query count; on mismatch the message lists every statement that ran."""
    with CaptureQueriesContext(connection) as captured:
        yield captured
    executed = [q["sql"] for q in captured.captured_queries]
    if len(executed) != expected:
        listing = "\n".join(f"  {i + 1}. {sql}" for i, sql in enumerate(executed))
        raise QueryCountMismatch(f"expected {expected} queries, {len(executed)} ran:\n{listing}")


def delete_public_user(username: str) -> None:
    """Deletes a platform operator (a user in the public schema). The ORM's cascade would look for
    tenant-only tables that reference users (citizen IDs, devices, ...), which do not exist in the
    public schema; the public schema's own references are removed here first."""
    from django.db import connection

    from accounts.models import ApiToken, AuditEvent, User

    users = User.objects.filter(username=username)
    ids = list(users.values_list("pk", flat=True))
    if not ids:
        return
    AuditEvent.objects.filter(actor_id__in=ids).update(actor=None)
    ApiToken.objects.filter(user_id__in=ids)._raw_delete(connection.alias)
    for model in (User.groups.through, User.user_permissions.through):
        model.objects.filter(user_id__in=ids)._raw_delete(connection.alias)
    from accounts.models import StaffTotp

    StaffTotp.objects.filter(user_id__in=ids)._raw_delete(connection.alias)
    users._raw_delete(connection.alias)
