"""Announcements (お知らせ): staff publish with a period and an audience; residents see the active
ones meant for them and mark them seen."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from accounts.services import district_create, resident_create
from miniapps.announcements.models import AnnouncementSeen
from miniapps.announcements.services import announcement_create
from tests.base import STAFF_ROLES, TenantApiClient, assert_num_queries

from .helpers import error_of


def _period(start_hours=-1, end_hours=24):
    now = timezone.now()
    return {"starts_at": (now + timedelta(hours=start_hours)).isoformat(),
            "ends_at": (now + timedelta(hours=end_hours)).isoformat()}


def _publish(tenant, **fields):
    now = timezone.now()
    fields.setdefault("starts_at", now - timedelta(hours=1))
    fields.setdefault("ends_at", now + timedelta(days=1))
    fields.setdefault("body", "本文")
    with tenant.schema():
        return announcement_create(acting_user=tenant.admin, **fields)


@pytest.fixture
def districts(saga):
    with saga.schema():
        return district_create(name="勧興"), district_create(name="循誘")


def _resident(tenant, **fields) -> TenantApiClient:
    with tenant.schema():
        return TenantApiClient(tenant.host, resident_create(**fields).raw)


def test_staff_publish_and_residents_see_what_is_meant_for_them(saga, districts):
    kankou, junyu = districts
    admin = saga.client(Role.DISASTER_STAFF)
    for body in [
        {"title": "全員へ", "body": "市からのお知らせ", "title_en": "To everyone", **_period()},
        {"title": "勧興校区へ", "body": "校区のお知らせ", "audience": "district", "district": kankou.pk, **_period()},
        {"title": "防災に関心", "body": "防災訓練", "audience": "interest", "interest": "Bousai",
         "show_as_popup": True, **_period()},
        {"title": "まだ先", "body": "来週から", **_period(start_hours=48, end_hours=96)},
        {"title": "終了", "body": "先週まで", **_period(start_hours=-96, end_hours=-48)},
    ]:
        response = admin.post("/api/v1/staff/announcements/", body, format="json")
        assert response.status_code == 201, response.content
    created = response.json()
    assert created["created_by"] and created["seen_count"] == 0

    everyone = _resident(saga).get("/api/v1/announcements/").json()
    assert [row["title"] for row in everyone] == ["全員へ"]
    kankou_resident = _resident(saga, district=kankou, interests=["bousai"])
    rows = kankou_resident.get("/api/v1/announcements/").json()
    assert [row["title"] for row in rows] == ["防災に関心", "勧興校区へ", "全員へ"]  # popups first
    assert rows[0]["show_as_popup"] is True and rows[0]["seen"] is False
    assert [row["title"] for row in _resident(saga, district=junyu).get("/api/v1/announcements/").json()] == ["全員へ"]


def test_seen_is_recorded_once_and_only_for_visible_announcements(saga, districts):
    kankou, junyu = districts
    visible = _publish(saga, title="全員へ")
    elsewhere = _publish(saga, title="循誘へ", audience="district", district=junyu)
    future = _publish(saga, title="未来", starts_at=timezone.now() + timedelta(days=1),
                      ends_at=timezone.now() + timedelta(days=2))
    client = _resident(saga, district=kankou)
    assert client.post(f"/api/v1/announcements/{visible.pk}/seen/").status_code == 204
    assert client.post(f"/api/v1/announcements/{visible.pk}/seen/").status_code == 204
    assert client.get("/api/v1/announcements/").json()[0]["seen"] is True
    with saga.schema():
        assert AnnouncementSeen.objects.filter(announcement=visible).count() == 1
    for hidden in (elsewhere, future):
        response = client.post(f"/api/v1/announcements/{hidden.pk}/seen/")
        assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    assert client.post("/api/v1/announcements/999999/seen/").status_code == 404
    staff_view = saga.client("admin").get(f"/api/v1/staff/announcements/{visible.pk}/").json()
    assert staff_view["seen_count"] == 1


def test_another_municipalitys_announcement_id_is_not_found(saga, kanzaki):
    theirs = _publish(kanzaki, title="神埼のお知らせ")
    with saga.schema():
        from miniapps.announcements.models import Announcement

        assert not Announcement.objects.filter(pk=theirs.pk).exists()
    assert saga.client("resident").post(f"/api/v1/announcements/{theirs.pk}/seen/").status_code == 404
    assert saga.client("admin").get(f"/api/v1/staff/announcements/{theirs.pk}/").status_code == 404
    assert saga.client("admin").delete(f"/api/v1/staff/announcements/{theirs.pk}/").status_code == 404
    with kanzaki.schema():
        assert Announcement.objects.filter(pk=theirs.pk).exists()


def test_validation(saga, districts):
    kankou, _ = districts
    admin = saga.client("admin")
    cases = [
        ({"title": "x", "body": "y", **_period(start_hours=5, end_hours=1)}, "ends_at"),
        ({"title": "x", "body": "y", "audience": "district", **_period()}, "district"),
        ({"title": "x", "body": "y", "audience": "interest", **_period()}, "interest"),
        ({"title": "x", "body": "y", "interest": "bousai", **_period()}, "interest"),
        ({"title": "x", "body": "y", "district": kankou.pk, **_period()}, "district"),
        ({"title": "x", "body": "y", "audience": "district", "district": 999999, **_period()}, "district"),
        ({"title": "   ", "body": "y", **_period()}, "title"),
        ({"title": "x", "body": "y", "audience": "martians", **_period()}, "audience"),
        ({"title": "x", "body": "y", "starts_at": "soon", "ends_at": "later"}, "starts_at"),
        ({"title": 5, "body": "y", **_period()}, "title"),
    ]
    for body, field in cases:
        response = admin.post("/api/v1/staff/announcements/", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in error_of(response)["fields"], (body, response.content)


def test_staff_edit_and_withdraw(saga):
    announcement = _publish(saga, title="訂正前")
    admin = saga.client(Role.DISASTER_STAFF)
    patched = admin.patch(f"/api/v1/staff/announcements/{announcement.pk}/", {"title": "訂正後", "show_as_popup": True},
                          format="json")
    assert patched.status_code == 200 and patched.json()["title"] == "訂正後"
    bad = admin.patch(f"/api/v1/staff/announcements/{announcement.pk}/",
                      {"ends_at": (timezone.now() - timedelta(days=5)).isoformat()}, format="json")
    assert bad.status_code == 400 and "ends_at" in error_of(bad)["fields"]
    assert [row["title"] for row in saga.client("resident").get("/api/v1/announcements/").json()] == ["訂正後"]
    listed = admin.get("/api/v1/staff/announcements/").json()
    assert listed["count"] == 1 and listed["results"][0]["title"] == "訂正後"
    assert admin.delete(f"/api/v1/staff/announcements/{announcement.pk}/").status_code == 204
    assert saga.client("resident").get("/api/v1/announcements/").json() == []
    with saga.schema():
        actions = list(AuditEvent.objects.filter(action__startswith="announcement.").values_list("action", flat=True))
    assert {"announcement.published", "announcement.updated", "announcement.deleted"} <= set(actions)


@pytest.mark.parametrize("who", [role for role in STAFF_ROLES if role != Role.DISASTER_STAFF] + ["resident"])
def test_only_admins_and_disaster_staff_publish(saga, who):
    client = saga.client(who)
    assert client.post("/api/v1/staff/announcements/", {"title": "x", "body": "y", **_period()},
                       format="json").status_code == 403
    assert client.get("/api/v1/staff/announcements/").status_code == 403


@pytest.mark.parametrize("who", ["admin", Role.DISASTER_STAFF])
def test_staff_do_not_use_the_resident_endpoints(saga, who):
    assert saga.client(who).get("/api/v1/announcements/").status_code == 403


def test_query_counts(saga, districts):
    kankou, _ = districts
    for index in range(6):
        _publish(saga, title=f"お知らせ{index}", show_as_popup=index % 2 == 0)
    _publish(saga, title="校区", audience="district", district=kankou)
    client = _resident(saga, district=kankou, interests=["bousai"])
    client.get("/api/v1/announcements/")
    with assert_num_queries(3):  # search_path, token, announcements with their seen flag
        assert len(client.get("/api/v1/announcements/").json()) == 7
    first = client.get("/api/v1/announcements/").json()[0]["id"]
    with assert_num_queries(4):  # search_path, token, the announcement, insert (ignoring a repeat)
        client.post(f"/api/v1/announcements/{first}/seen/")
    admin = saga.client("admin")
    admin.get("/api/v1/staff/announcements/")
    with assert_num_queries(5):  # search_path, token, roles, count, page
        admin.get("/api/v1/staff/announcements/")


# --- Console ------------------------------------------------------------------------------------
def _console(tenant, username):
    from tests.base import TEST_PASSWORD

    client = TenantApiClient(tenant.host)
    assert client.post("/console/login/", {"username": username, "password": TEST_PASSWORD}).status_code == 302
    return client


def _local(hours: int) -> str:
    return timezone.localtime(timezone.now() + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def test_console_publish_edit_and_withdraw(saga, districts):
    kankou, _ = districts
    console = _console(saga, "disaster_staff@saga.example")
    assert console.get("/console/announcements/new/").status_code == 200
    form = {"title": "避難所開設のお知らせ", "body": "勧興公民館を開設しました。", "starts_at": _local(-1),
            "ends_at": _local(12), "audience": "district", "district": kankou.pk, "show_as_popup": "on"}
    bad = console.post("/console/announcements/new/", {**form, "district": ""})
    assert bad.status_code == 400 and "校区向けのお知らせには校区を指定してください" in bad.content.decode()
    created = console.post("/console/announcements/new/", form)
    assert created.status_code == 302 and created["Location"] == "/console/announcements/"
    listing = console.get("/console/announcements/").content.decode()
    assert "避難所開設のお知らせ" in listing and "掲載中" in listing
    with saga.schema():
        from miniapps.announcements.models import Announcement

        announcement = Announcement.objects.get(title="避難所開設のお知らせ")
        assert announcement.show_as_popup and announcement.district_id == kankou.pk
    resident = _resident(saga, district=kankou)
    assert resident.get("/api/v1/announcements/").json()[0]["title"] == "避難所開設のお知らせ"
    edited = console.post(f"/console/announcements/{announcement.pk}/", {**form, "title": "避難所開設（更新）"})
    assert edited.status_code == 302
    assert resident.get("/api/v1/announcements/").json()[0]["title"] == "避難所開設（更新）"
    assert console.post(f"/console/announcements/{announcement.pk}/delete/").status_code == 302
    assert resident.get("/api/v1/announcements/").json() == []
    assert console.get(f"/console/announcements/{announcement.pk}/").status_code == 404


@pytest.mark.parametrize("username", ["teacher@saga.example", "community_moderator@saga.example"])
def test_console_needs_the_manifests_roles(saga, username):
    announcement = _publish(saga, title="x")
    console = _console(saga, username)
    assert console.get("/console/announcements/").status_code == 403
    assert console.post(f"/console/announcements/{announcement.pk}/delete/").status_code == 403
    with saga.schema():
        from miniapps.announcements.models import Announcement

        assert Announcement.objects.filter(pk=announcement.pk).exists()


def test_console_another_municipalitys_session_and_ids(saga, kanzaki):
    theirs = _publish(kanzaki, title="神埼の")
    console = _console(saga, "admin@saga.example")
    assert console.get(f"/console/announcements/{theirs.pk}/").status_code == 404
    assert console.post(f"/console/announcements/{theirs.pk}/delete/").status_code == 404
    foreign = _console(kanzaki, "admin@kanzaki.example")
    foreign.defaults["HTTP_HOST"] = saga.host
    assert foreign.get("/console/announcements/").status_code == 302  # to the login page
