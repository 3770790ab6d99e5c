"""Staff management of the municipality's catalog and of external mini-apps in the shared catalog,
including one municipality enabling what another published."""
from __future__ import annotations

import pytest

from accounts.models import AuditEvent
from accounts.roles import Role
from miniapps.catalog.models import ExternalMiniApp
from miniapps.models import CatalogEntry
from tests.base import STAFF_ROLES, assert_num_queries

from .helpers import add_to_catalog, error_of, external_app

NEW_APP = {
    "id": "saga-parking", "name": "駐車場空き情報", "name_en": "Parking", "description": "市営駐車場の空き状況",
    "description_en": "Free spaces in city car parks", "category": "life", "icon": "local_parking",
    "launch_url": "https://parking.example.jp/app?from=superapp", "owner_kind": "company",
    "owner_name": "佐賀パーキング株式会社", "contact_email": "info@parking.example.jp",
    "requested_attributes": ["district", "nickname"],
}


def _home_ids(tenant) -> set[str]:
    body = tenant.client("resident").get("/api/v1/miniapps/").json()
    return {app["id"] for category in body["categories"] for app in category["miniapps"]}


def test_staff_register_review_and_enable_an_external_miniapp(saga):
    admin = saga.client("admin")
    created = admin.post("/api/v1/staff/external-miniapps/", NEW_APP, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "draft" and body["publisher"] == {"code": "412015", "name": "佐賀市"}
    assert body["requested_attributes"] == ["nickname", "district"]  # canonical order
    # A draft is not on the shared catalog and cannot be added.
    assert "saga-parking" not in {row["id"] for row in admin.get("/api/v1/staff/shared-catalog/").json()}
    assert admin.post("/api/v1/staff/miniapps/", {"id": "saga-parking"}, format="json").status_code == 404

    published = admin.post("/api/v1/staff/external-miniapps/saga-parking/status/", {"status": "published"},
                           format="json")
    assert published.status_code == 200 and published.json()["published_at"]
    shared = {row["id"]: row for row in admin.get("/api/v1/staff/shared-catalog/").json()}
    assert shared["saga-parking"]["in_catalog"] is False

    added = admin.post("/api/v1/staff/miniapps/", {"id": "saga-parking"}, format="json")
    assert added.status_code == 201, added.content
    assert added.json()["kind"] == "external" and added.json()["available"] is True
    assert admin.get("/api/v1/staff/shared-catalog/").json()[0]["in_catalog"] is True
    assert "saga-parking" in _home_ids(saga)
    again = admin.post("/api/v1/staff/miniapps/", {"id": "saga-parking"}, format="json")
    assert again.status_code == 409 and error_of(again)["code"] == "conflict"
    with saga.schema():
        actions = set(AuditEvent.objects.filter(actor=saga.admin).values_list("action", flat=True))
    assert {"external_miniapp.created", "external_miniapp.status_changed", "miniapp.added"} <= actions


def test_a_municipality_enables_a_miniapp_another_municipality_published(saga, kanzaki):
    """Kanzaki publishes; Saga adds it from the shared catalog; Saga's residents see and launch it
    with Saga's keys; Kanzaki suspends it and it leaves Saga's home screen at once."""
    kanzaki_admin = kanzaki.client("admin")
    body = dict(NEW_APP, id="kanzaki-sakura", name="神埼そうめん・桜マップ", owner_kind="municipality",
                owner_name="神埼市", requested_attributes=["age_band"], category="tourism_events")
    assert kanzaki_admin.post("/api/v1/staff/external-miniapps/", body, format="json").status_code == 201
    kanzaki_admin.post("/api/v1/staff/external-miniapps/kanzaki-sakura/status/", {"status": "published"},
                       format="json")

    saga_admin = saga.client("admin")
    shared = {row["id"]: row for row in saga_admin.get("/api/v1/staff/shared-catalog/").json()}
    assert shared["kanzaki-sakura"]["publisher"] == {"code": "412104", "name": "神埼市"}
    assert saga_admin.post("/api/v1/staff/miniapps/", {"id": "kanzaki-sakura"}, format="json").status_code == 201
    assert "kanzaki-sakura" in _home_ids(saga)
    assert "kanzaki-sakura" not in _home_ids(kanzaki)  # publishing does not enable it anywhere

    launched = saga.client("resident").post("/api/v1/miniapps/kanzaki-sakura/launch/", {"consent": ["age_band"]},
                                            format="json")
    assert launched.status_code == 200, launched.content
    from miniapps.sso_verify import LaunchTokenVerifier

    keys = saga.client().get("/api/v1/miniapps/keys/").json()
    claims = LaunchTokenVerifier(issuer="http://saga.localhost/api/v1/", audience="kanzaki-sakura") \
        .verify_with_jwks(launched.json()["token"], keys)
    assert claims["municipality"] == "412015"

    # Saga's staff cannot edit or suspend Kanzaki's mini-app: same 404 as a missing one.
    assert saga_admin.get("/api/v1/staff/external-miniapps/kanzaki-sakura/").status_code == 404
    assert saga_admin.patch("/api/v1/staff/external-miniapps/kanzaki-sakura/", {"name": "乗っ取り"},
                            format="json").status_code == 404
    assert saga_admin.post("/api/v1/staff/external-miniapps/kanzaki-sakura/status/", {"status": "suspended"},
                           format="json").status_code == 404
    assert "kanzaki-sakura" not in {row["id"] for row in saga_admin.get("/api/v1/staff/external-miniapps/").json()}

    kanzaki_admin.post("/api/v1/staff/external-miniapps/kanzaki-sakura/status/", {"status": "suspended"},
                       format="json")
    assert "kanzaki-sakura" not in _home_ids(saga)
    item = saga_admin.get("/api/v1/staff/miniapps/kanzaki-sakura/").json()
    assert item["status"] == "suspended" and item["enabled"] is True and item["available"] is False
    refused = saga.client("resident").post("/api/v1/miniapps/kanzaki-sakura/launch/", {}, format="json")
    assert refused.status_code == 409 and error_of(refused)["code"] == "miniapp_disabled"


def test_external_miniapp_validation(saga):
    admin = saga.client("admin")
    for field, value in [("launch_url", "http://parking.example.jp/"), ("launch_url", "javascript:alert(1)"),
                         ("launch_url", "https://user:pw@parking.example.jp/"), ("launch_url", "https://a.jp/#x"),
                         ("icon", "http://img.example.jp/a.png"), ("icon", "Not An Icon"),
                         ("requested_attributes", ["password"]), ("requested_attributes", ["district", "district"]),
                         ("category", "food"), ("owner_kind", "person"), ("name", "   "),
                         ("contact_email", "not-an-email")]:
        response = admin.post("/api/v1/staff/external-miniapps/", dict(NEW_APP, **{field: value}), format="json")
        assert response.status_code == 400, (field, value, response.content)
        assert any(key.startswith(field) for key in error_of(response)["fields"]), (field, response.content)
    for bad_id in ["Saga-Parking", "keys", "garbage", "-x", "a" * 51, "saga--x"]:
        response = admin.post("/api/v1/staff/external-miniapps/", dict(NEW_APP, id=bad_id), format="json")
        assert response.status_code in (400, 409), (bad_id, response.content)
    assert admin.post("/api/v1/staff/external-miniapps/", NEW_APP, format="json").status_code == 201
    taken = admin.post("/api/v1/staff/external-miniapps/", NEW_APP, format="json")
    assert taken.status_code == 409 and error_of(taken)["code"] == "conflict"
    assert admin.patch("/api/v1/staff/external-miniapps/saga-parking/", {"launch_url": "http://x.jp/"},
                       format="json").status_code == 400
    patched = admin.patch("/api/v1/staff/external-miniapps/saga-parking/", {"name_en": "Car parks"}, format="json")
    assert patched.status_code == 200 and patched.json()["name_en"] == "Car parks"
    assert admin.post("/api/v1/staff/external-miniapps/saga-parking/status/", {"status": "gone"},
                      format="json").status_code == 400


def test_the_same_external_id_cannot_be_taken_by_two_municipalities(saga, kanzaki):
    assert saga.client("admin").post("/api/v1/staff/external-miniapps/", NEW_APP, format="json").status_code == 201
    response = kanzaki.client("admin").post("/api/v1/staff/external-miniapps/", NEW_APP, format="json")
    assert response.status_code == 409


def test_enable_disable_and_reorder(saga):
    external_app(saga, "saga-bus", category="life")
    add_to_catalog(saga, "saga-bus")
    admin = saga.client("admin")
    catalog = admin.get("/api/v1/staff/miniapps/").json()
    assert [row["id"] for row in catalog] == ["announcements", "garbage", "attendance", "community", "feedback",
                                              "saga-bus"]
    # Attendance is off by default until the municipality's schools are imported.
    assert {row["id"]: row["enabled"] for row in catalog} == {
        "announcements": True, "garbage": True, "attendance": False, "community": True, "feedback": True,
        "saga-bus": True}

    disabled = admin.patch("/api/v1/staff/miniapps/garbage/", {"enabled": False}, format="json")
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert "garbage" not in _home_ids(saga)
    assert admin.patch("/api/v1/staff/miniapps/garbage/", {"enabled": True}, format="json").json()["enabled"]

    reordered = admin.put("/api/v1/staff/miniapps/order/", {"order": ["saga-bus", "feedback"]}, format="json")
    assert reordered.status_code == 200, reordered.content
    assert [row["id"] for row in reordered.json()] == ["saga-bus", "feedback", "announcements", "garbage",
                                                       "attendance", "community"]
    body = saga.client("resident").get("/api/v1/miniapps/").json()
    life = next(category for category in body["categories"] if category["id"] == "life")
    assert [app["id"] for app in life["miniapps"]] == ["saga-bus", "garbage"]

    unknown = admin.put("/api/v1/staff/miniapps/order/", {"order": ["saga-bus", "nope"]}, format="json")
    assert unknown.status_code == 400 and "nope" in error_of(unknown)["message_en"]
    assert admin.patch("/api/v1/staff/miniapps/nope/", {"enabled": False}, format="json").status_code == 404
    assert admin.patch("/api/v1/staff/miniapps/garbage/", {"enabled": "maybe"}, format="json").status_code == 400
    with saga.schema():
        assert set(AuditEvent.objects.filter(actor=saga.admin, action__startswith="miniapp.")
                   .values_list("action", flat=True)) >= {"miniapp.disabled", "miniapp.enabled", "miniapp.reordered"}
        # A built-in mini-app got its catalog row only when staff changed it.
        assert CatalogEntry.objects.filter(miniapp_id="garbage", external__isnull=True).exists()


def test_default_layout_validation(saga):
    admin = saga.client("admin")
    assert admin.get("/api/v1/staff/home-layout/").json() == {
        "favourites": ["announcements", "garbage", "community", "feedback"], "customised": False}
    response = admin.put("/api/v1/staff/home-layout/", {"favourites": ["garbage", "ghost"]}, format="json")
    assert response.status_code == 400 and "ghost" in error_of(response)["message_en"]
    ok = admin.put("/api/v1/staff/home-layout/", {"favourites": ["garbage"]}, format="json")
    assert ok.json() == {"favourites": ["garbage"], "customised": True}


STAFF_ENDPOINTS = [
    ("get", "/api/v1/staff/miniapps/", None),
    ("post", "/api/v1/staff/miniapps/", {"id": "x-app"}),
    ("get", "/api/v1/staff/miniapps/garbage/", None),
    ("patch", "/api/v1/staff/miniapps/garbage/", {"enabled": False}),
    ("put", "/api/v1/staff/miniapps/order/", {"order": []}),
    ("get", "/api/v1/staff/home-layout/", None),
    ("put", "/api/v1/staff/home-layout/", {"favourites": []}),
    ("get", "/api/v1/staff/shared-catalog/", None),
    ("get", "/api/v1/staff/external-miniapps/", None),
    ("post", "/api/v1/staff/external-miniapps/", NEW_APP),
]


@pytest.mark.parametrize("who", [*STAFF_ROLES, "resident"])
@pytest.mark.parametrize(("method", "path", "body"), STAFF_ENDPOINTS)
def test_only_municipality_admins_manage_the_catalog(saga, who, method, path, body):
    response = getattr(saga.client(who), method)(path, body, format="json")
    assert response.status_code == 403, response.content
    assert error_of(response)["code"] == "permission_denied"


@pytest.mark.parametrize(("method", "path", "body"), STAFF_ENDPOINTS)
def test_anonymous_gets_401(saga, method, path, body):
    assert getattr(saga.client(), method)(path, body, format="json").status_code == 401


def test_staff_catalog_query_counts(saga, kanzaki):
    for index in range(5):
        external_app(kanzaki, f"kanzaki-{index}")
        add_to_catalog(saga, f"kanzaki-{index}")
    admin = saga.client("admin")
    admin.get("/api/v1/staff/miniapps/")
    with assert_num_queries(4):  # search_path, token, roles, catalog
        assert len(admin.get("/api/v1/staff/miniapps/").json()) == 10  # 5 built-in + 5 external
    with assert_num_queries(5):  # search_path, token, roles, catalog (in_catalog), shared catalog
        assert len(admin.get("/api/v1/staff/shared-catalog/").json()) == 5
    with assert_num_queries(4):  # search_path, token, roles, this municipality's external apps
        admin.get("/api/v1/staff/external-miniapps/")
    with assert_num_queries(5):  # search_path, token, roles, catalog, default layout
        admin.get("/api/v1/staff/home-layout/")
    # search_path, token, roles, savepoint, catalog item, entry for update, update, new catalog
    # generation, audit, re-read, release
    with assert_num_queries(11):
        admin.patch("/api/v1/staff/miniapps/kanzaki-1/", {"enabled": False}, format="json")
    # search_path, token, roles, savepoint, catalog, one upsert for every position, new generation,
    # audit, re-read, release
    with assert_num_queries(10):
        admin.put("/api/v1/staff/miniapps/order/", {"order": ["kanzaki-3"]}, format="json")


def test_external_miniapp_query_counts(saga):
    admin = saga.client("admin")
    admin.post("/api/v1/staff/external-miniapps/", NEW_APP, format="json")
    with assert_num_queries(4):  # search_path, token, roles, the app with its publisher
        admin.get("/api/v1/staff/external-miniapps/saga-parking/")
    # search_path, token, roles, app, savepoint, update, new shared generation, audit, release
    with assert_num_queries(9):
        admin.patch("/api/v1/staff/external-miniapps/saga-parking/", {"name": "駐車場"}, format="json")
    with assert_num_queries(9):
        admin.post("/api/v1/staff/external-miniapps/saga-parking/status/", {"status": "published"}, format="json")
    with saga.schema():
        assert ExternalMiniApp.objects.get(slug="saga-parking").status == "published"
