"""The resident's home screen and layout: categories, favourites, defaults, validation, query counts."""
from __future__ import annotations

import pytest

from accounts.roles import Role
from accounts.services import resident_create
from miniapps.manifest import Category
from tests.base import TenantApiClient, assert_num_queries

from .helpers import add_to_catalog, error_of, external_app, set_enabled


def _ids(body) -> dict[str, list[str]]:
    return {category["id"]: [app["id"] for app in category["miniapps"]] for category in body["categories"]}


def _new_resident(tenant) -> TenantApiClient:
    with tenant.schema():
        issued = resident_create(nickname="新しい住民")
    return TenantApiClient(tenant.host, issued.raw)


def test_home_lists_enabled_miniapps_by_category_in_the_six_categories(saga):
    external_app(saga, "saga-balloon", category="tourism_events")
    add_to_catalog(saga, "saga-balloon")
    response = saga.client("resident").get("/api/v1/miniapps/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [category["id"] for category in body["categories"]] == Category.values
    assert body["categories"][0]["name"] == "生活" and body["categories"][0]["name_en"] == "Life"
    ids = _ids(body)
    assert "garbage" in ids["life"]
    assert ids["city_hall"] == ["announcements", "feedback"]
    assert ids["tourism_events"] == ["saga-balloon"]
    balloon = body["categories"][-1]["miniapps"][0]
    assert balloon["kind"] == "external"
    assert balloon["launch_url"] == "https://saga-balloon.example.com/launch"
    assert balloon["owner"] == {"kind": "company", "name": "テスト株式会社"}
    assert balloon["requested_attributes"] == ["nickname", "district", "age_band", "verified_resident"]
    garbage = body["categories"][0]["miniapps"][0]
    assert garbage["kind"] == "builtin" and garbage["api_url"] == "/api/v1/garbage/" and garbage["launch_url"] is None


def test_disabled_and_suspended_miniapps_are_not_on_the_home_screen(saga):
    external_app(saga, "saga-bus")
    add_to_catalog(saga, "saga-bus", enabled=False)
    set_enabled(saga, "garbage", False)
    ids = _ids(saga.client("resident").get("/api/v1/miniapps/").json())
    assert "garbage" not in ids["life"] and "saga-bus" not in ids["tourism_events"]


def test_new_residents_get_the_default_layout_until_they_arrange_theirs(saga):
    client = _new_resident(saga)
    fallback = client.get("/api/v1/miniapps/").json()
    assert fallback["layout"] == "default"
    # catalog order, no default set; attendance is off by default
    assert fallback["favourites"] == ["announcements", "garbage", "community", "feedback"]

    admin = saga.client("admin")
    assert admin.put("/api/v1/staff/home-layout/", {"favourites": ["feedback", "garbage"]},
                     format="json").status_code == 200
    assert client.get("/api/v1/miniapps/").json()["favourites"] == ["feedback", "garbage"]

    response = client.put("/api/v1/me/home/", {"favourites": ["garbage", "announcements"]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"favourites": ["garbage", "announcements"]}
    body = client.get("/api/v1/miniapps/").json()
    assert body["layout"] == "resident" and body["favourites"] == ["garbage", "announcements"]
    # A later change of the municipality's default does not touch an arranged home screen,
    # but it is what another new resident gets.
    admin.put("/api/v1/staff/home-layout/", {"favourites": ["announcements"]}, format="json")
    assert client.get("/api/v1/miniapps/").json()["favourites"] == ["garbage", "announcements"]
    assert _new_resident(saga).get("/api/v1/miniapps/").json()["favourites"] == ["announcements"]


def test_a_favourite_disabled_later_drops_out_of_the_layout(saga):
    client = saga.client("resident")
    client.put("/api/v1/me/home/", {"favourites": ["feedback", "garbage"]}, format="json")
    set_enabled(saga, "feedback", False)
    assert client.get("/api/v1/miniapps/").json()["favourites"] == ["garbage"]


def test_unknown_or_disabled_favourites_are_refused_naming_them(saga):
    external_app(saga, "saga-off")
    add_to_catalog(saga, "saga-off", enabled=False)
    client = saga.client("resident")
    response = client.put("/api/v1/me/home/", {"favourites": ["garbage", "no-such-app", "saga-off"]}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert "no-such-app" in error["message_en"] and "saga-off" in error["message_en"]
    assert "no-such-app, saga-off" in error["fields"]["favourites"][0]
    assert "garbage" not in error["fields"]["favourites"][0].split(":", 1)[1]
    duplicate = client.put("/api/v1/me/home/", {"favourites": ["garbage", "garbage"]}, format="json")
    assert duplicate.status_code == 400 and "garbage" in error_of(duplicate)["fields"]["favourites"][0]
    shape = client.put("/api/v1/me/home/", {"favourites": "garbage"}, format="json")
    assert shape.status_code == 400 and "favourites" in error_of(shape)["fields"]
    not_strings = client.put("/api/v1/me/home/", {"favourites": [1, 2]}, format="json")
    assert not_strings.status_code == 400
    too_many = client.put("/api/v1/me/home/", {"favourites": [f"app-{i}" for i in range(61)]}, format="json")
    assert too_many.status_code == 400
    # Nothing was stored by the refused requests.
    assert client.get("/api/v1/miniapps/").json()["layout"] == "default"


def test_another_municipalitys_miniapp_cannot_be_a_favourite(saga, kanzaki):
    external_app(kanzaki, "kanzaki-only")
    add_to_catalog(kanzaki, "kanzaki-only")
    response = saga.client("resident").put("/api/v1/me/home/", {"favourites": ["kanzaki-only"]}, format="json")
    assert response.status_code == 400
    assert "kanzaki-only" in error_of(response)["message_en"]


@pytest.mark.parametrize("who", ["admin", Role.ANALYST, None])
def test_home_screen_is_for_residents(saga, who):
    response = saga.client(who).get("/api/v1/miniapps/")
    assert response.status_code == (401 if who is None else 403)
    assert saga.client(who).put("/api/v1/me/home/", {"favourites": []}, format="json").status_code in (401, 403)


def test_home_screen_query_count_is_constant(saga):
    client = saga.client("resident")
    client.put("/api/v1/me/home/", {"favourites": ["garbage"]}, format="json")
    client.get("/api/v1/miniapps/")
    # search_path, token, the layouts (the resident's and the default) with the catalog generation;
    # the catalog itself comes from this process's memory while its generation is unchanged
    with assert_num_queries(3):
        client.get("/api/v1/miniapps/")
    for index in range(12):
        external_app(saga, f"saga-extra-{index}")
        add_to_catalog(saga, f"saga-extra-{index}")
    set_enabled(saga, "feedback", False)
    # The first request after a change reads the catalog again: entries joined with the shared
    # catalog and publishers, one query however many mini-apps.
    with assert_num_queries(4):
        body = client.get("/api/v1/miniapps/").json()
    assert len(_ids(body)["tourism_events"]) == 12 and "feedback" not in _ids(body)["city_hall"]
    with assert_num_queries(3):
        assert client.get("/api/v1/miniapps/").json() == body


def test_a_change_by_another_municipality_reaches_the_cached_home_screen(saga, kanzaki):
    external_app(kanzaki, "kanzaki-cached")
    add_to_catalog(saga, "kanzaki-cached")
    client = saga.client("resident")
    assert "kanzaki-cached" in _ids(client.get("/api/v1/miniapps/").json())["tourism_events"]
    from miniapps import services
    from miniapps.catalog.models import ExternalMiniApp

    with kanzaki.schema():
        services.external_miniapp_update(app=ExternalMiniApp.objects.get(slug="kanzaki-cached"),
                                         acting_user=kanzaki.admin, name="新しい名前", category="health")
    body = client.get("/api/v1/miniapps/").json()
    health = next(category for category in body["categories"] if category["id"] == "health")
    assert [(app["id"], app["name"]) for app in health["miniapps"]] == [("kanzaki-cached", "新しい名前")]


def test_the_cached_catalog_is_only_used_at_its_own_generation(saga):
    from miniapps import selectors

    client = saga.client("resident")
    real = client.get("/api/v1/miniapps/").json()
    schema = saga.schema_name
    generation, catalog = selectors._home_catalogs[schema]
    bogus = selectors.HomeCatalog(ids=(), id_set=frozenset(), categories=(), known=frozenset())
    selectors._home_catalogs[schema] = (("another", "generation"), bogus)
    assert client.get("/api/v1/miniapps/").json() == real  # rebuilt, not the bogus one
    selectors._home_catalogs[schema] = (generation, bogus)
    assert client.get("/api/v1/miniapps/").json()["categories"] == []  # proof the cache is what is served
    selectors._home_catalogs.pop(schema)


def test_put_home_query_count(saga):
    client = saga.client("resident")
    client.put("/api/v1/me/home/", {"favourites": ["garbage"]}, format="json")
    # search_path, token, catalog, one INSERT ... ON CONFLICT
    with assert_num_queries(4):
        assert client.put("/api/v1/me/home/", {"favourites": ["feedback"]}, format="json").status_code == 200
