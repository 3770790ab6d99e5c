"""Every console route × every role: 200 (or the form's answer) where the section allows the role,
an HTML 403 on the page and on its form post where it does not, the login page for anonymous
visitors, and nothing from one municipality's session or account on another's host."""
from __future__ import annotations

import pytest

from accounts.models import AuditEvent, District, User
from tests.base import TenantApiClient

from .conftest import console_client
from .routes import PUBLIC_ROUTES, ROUTES, ROUTES_BY_NAME, WHO, console_route_names

POST_ROUTES = [route for route in ROUTES if route.post is not None]
PERMISSION_DENIED_JA = "この操作を行う権限がありません。"


def _footprint(tenant) -> tuple[int, int, int]:
    with tenant.schema():
        return AuditEvent.objects.count(), District.objects.count(), User.objects.filter(is_active=True).count()


def _assert_html_403(response) -> None:
    assert response.status_code == 403, response.status_code
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    assert PERMISSION_DENIED_JA in response.content.decode()


def test_every_console_route_is_covered():
    assert console_route_names() == set(ROUTES_BY_NAME) | PUBLIC_ROUTES
    for route in ROUTES:
        assert route.section  # decorated with section_required


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_page_by_role(saga, route, who):
    path = route.path(saga)
    response = console_client(saga, who).get(path)
    if not route.allowed(who):
        _assert_html_403(response)
    elif route.get:
        assert response.status_code == 200, (path, response.status_code)
        assert response["Content-Type"].startswith("text/html")
    else:
        assert response.status_code == 405  # a form post only


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("route", POST_ROUTES, ids=lambda route: route.name)
def test_form_post_by_role(saga, route, who):
    path = route.path(saga)
    before = _footprint(saga)
    response = console_client(saga, who).post(path, route.post)
    if route.allowed(who):
        assert response.status_code in (200, 302, 400), (path, response.status_code)
    else:
        _assert_html_403(response)
        assert _footprint(saga) == before  # nothing was written, not even an audit row


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_anonymous_visitors_go_to_the_login_page(saga, route):
    path = route.path(saga)
    before = _footprint(saga)
    client = console_client(saga)
    for response in (client.get(path), client.post(path, route.post or {})):
        assert response.status_code == 302
        assert response["Location"] == f"/console/login/?next={path}"
    assert _footprint(saga) == before


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_a_saga_session_is_nobody_on_kanzakis_host(saga, kanzaki, route):
    """The session cookie of Saga's admin, sent to Kanzaki's host, finds no session there."""
    client = console_client(saga, "admin", host=kanzaki.host)
    path = route.path(kanzaki)
    before = _footprint(kanzaki)
    for response in (client.get(path), client.post(path, route.post or {})):
        assert response.status_code == 302, (path, response.status_code)
        assert response["Location"].startswith("/console/login/")
    assert _footprint(kanzaki) == before
    # Control: the same client on Saga's own host is signed in.
    assert console_client(saga, "admin").get("/console/").status_code == 200


def test_saga_staff_cannot_sign_in_on_kanzakis_host(saga, kanzaki):
    response = TenantApiClient(kanzaki.host).post("/console/login/", {"username": "admin@saga.example",
                                                                      "password": "test-pass-2026-x"})
    assert response.status_code == 400
    assert "ユーザー名またはパスワードが違います。" in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session
    at_home = TenantApiClient(saga.host).post("/console/login/", {"username": "admin@saga.example",
                                                                  "password": "test-pass-2026-x"})
    assert at_home.status_code == 302


def test_object_ids_are_scoped_to_staff_of_this_municipality(saga):
    client = console_client(saga, "admin")
    resident_id = saga.resident.pk
    assert client.get(f"/console/staff/{resident_id}/").status_code == 404  # a resident is not staff
    assert client.post(f"/console/staff/{resident_id}/deactivate/").status_code == 404
    assert client.get("/console/staff/999999/").status_code == 404
    assert client.get("/console/districts/999999/edit/").status_code == 404
    missing = client.get("/console/staff/999999/")
    assert missing["Content-Type"].startswith("text/html") and "見つかりません。" in missing.content.decode()


def test_console_and_platform_are_not_served_on_the_wrong_host(saga):
    on_tenant = console_client(saga, "admin").get("/platform/")
    assert on_tenant.status_code == 404 and on_tenant["Content-Type"].startswith("text/html")
    on_platform = TenantApiClient("localhost").get("/console/")
    assert on_platform.status_code == 404 and on_platform["Content-Type"].startswith("text/html")
    # The API keeps its JSON error shape.
    api = saga.client().get("/api/v1/nothing-here/")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


def test_a_staff_member_without_any_role_is_refused_at_sign_in(saga):
    with saga.schema():
        from accounts.services import staff_create

        staff_create(username="norole@saga.example", password="test-pass-2026-x", roles=[])
    response = TenantApiClient(saga.host).post("/console/login/", {"username": "norole@saga.example",
                                                                   "password": "test-pass-2026-x"})
    assert response.status_code == 403
    assert "この管理画面を使う権限がありません" in response.content.decode()


def test_the_older_staff_required_decorator_still_guards_pages(saga, rf):
    """Kept for pages written before sections existed: same answers as section_required."""
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.cache import SessionStore
    from django.core.exceptions import PermissionDenied

    from admin_console.access import staff_required

    @staff_required("disaster_staff")
    def page(request):
        return "ok"

    def request_as(user):
        request = rf.get("/console/old/")
        request.user, request.session = user, SessionStore()
        return request

    with saga.schema():
        assert page(request_as(saga.staff["disaster_staff"])) == "ok"
        assert page(request_as(saga.admin)) == "ok"
        with pytest.raises(PermissionDenied):
            page(request_as(saga.staff["teacher"]))
        assert page(request_as(AnonymousUser())).status_code == 302
