"""The platform console at /platform/ on the bare platform host: operators (public-schema users)
list municipalities with their size and activity, onboard new ones, suspend and resume them."""
from __future__ import annotations

import io
import re

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import AuditEvent, User
from admin_console.platform.services import platform_operator_create
from tenants import hostcache
from tenants.models import Municipality
from tests.base import TEST_PASSWORD, TenantApiClient, assert_num_queries, delete_public_user

PLATFORM_HOST = "localhost"


@pytest.fixture
def operator(tenants_pair, db):
    connection.set_schema_to_public()
    return platform_operator_create(username="ops@platform.example", password=TEST_PASSWORD)


def operator_client(user) -> TenantApiClient:
    client = TenantApiClient(PLATFORM_HOST)
    client.force_login(user)  # the session lives in the public schema, like the operator
    return client


@pytest.fixture
def restore_host_cache():
    """Suspending changes a municipality inside the test's transaction; the process-wide host cache
    may keep that copy after the rollback, so it is emptied afterwards."""
    yield
    hostcache.clear()


def test_operators_sign_in_and_are_audited_in_the_public_schema(operator):
    client = TenantApiClient(PLATFORM_HOST)
    assert client.get("/platform/")["Location"] == "/platform/login/?next=/platform/"
    response = client.post("/platform/login/", {"username": "ops@platform.example", "password": TEST_PASSWORD,
                                                "next": "/platform/"})
    assert response.status_code == 302 and response["Location"] == "/platform/"
    assert AuditEvent.objects.filter(action="platform.operator_login", actor=operator).exists()


def test_municipality_staff_cannot_sign_in_on_the_platform(saga, operator):
    response = TenantApiClient(PLATFORM_HOST).post("/platform/login/", {"username": "admin@saga.example",
                                                                        "password": TEST_PASSWORD})
    assert response.status_code == 400 and "ユーザー名またはパスワードが違います。" in response.content.decode()
    # Nor does a Saga console session mean anything here.
    from .conftest import console_client

    saga_session = console_client(saga, "admin", host=PLATFORM_HOST)
    assert saga_session.get("/platform/").status_code == 302


def test_a_public_user_who_is_not_an_operator_gets_403(operator):
    someone = User.objects.create_user(username="someone", password=TEST_PASSWORD, kind=User.Kind.STAFF)
    response = operator_client(someone).get("/platform/")
    assert response.status_code == 403 and response["Content-Type"].startswith("text/html")
    post = operator_client(someone).post("/platform/municipalities/412104/suspend/")
    assert post.status_code == 403
    assert Municipality.objects.get(code="412104").is_active


def test_the_list_shows_size_residents_and_last_activity_in_constant_queries(saga, kanzaki, operator):
    client = operator_client(operator)
    client.get("/platform/")
    # search_path, session, operator, municipalities, their domains, schema sizes, residents and
    # last activity of every schema (one UNION ALL query, whatever the number of municipalities)
    with assert_num_queries(7):
        response = client.get("/platform/")
    html = response.content.decode()
    assert response.status_code == 200
    row = html[html.index('id="municipality-412015"'):]
    row = row[: row.index("</tr>")]
    assert "佐賀市" in row and "saga.localhost" in row and "有効" in row
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert cells[0] == "1"  # one resident in the fixture
    assert re.match(r"[\d.]+\s(KB|MB)", cells[1].replace("\xa0", " ")), cells[1]
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", row)  # last activity (token use, audit rows)
    with saga.schema():
        from accounts.services import resident_create

        for _ in range(3):
            resident_create()
    client.get("/platform/")
    with assert_num_queries(7):
        html = client.get("/platform/").content.decode()
    row = html[html.index('id="municipality-412015"'):]
    assert re.findall(r'<td class="num">([^<]*)</td>', row)[0] == "4"


def test_suspend_and_resume(saga, kanzaki, operator, restore_host_cache):
    client = operator_client(operator)
    assert kanzaki.client("resident").get("/api/v1/me/").status_code == 200
    response = client.post("/platform/municipalities/412104/suspend/")
    assert response.status_code == 302
    assert Municipality.objects.get(code="412104").status == Municipality.Status.SUSPENDED
    assert kanzaki.client("resident").get("/api/v1/me/").json()["error"]["code"] == "municipality_suspended"
    assert saga.client("resident").get("/api/v1/me/").status_code == 200  # only Kanzaki
    assert "停止中" in client.get("/platform/").content.decode()
    assert AuditEvent.objects.filter(action="platform.municipality_suspended", actor=operator).exists()
    assert client.post("/platform/municipalities/412104/resume/").status_code == 302
    assert kanzaki.client("resident").get("/api/v1/me/").status_code == 200
    assert client.get("/platform/municipalities/412104/suspend/").status_code == 405
    assert client.post("/platform/municipalities/999999/suspend/").status_code == 404


def test_onboarding_form_shows_japanese_field_errors(saga, operator):
    client = operator_client(operator)
    response = client.post("/platform/onboard/", {"code": "412016", "name": "", "domain": "bad host",
                                                  "admin_email": "nope"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "この項目は必須です。" in html and "有効なメールアドレスを入力してください。" in html
    taken = client.post("/platform/onboard/", {"code": "412023", "name": "唐津市", "domain": "saga.localhost",
                                               "admin_email": "admin@karatsu.example"})
    assert taken.status_code == 400 and "ドメインsaga.localhostは他の自治体が使用しています" in taken.content.decode()


@pytest.fixture
def committed(django_db_blocker, tenants_pair):
    """Onboarding creates a schema (DDL, committed): remove what the test created."""
    created: list[str] = []
    with django_db_blocker.unblock():
        yield created
        connection.set_schema_to_public()
        for municipality in Municipality.objects.filter(code__in=created):
            municipality.domains.all().delete()
            municipality.delete(force_drop=True)
        AuditEvent.objects.filter(action__startswith="platform.").delete()
        delete_public_user("ops-onboard@platform.example")
        hostcache.clear()


def test_onboarding_creates_the_municipality_and_invites_its_admin(committed, django_capture_on_commit_callbacks):
    committed.append("412023")
    connection.set_schema_to_public()
    operator = platform_operator_create(username="ops-onboard@platform.example", password=TEST_PASSWORD)
    client = operator_client(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/platform/onboard/", {
            "code": "412023", "name": "唐津市", "name_en": "Karatsu City", "prefecture": "佐賀県",
            "domain": "karatsu.localhost", "admin_email": "admin@karatsu.example"})
    assert response.status_code == 302, re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode())
    assert response["Location"] == "/platform/"
    listing = client.get("/platform/").content.decode()
    assert "唐津市（412023）を登録しました" in listing and "karatsu.localhost" in listing
    assert AuditEvent.objects.filter(action="platform.municipality_onboarded", actor=operator).exists()

    # The first admin sets a password through the emailed link on the new host, then signs in.
    message = mail.outbox[-1]
    assert message.to == ["admin@karatsu.example"]
    path = re.search(r"http://karatsu\.localhost(/console/set-password/\S+/)", message.body).group(1)
    karatsu = TenantApiClient("karatsu.localhost")
    form_url = karatsu.get(path)["Location"]
    done = karatsu.post(form_url, {"password": "karatsu-castle-2026", "password_again": "karatsu-castle-2026"})
    assert done.status_code == 302
    signed_in = karatsu.post("/console/login/", {"username": "admin@karatsu.example",
                                                 "password": "karatsu-castle-2026"})
    assert signed_in.status_code == 302 and karatsu.get("/console/staff/").status_code == 200


def test_create_platform_operator_command(db, tenants_pair):
    connection.set_schema_to_public()
    out = io.StringIO()
    call_command("create_platform_operator", "--username", "ops2@platform.example", "--password", TEST_PASSWORD,
                 stdout=out)
    assert "created" in out.getvalue()
    user = User.objects.get(username="ops2@platform.example")
    assert user.is_staff and user.kind == User.Kind.STAFF and user.check_password(TEST_PASSWORD)
    with pytest.raises(CommandError, match="taken"):
        call_command("create_platform_operator", "--username", "OPS2@platform.example", "--password", TEST_PASSWORD)
    with pytest.raises(CommandError, match="短すぎます"):
        call_command("create_platform_operator", "--username", "ops3", "--password", "short")
    with pytest.raises(CommandError, match="required"):
        call_command("create_platform_operator", "--username", "ops4", "--password", "")


def test_platform_account_page_offers_two_factor(operator):
    html = operator_client(operator).get("/platform/account/").content.decode()
    assert "2段階認証を設定する" in html and 'href="/platform/"' in html


# --- Every platform route: who gets what --------------------------------------------------------------
PLATFORM_ROUTES = [
    # path, answers GET, form post (None: none), queries for an operator's GET
    ("/platform/", True, None, 7),
    ("/platform/onboard/", True, {"code": "1"}, 3),  # search_path, session, operator
    ("/platform/account/", True, {"action": "none"}, 4),  # + the operator's authenticator
    ("/platform/municipalities/412104/suspend/", False, {}, None),
    ("/platform/municipalities/412104/resume/", False, {}, None),
]


def test_every_platform_route_is_covered():
    from django.urls import URLPattern

    from admin_console.platform import urls

    names = {pattern.name for pattern in urls.urlpatterns if isinstance(pattern, URLPattern)}
    assert names == {"home", "onboard", "account", "suspend", "resume", "login", "login_verify", "logout",
                     "set_language"}
    for pattern in urls.urlpatterns:
        if pattern.name in {"home", "onboard", "account", "suspend", "resume"}:
            assert getattr(pattern.callback, "platform_operator_only", False), pattern.name


@pytest.mark.parametrize("path, answers_get, post, queries", PLATFORM_ROUTES, ids=[r[0] for r in PLATFORM_ROUTES])
def test_platform_route_access(saga, kanzaki, operator, restore_host_cache, path, answers_get, post, queries):
    def footprint():
        return AuditEvent.objects.count(), list(Municipality.objects.values_list("code", "status"))

    before = footprint()
    anonymous = TenantApiClient(PLATFORM_HOST)
    assert anonymous.get(path)["Location"] == f"/platform/login/?next={path}"
    assert anonymous.post(path, post or {})["Location"] == f"/platform/login/?next={path}"

    outsider = User.objects.create_user(username="not-an-operator", kind=User.Kind.STAFF)
    denied = operator_client(outsider)
    for response in (denied.get(path), denied.post(path, post or {})):
        assert response.status_code == 403 and response["Content-Type"].startswith("text/html")
    assert footprint() == before

    from .conftest import console_client

    municipal_session = console_client(saga, "admin", host=PLATFORM_HOST)
    assert municipal_session.get(path).status_code == 302

    client = operator_client(operator)
    if answers_get:
        client.get(path)
        with assert_num_queries(queries):
            assert client.get(path).status_code == 200
    else:
        assert client.get(path).status_code == 405
    if post is not None:
        assert client.post(path, post).status_code in (200, 302, 400)
