"""Console pages: exact and constant query counts, Japanese field errors, escaping of what residents
and staff wrote, htmx partials, the dashboard's charts and small-cell suppression."""
from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.console_dashboard import AGGREGATE_CACHE_KEY, age_band_label
from accounts.models import District, User
from accounts.roles import Role
from accounts.services import audit_record, district_create, resident_create, staff_create, staff_set_roles
from admin_console import dashboard
from notifications import pipeline
from notifications.models import Device, TopicMessage
from notifications.services import notification_create
from tenants import hostcache
from tests.base import TEST_PASSWORD, assert_num_queries
from tests.citizen_id.conftest import _fresh_signing_key_cache, jpki, jpki_session  # noqa: F401

from .conftest import console_client
from .routes import ROUTES_BY_NAME

# Every signed-in console request: SET search_path, the session, the user, the user's roles.
BASE = 4
PAGE_QUERIES = {
    "home": BASE,
    "account": BASE + 1,  # the user's authenticator, if any
    # residents by district × birth year (one pass), the districts; the data platform's widgets read
    # its daily aggregates: active residents, push sent/opened, mini-app ranking, active by age band;
    # active devices (notifications) and verified citizen IDs (citizen_id): one count each
    "dashboard": BASE + 2 + 4 + 2,
    "districts": BASE + 1,
    "district_edit": BASE + 1,
    "staff_list": BASE + 3,  # count, page (with authenticators), roles of the page
    "staff_invite": BASE,
    "staff_detail": BASE + 2,  # the member (with authenticator), their roles
    "audit": BASE + 4,  # staff for the filter, count, page (with actors), action names
    # count, page (with senders), delivery / topic-message / inbox figures of the page, district names
    "notifications": BASE + 6,
    # districts, the mini-app catalog (the residents' interest tags come from the cache after the warm-up)
    "notification_compose": BASE + 2,
    "notification_detail": BASE + 4,  # the notification (with sender), its figures (two), district names
    "miniapps": BASE + 1,  # the catalog's rows (built-in mini-apps come from the registry)
}


def _more_data(tenant) -> None:
    """Enough extra rows that any per-row query would show up in the counts."""
    with tenant.schema():
        districts = [district_create(name=f"追加校区{i}") for i in range(12)]
        residents = [resident_create(nickname=f"住民{i}", district=districts[i % 12], birth_year=1940 + i).token.user
                     for i in range(40)]
        for i, resident in enumerate(residents):
            Device.objects.create(user=resident, token=f"more-data-token-{i}", platform="android",
                                  registered_at=timezone.now())
        audiences = [{"districts": [districts[0].pk, districts[1].pk]}, {"everyone": True}, {"age_bands": ["70-79", "80+"]}]
        for i in range(35):  # more than a page of the list, broadcasts and per-device ones
            notification = notification_create(acting_user=tenant.admin, title=f"追加通知{i}", body="本文",
                                                topic="disaster", audience=audiences[i % 3])
            if notification.mode == "device":
                pipeline.dispatch(notification.pk)  # deliveries and inbox rows (the chunks never run here)
            else:
                TopicMessage.objects.create(notification=notification, fcm_topic=f"more-data.{i}", device_count=3,
                                            status="sent")
        for i in range(25):  # no password: hashing 25 of them would outlast the host cache
            user = User.objects.create_user(username=f"extra{i}@saga.example", kind=User.Kind.STAFF, is_staff=True)
            staff_set_roles(staff=user, roles=[Role.TEACHER, Role.ANALYST][: 1 + i % 2])
        for i in range(60):
            audit_record(actor=tenant.admin, action=f"test.action{i % 7}", data={"i": i})


@pytest.fixture(autouse=True)
def exact_dashboard(settings):
    """Counts and figures here are checked right after data changes: no reuse of the aggregate."""
    settings.CONSOLE_DASHBOARD_CACHE_SECONDS = 0


@pytest.mark.parametrize("name", sorted(PAGE_QUERIES))
def test_query_count_is_exact_and_constant(saga, name):
    route = ROUTES_BY_NAME[name]
    path = route.path(saga)
    client = console_client(saga, "admin")
    assert client.get(path).status_code == 200  # warm-up: starts the session's idle clock
    with assert_num_queries(PAGE_QUERIES[name]):
        assert client.get(path).status_code == 200
    _more_data(saga)
    client.get(path)  # warm again: on a busy machine the host cache (30 s) may expire while data is made
    with assert_num_queries(PAGE_QUERIES[name]):
        assert client.get(path).status_code == 200


def test_htmx_partials_cost_the_same(saga):
    client = console_client(saga, "admin")
    client.get("/console/audit/")
    with assert_num_queries(PAGE_QUERIES["audit"]):
        partial = client.get("/console/audit/?action=staff.", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="audit-results")
    assert partial.status_code == 200
    html = partial.content.decode()
    assert "<html" not in html and "<table>" in html  # just the results, swapped in place


# --- Field errors in Japanese ---------------------------------------------------------------------
@pytest.mark.parametrize("path, data, messages", [
    ("/console/districts/", {"name": ""}, ["この項目は必須です。"]),
    ("/console/districts/", {"name": "   "}, ["この項目は必須です。"]),
    ("/console/districts/", {"name": "x" * 101}, ["この値は 100 文字以下でなければなりません( 101 文字になっています)。"]),
    ("/console/districts/", {"name": "校区A", "sort_order": "-1"}, ["この値は 0 以上でなければなりません。"]),
    ("/console/staff/invite/", {"email": "not-an-email", "roles": []},
     ["有効なメールアドレスを入力してください。", "役割を1つ以上選んでください。"]),
    ("/console/staff/invite/", {"email": "x@example.jp", "roles": ["mayor"]},
     ["正しく選択してください。 mayor は候補にありません。"]),
])
def test_forms_show_field_errors_in_japanese(saga, path, data, messages):
    response = console_client(saga, "admin").post(path, data)
    assert response.status_code == 400
    html = response.content.decode()
    for message in messages:
        assert message in html, html[html.find("errorlist") - 200:][:800]
    assert 'aria-invalid="true"' in html


def test_service_errors_land_on_their_fields_in_japanese(saga):
    client = console_client(saga, "admin")
    with saga.schema():
        district_create(name="既存校区")
    response = client.post("/console/districts/", {"name": "既存校区"})
    assert response.status_code == 400
    assert "校区「既存校区」は既に登録されています。" in response.content.decode()
    duplicate = client.post("/console/staff/invite/", {"email": "Teacher@saga.example", "roles": ["teacher"]})
    assert duplicate.status_code == 400
    assert "このメールアドレスの職員は既に登録されています。" in duplicate.content.decode()


def test_audit_filter_errors_in_japanese(saga):
    response = console_client(saga, "admin").get("/console/audit/?date_from=2026-13-01&date_to=x")
    assert response.status_code == 400
    html = response.content.decode()
    assert "日付を正しく入力してください。" in html
    reversed_range = console_client(saga, "admin").get("/console/audit/?date_from=2026-05-02&date_to=2026-05-01")
    assert "終了日は開始日以降の日付にしてください。" in reversed_range.content.decode()


# --- Escaping -------------------------------------------------------------------------------------
SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'


def test_resident_and_staff_text_is_escaped_everywhere(saga):
    with saga.schema():
        district = district_create(name=f"校区{SCRIPT}")
        issued = resident_create(nickname=IMG, district=district, birth_year=1990)
        audit_record(actor=issued.token.user, action="resident.profile_updated", data={"nickname": IMG,
                                                                                      "note": "</td>" + SCRIPT})
        staff_create(username="xss@saga.example", display_name=SCRIPT, password=TEST_PASSWORD, roles=["teacher"])
    client = console_client(saga, "admin")
    for path in ("/console/districts/", "/console/dashboard/", "/console/audit/", "/console/staff/",
                 f"/console/districts/{district.pk}/edit/"):
        html = client.get(path).content.decode()
        assert SCRIPT not in html and IMG not in html, path
        assert "&lt;script&gt;" in html or "&lt;img" in html, path
    audit_html = client.get("/console/audit/").content.decode()
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in audit_html  # the resident's nickname as actor


def test_no_inline_script_or_style_on_any_page(saga):
    """The CSP forbids them; a page that used one would silently break in the browser."""
    client = console_client(saga, "admin")
    for route in ROUTES_BY_NAME.values():
        if not route.get:
            continue
        response = client.get(route.path(saga))
        html = response.content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), route.name
        assert "<style" not in html and not re.search(r"\sstyle=", html), route.name
        assert not re.search(r"\son[a-z]+=", html), route.name  # no inline event handlers
        assert "script-src 'self'" in response["Content-Security-Policy"]


# --- Dashboard --------------------------------------------------------------------------------------
def _residents(tenant, spec: dict[str | None, int], birth_year: int = 1980) -> None:
    with tenant.schema():
        for name, n in spec.items():
            district = District.objects.get_or_create(name=name)[0] if name else None
            for _ in range(n):
                resident_create(district=district, birth_year=birth_year)


def _table_rows(html: str, chart: str) -> dict[str, str]:
    section = html[html.index(f'id="chart-{chart}"'):]
    section = section[: section.index("</section>")]
    return dict(re.findall(r'<th scope="row">([^<]*)</th><td class="num">(?:<abbr[^>]*>)?([^<]*)', section))


@pytest.fixture
def privacy_threshold(saga):
    """Sets Saga's privacy_threshold for one test; the session-wide fixture object and this
    process's host cache (which holds a copy of the municipality) are put back afterwards."""
    original = dict(saga.municipality.settings)

    def set_threshold(value: int) -> None:
        saga.municipality.settings = {**original, "privacy_threshold": value}
        saga.municipality.save(update_fields=["settings"])  # clears the host cache (signal)

    yield set_threshold
    saga.municipality.settings = original
    hostcache.clear()


def test_dashboard_suppresses_small_cells_with_the_municipalitys_threshold(saga, privacy_threshold):
    privacy_threshold(5)
    _residents(saga, {"大校区": 12, "中校区": 7, "小校区": 3, "二人校区": 2})
    html = console_client(saga, "analyst").get("/console/dashboard/").content.decode()
    rows = _table_rows(html, "residents_by_district")
    assert rows["大校区"] == "12" and rows["中校区"] == "7"
    assert rows["小校区"] == "秘匿" and rows["二人校区"] == "秘匿"  # fewer than 5
    assert rows["未設定"] == "秘匿"  # the fixture's one resident without a district
    assert "5人未満の区分は「秘匿」" in html
    ages = _table_rows(html, "residents_by_age")
    # 24 were born in 1980 (40-49 this year) and one gave no year: that one is hidden, and so is the
    # only other non-zero cell, or the total on the dashboard would give it away.
    band_of_1980 = age_band_label((timezone.localdate().year - 1980) // 10 * 10)
    assert ages["不明"] == "秘匿" and ages[band_of_1980] == "秘匿"
    assert ages["0〜9歳"] == "0"  # zeros stay visible

    privacy_threshold(3)  # a single small cell: the next smallest is hidden too (not derivable from the total)
    html = console_client(saga, "analyst").get("/console/dashboard/").content.decode()
    rows = _table_rows(html, "residents_by_district")
    assert rows["二人校区"] == "秘匿" and rows["未設定"] == "秘匿" and rows["小校区"] == "3"


def test_suppress_small_counts():
    bars = [dashboard.Bar("a", 40), dashboard.Bar("b", 4), dashboard.Bar("c", 0), dashboard.Bar("d", 12)]
    shown = [bar.value for bar in dashboard.suppress_small_counts(bars, 10)]
    assert shown == [40, None, 0, None]  # b is small; d (next smallest non-zero) hides it from the total
    assert [bar.value for bar in dashboard.suppress_small_counts(bars, 3)] == [40, 4, 0, 12]
    two_small = [dashboard.Bar("a", 40), dashboard.Bar("b", 4), dashboard.Bar("c", 5)]
    assert [bar.value for bar in dashboard.suppress_small_counts(two_small, 10)] == [40, None, None]
    assert dashboard.suppress_small_counts(bars, 0) == bars


def test_dashboard_charts_are_svg_beside_a_table(saga):
    _residents(saga, {"勧興": 15, None: 12})
    response = console_client(saga, "admin").get("/console/dashboard/")
    html = response.content.decode()
    assert html.count('role="img"') == 4  # residents by district and age band, mini-app ranking, active by age
    assert '<title id="residents_by_district-svg-title">校区別の登録住民</title>' in html
    assert '<rect class="bar"' in html
    rows = _table_rows(html, "residents_by_district")
    assert rows["勧興"] == "15" and rows["未設定"] == "13"  # and the fixture's resident
    assert re.search(r'id="stat-residents">\s*<dt>登録住民</dt>\s*<dd>2[0-9]', html)  # 27 + the fixture's one


def test_dashboard_widgets_from_other_apps_and_their_roles(saga):
    calls = []

    def devices(ctx):
        calls.append(ctx.privacy_threshold)
        return dashboard.Stat(value=1234, unit="台")

    def ranking(ctx):
        return dashboard.Chart(bars=[dashboard.Bar("ごみ", 300), dashboard.Bar("避難所", 2)], person_counts=False)

    dashboard.register(dashboard.Widget("test_devices", "テスト端末", "stat", devices, roles=(Role.DISASTER_STAFF,)))
    dashboard.register(dashboard.Widget("test_ranking", "テストランキング", "chart", ranking, order=1))
    try:
        admin_html = console_client(saga, "admin").get("/console/dashboard/").content.decode()
        analyst_html = console_client(saga, "analyst").get("/console/dashboard/").content.decode()
    finally:
        dashboard.unregister("test_devices")
        dashboard.unregister("test_ranking")
    assert "テスト端末" in admin_html and "1,234" in admin_html
    assert "テスト端末" not in analyst_html  # the widget's own roles
    assert "テストランキング" in analyst_html
    assert _table_rows(analyst_html, "test_ranking") == {"ごみ": "300", "避難所": "2"}  # not person counts
    assert calls == [10]
    assert analyst_html.index("テストランキング") < analyst_html.index("校区別の登録住民")  # order


def test_a_widget_may_cache_its_result_per_municipality(saga, kanzaki):
    calls = []

    def slow(ctx):
        calls.append(ctx.municipality.code)
        return dashboard.Stat(value=len(calls))

    dashboard.register(dashboard.Widget("test_cached", "キャッシュ", "stat", slow, cache_seconds=60))
    try:
        first = console_client(saga, "admin").get("/console/dashboard/").content.decode()
        again = console_client(saga, "admin").get("/console/dashboard/").content.decode()
        other = console_client(kanzaki, "admin").get("/console/dashboard/").content.decode()
    finally:
        dashboard.unregister("test_cached")
    assert calls == ["412015", "412104"]  # once per municipality: the cache key carries the schema
    for html in (first, again):
        assert re.search(r'id="stat-test_cached">\s*<dt>キャッシュ</dt>\s*<dd>1<', html)
    assert re.search(r'id="stat-test_cached">\s*<dt>キャッシュ</dt>\s*<dd>2<', other)


def test_the_resident_aggregate_is_reused_for_a_while_per_municipality(saga, kanzaki, settings):
    settings.CONSOLE_DASHBOARD_CACHE_SECONDS = 60
    residents_shown = re.compile(r'id="stat-residents">\s*<dt>登録住民</dt>\s*<dd>(\d+)<')
    _residents(saga, {"勧興": 3})
    client = console_client(saga, "admin")
    assert residents_shown.search(client.get("/console/dashboard/").content.decode())[1] == "4"
    _residents(saga, {"勧興": 2})
    # the districts, the data platform's four aggregate widgets, devices and citizen IDs; the
    # residents' aggregate is cached
    with assert_num_queries(BASE + 1 + 4 + 2):
        html = client.get("/console/dashboard/").content.decode()
    assert residents_shown.search(html)[1] == "4"  # up to a minute behind
    other = console_client(kanzaki, "admin").get("/console/dashboard/").content.decode()
    assert residents_shown.search(other)[1] == "1"  # Kanzaki's own figure, not Saga's cached one
    with saga.schema():
        cache.delete(AGGREGATE_CACHE_KEY)
    assert residents_shown.search(client.get("/console/dashboard/").content.decode())[1] == "6"


def test_registering_a_second_widget_under_a_taken_key_fails():
    with pytest.raises(ValueError):
        dashboard.register(dashboard.Widget("residents", "別物", "stat", lambda ctx: dashboard.Stat(1)))


def test_home_shows_only_the_sections_of_the_role(saga):
    teacher = console_client(saga, Role.TEACHER).get("/console/").content.decode()
    admin = console_client(saga, "admin").get("/console/").content.decode()
    assert 'href="/console/staff/"' not in teacher and 'href="/console/dashboard/"' not in teacher
    assert 'href="/console/account/"' in teacher
    for path in ("/console/dashboard/", "/console/districts/", "/console/staff/", "/console/audit/"):
        assert f'href="{path}"' in admin
    analyst = console_client(saga, Role.ANALYST).get("/console/").content.decode()
    assert 'href="/console/dashboard/"' in analyst and 'href="/console/audit/"' not in analyst


def test_users_are_listed_with_role_names_not_codes(saga):
    html = console_client(saga, "admin").get("/console/staff/").content.decode()
    assert "自治体管理者" in html and "データ分析担当" in html
    with saga.schema():
        assert User.objects.filter(kind=User.Kind.STAFF).count() == 6


def _stat(html: str, key: str) -> str:
    match = re.search(rf'id="stat-{key}">\s*<dt>[^<]*</dt>\s*<dd>([0-9,]+)', html)
    assert match, f"stat {key} not on the page"
    return match.group(1)


def test_dashboard_counts_active_devices_and_verified_citizen_ids_of_its_own_municipality(saga, kanzaki, jpki):
    from citizen_id import testca
    from tests.citizen_id.conftest import KANZAKI_CARD, SAGA_CARD, enrolled, new_resident

    def register(tenant, token):
        response = tenant.client("resident").post("/api/v1/devices/", {"token": token, "platform": "android"},
                                                  format="json")
        assert response.status_code == 201, response.content
        return response.json()["id"]

    for n in range(3):
        register(saga, f"saga-device-{n}-" + "x" * 40)
    register(kanzaki, "kanzaki-device-" + "x" * 40)
    with saga.schema():
        from notifications.models import Device

        Device.objects.filter(token__startswith="saga-device-0").update(is_active=False)  # FCM said UNREGISTERED
    enrolled(saga, jpki, SAGA_CARD)
    enrolled(saga, jpki, testca.CardSpec(name="佐賀 次郎", address="佐賀県佐賀市大和町尼寺1番", birth="419850401", sex="1"),
             client=new_resident(saga)[1])
    enrolled(kanzaki, jpki, KANZAKI_CARD)

    html = console_client(saga, "analyst").get("/console/dashboard/").content.decode()
    assert (_stat(html, "active_devices"), _stat(html, "verified_citizen_ids")) == ("2", "2")
    html = console_client(kanzaki, "admin").get("/console/dashboard/").content.decode()
    assert (_stat(html, "active_devices"), _stat(html, "verified_citizen_ids")) == ("1", "1")


def _nav_links(client) -> set[str]:
    html = client.get("/console/").content.decode()
    nav = html[html.index('class="main-nav"'):html.index("</nav>")]
    return set(re.findall(r'href="(/console/[^"]*)"', nav))


def test_attendance_and_community_are_listed_for_whom_their_pages_admit(saga):
    """Attendance: teachers (principals and nurses hold the teacher role) and the board of education,
    a position any staff member may hold; community moderation: moderators. Admins see both."""
    from miniapps.attendance.models import StaffAssignment
    from miniapps.attendance.services import staff_assign

    attendance, community = "/console/attendance/", "/console/community/"
    assert {attendance, community} <= _nav_links(console_client(saga, "admin"))
    assert attendance in _nav_links(console_client(saga, Role.TEACHER))
    assert community not in _nav_links(console_client(saga, Role.TEACHER))
    assert community in _nav_links(console_client(saga, Role.COMMUNITY_MODERATOR))
    for who in (Role.SHELTER_STAFF, Role.ANALYST, Role.COMMUNITY_MODERATOR):
        assert attendance not in _nav_links(console_client(saga, who)), who

    analyst = console_client(saga, Role.ANALYST)
    assert attendance not in _nav_links(analyst)  # and the answer is now cached
    with saga.schema():
        staff_assign(user=saga.staff[Role.ANALYST], position=StaffAssignment.Position.BOARD, school=None,
                     acting_user=saga.admin)
    assert attendance in _nav_links(analyst)  # assigning clears the cached answer
    assert analyst.get(attendance).status_code == 200
    assert console_client(saga, Role.COMMUNITY_MODERATOR).get(community).status_code == 200
    with saga.schema():
        from miniapps.attendance.services import staff_unassign

        staff_unassign(assignment=StaffAssignment.objects.get(user=saga.staff[Role.ANALYST]), acting_user=saga.admin)
    assert attendance not in _nav_links(analyst)
