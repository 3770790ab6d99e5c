"""デジタルマップ: located posts inside the municipality's bounds, the bbox query as GeoJSON, bad and
oversized boxes, hidden posts and other districts left out, bounds set by the municipality admin."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from accounts.models import AuditEvent
from tenants.models import Municipality
from tests.base import assert_num_queries

from .conftest import jpeg_with_gps, upload

SAGA_BOX = "130.15,33.15,130.45,33.50"
SAGA_STATION = {"lat": 33.2641, "lng": 130.2972}


def map_url(bbox: str = SAGA_BOX, **params) -> str:
    extra = "".join(f"&{key}={value}" for key, value in params.items())
    return f"/api/v1/community/map/?bbox={bbox}{extra}"


def test_done_when_map_post_in_bbox_with_exif_stripped(board):
    alice, bob = board.member("アリス"), board.member("ボブ")
    photo = upload(alice, jpeg_with_gps()).json()
    post = board.post(alice, title="通学路の危険箇所", category="traffic_safety", location=SAGA_STATION,
                      image_ids=[photo["id"]])
    assert post["location"] == SAGA_STATION

    response = bob.client().get(map_url())
    assert response.status_code == 200
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    assert collection["bbox"] == [130.15, 33.15, 130.45, 33.5]
    assert collection["meta"] == {"count": 1, "limit": 500, "truncated": False}
    feature = collection["features"][0]
    assert feature["type"] == "Feature" and feature["id"] == post["id"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [130.2972, 33.2641]}  # [lng, lat]
    assert feature["properties"]["category"] == "traffic_safety"
    assert feature["properties"]["thumbnail_url"] == photo["thumbnail_url"]

    from miniapps.community.models import PostImage

    with board.tenant.schema():
        image = PostImage.objects.get(pk=photo["id"])
        assert image.thumbnail.url == photo["thumbnail_url"]
        stored_thumb, stored_photo = image.thumbnail.read(), image.image.read()
    for stored in (stored_thumb, stored_photo):  # what the map shows carries no EXIF/GPS
        assert not Image.open(io.BytesIO(stored)).getexif() and b"iPhone" not in stored


def test_bbox_and_category_filter(board):
    alice = board.member()
    inside = board.post(alice, category="history", location={"lat": 33.25, "lng": 130.30})["id"]
    board.post(alice, category="history", location={"lat": 33.45, "lng": 130.20})
    board.post(alice, category="disaster", location={"lat": 33.26, "lng": 130.31})
    board.post(alice, category="history")  # no location: never on the map
    small = "130.25,33.20,130.35,33.30"
    features = alice.client().get(map_url(small, category="history")).json()["features"]
    assert [f["id"] for f in features] == [inside]
    assert len(alice.client().get(map_url(small)).json()["features"]) == 2


def test_hidden_posts_and_other_districts_are_not_on_the_map(board, saga):
    alice, outsider = board.member(), board.member(district=board.other_district)
    mine = board.post(alice, location=SAGA_STATION)["id"]
    theirs = board.post(outsider, location=SAGA_STATION)["id"]
    assert [f["id"] for f in alice.client().get(map_url()).json()["features"]] == [mine]
    moderator = saga.client("community_moderator")
    assert {f["id"] for f in moderator.get(map_url()).json()["features"]} == {mine, theirs}
    assert moderator.post(f"/api/v1/staff/community/posts/{mine}/hide/", {"reason": "個人宅が写っている"},
                          format="json").status_code == 200
    assert alice.client().get(map_url()).json()["features"] == []


@pytest.mark.parametrize("bbox, code", [
    ("", "invalid_bbox"),
    ("130.2,33.2,130.3", "invalid_bbox"),
    ("130.2,33.2,130.3,33.3,1", "invalid_bbox"),
    ("a,b,c,d", "invalid_bbox"),
    ("nan,33.2,130.3,33.3", "invalid_bbox"),
    ("130.3,33.2,130.2,33.3", "invalid_bbox"),  # min > max
    ("130.2,95,130.3,96", "invalid_bbox"),
    ("129.0,33.0,131.0,34.0", "bbox_too_large"),
])
def test_malformed_or_too_large_bbox_is_400(board, bbox, code):
    response = board.member().client().get(map_url(bbox))
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code and "bbox" in response.json()["error"]["fields"]


def test_missing_bbox_and_bad_category_are_400(board):
    client = board.member().client()
    missing = client.get("/api/v1/community/map/")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "invalid_bbox"
    bad = client.get(map_url(category="weather"))
    assert bad.status_code == 400 and "category" in bad.json()["error"]["fields"]


def test_location_outside_the_municipality_is_refused(board):
    response = board.member().client().post(
        f"/api/v1/community/districts/{board.district.id}/posts/",
        {"title": "東京タワー", "category": "other", "location": {"lat": 35.6586, "lng": 139.7454}}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "location_out_of_bounds"


def test_admin_sets_bounds_others_cannot(board, saga):
    url = "/api/v1/staff/community/map-bounds/"
    narrow = {"min_lat": 33.24, "max_lat": 33.28, "min_lng": 130.28, "max_lng": 130.32}
    assert saga.client("community_moderator").put(url, narrow, format="json").status_code == 403
    assert board.member().client().put(url, narrow, format="json").status_code == 403
    bad = saga.client("admin").put(url, {**narrow, "min_lat": 33.30}, format="json")
    assert bad.status_code == 400
    try:
        ok = saga.client("admin").put(url, narrow, format="json")
        assert ok.status_code == 200 and ok.json() == narrow
        meta = board.member().client().get("/api/v1/community/meta/").json()
        assert meta["map_bounds"] == narrow
        outside = board.member().client().post(
            f"/api/v1/community/districts/{board.district.id}/posts/",
            {"title": "x", "category": "other", "location": {"lat": 33.40, "lng": 130.30}}, format="json")
        assert outside.json()["error"]["code"] == "location_out_of_bounds"
        with saga.schema():
            assert AuditEvent.objects.filter(action="community.map_bounds_set").exists()
    finally:
        municipality = Municipality.objects.get(pk=saga.municipality.pk)
        municipality.settings.pop("community_map_bounds", None)
        municipality.save(update_fields=["settings"])


@pytest.mark.parametrize("count", [1, 6])
def test_map_query_count_is_constant(board, count):
    alice = board.member()
    for index in range(count):
        ids = [upload(alice, jpeg_with_gps(size=(30, 30))).json()["id"]]
        board.post(alice, title=f"地点{index}", location={"lat": 33.25 + index / 1000, "lng": 130.3}, image_ids=ids)
    client = alice.client()
    client.get("/api/v1/me/")
    # SET search_path, token, located posts (+author nickname, first photo's thumbnail as a subquery).
    with assert_num_queries(3):
        response = client.get(map_url())
    assert len(response.json()["features"]) == count
