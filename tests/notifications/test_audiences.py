"""Audiences: who a notification reaches, counted before sending (staff API)."""
from __future__ import annotations

import pytest

from accounts.models import User
from notifications import audience as audiences
from notifications.audience import register_user_source, this_year
from tests.base import assert_num_queries

from .helpers import make_district, make_resident, register

SIZE = "/api/v1/staff/notifications/audience-size/"


@pytest.fixture
def town(saga):
    """Two districts; residents with devices, interests and birth years."""
    north, south = make_district(saga, "北校区"), make_district(saga, "南校区")
    year = this_year()
    people = {
        "north_parent": make_resident(saga, district=north, interests=["kosodate"], birth_year=year - 35),
        "north_senior": make_resident(saga, district=north, interests=["bousai"], birth_year=year - 70),
        "south_parent": make_resident(saga, district=south, interests=["kosodate", "sports"], birth_year=year - 29),
        "south_teen": make_resident(saga, district=south, birth_year=year - 17),
        "nowhere": make_resident(saga),
    }
    for index, (name, (_, client)) in enumerate(people.items()):
        register(client, f"aud-{name}-token-{index:04d}")
    register(people["north_parent"][1], "aud-north-parent-tablet-0001", platform="ios")  # two devices
    return {"north": north, "south": south, **{name: user for name, (user, _) in people.items()},
            "clients": {name: client for name, (_, client) in people.items()}}


def _size(client, audience, topic=None):
    body = {"audience": audience}
    if topic:
        body["topic"] = topic
    return client.post(SIZE, body, format="json")


def _residents(town, *names):
    return {town[name].pk for name in names}


def test_everyone_counts_residents_and_devices(saga, town):
    client = saga.client("disaster_staff")
    client.get("/api/v1/me/")
    with assert_num_queries(4):  # search_path, token, roles, one aggregate
        response = _size(client, {"everyone": True})
    assert response.status_code == 200, response.content
    body = response.json()
    # The fixture's resident (no device) and ours: 6 residents, 6 devices.
    assert body["residents"] == 6 and body["devices"] == 6
    assert body["mode"] == "topic" and body["fcm_topics"] == ["saga.all.disaster"]


def test_districts_are_a_topic_broadcast(saga, town):
    response = _size(saga.client("admin"), {"districts": [town["north"].id]}, topic="events")
    body = response.json()
    assert body == {"residents": 2, "devices": 3, "mode": "topic", "fcm_topics": [f"saga.d{town['north'].id}.events"]}


@pytest.mark.parametrize("audience, expected", [
    ({"interests": ["kosodate"]}, ("north_parent", "south_parent")),
    ({"interests": ["kosodate", "bousai"]}, ("north_parent", "south_parent", "north_senior")),
    ({"age_bands": ["65+"]}, ("north_senior",)),
    ({"age_bands": ["0-17", "30-39"]}, ("south_teen", "north_parent")),
    ({"age_bands": ["29-29"]}, ("south_parent",)),
    ({"districts": "SOUTH", "interests": ["kosodate"]}, ("south_parent",)),
    ({"districts": "SOUTH", "age_bands": ["18-64"]}, ("south_parent",)),
])
def test_criteria_select_exactly_the_matching_residents(saga, town, audience, expected):
    if audience.get("districts") == "SOUTH":
        audience = {**audience, "districts": [town["south"].id]}
    response = _size(saga.client("admin"), audience, topic="community")
    assert response.status_code == 200, response.content
    assert response.json()["mode"] == "device" and response.json()["fcm_topics"] == []
    with saga.schema():
        chosen = set(audiences.audience_residents(audiences.audience_parse(audience), "community").values_list("pk", flat=True))
    assert chosen == _residents(town, *expected)
    assert response.json()["residents"] == len(expected)


def test_age_is_this_year_minus_birth_year_in_tokyo(saga, town):
    with saga.schema():
        year = this_year()
        boundary = set(audiences.audience_residents(audiences.audience_parse({"age_bands": [f"{year - town['south_parent'].birth_year}-{year - town['south_parent'].birth_year}"]}), "events")
                       .values_list("pk", flat=True))
    assert boundary == {town["south_parent"].pk}


def test_explicit_user_ids(saga, town):
    ids = [town["nowhere"].pk, town["south_teen"].pk]
    body = _size(saga.client("admin"), {"user_ids": ids}).json()
    assert body["residents"] == 2 and body["devices"] == 2 and body["mode"] == "device"


def test_staff_and_unknown_ids_are_never_in_an_audience(saga, town):
    body = _size(saga.client("admin"), {"user_ids": [saga.admin.pk, 99999999]}).json()
    assert body["residents"] == 0


def test_residents_who_muted_the_topic_are_left_out_except_for_disaster(saga, town):
    town["clients"]["north_parent"].put("/api/v1/me/notification-settings/", {"muted_topics": ["events"]}, format="json")
    north = [town["north"].id]
    assert _size(saga.client("admin"), {"districts": north}, topic="events").json()["residents"] == 1
    assert _size(saga.client("admin"), {"districts": north}, topic="garbage").json()["residents"] == 2
    assert _size(saga.client("admin"), {"districts": north}, topic="disaster").json()["residents"] == 2


@pytest.mark.parametrize("audience, field", [
    ({}, "audience.non_field_errors"),
    ({"everyone": False}, "audience.non_field_errors"),
    ({"everyone": True, "districts": [1]}, "audience.everyone"),
    ({"districts": [987654]}, "audience.districts"),
    ({"district": [1]}, "audience.district"),
    ({"miniapp": "no-such-miniapp"}, "audience.miniapp"),
    ({"age_bands": ["40-30"]}, "audience.age_bands"),
    ({"age_bands": ["old"]}, "audience.age_bands.0"),
    ({"interests": []}, "audience.interests"),
    ({"user_ids": [0]}, "audience.user_ids.0"),
])
def test_bad_audiences_are_400_with_the_field_named(saga, town, audience, field):
    response = _size(saga.client("admin"), audience)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()


def test_an_app_can_add_an_audience_kind(saga, town):
    """The extension point the mini-app framework uses for `{"miniapp": id}`."""
    def subscribers(value):
        assert value == "garbage"
        return User.objects.filter(pk=town["south_teen"].pk).values("pk")

    installed = audiences._user_sources.get("miniapp")
    register_user_source("miniapp", subscribers)
    try:
        body = _size(saga.client("admin"), {"miniapp": "garbage", "districts": [town["south"].id]}).json()
    finally:
        audiences._user_sources["miniapp"] = installed
    assert body["residents"] == 1 and body["mode"] == "device"


def test_miniapp_subscribers_are_the_residents_whose_home_screen_shows_it(saga, town):
    """The mini-app framework's resolver: own layout, or the default one for residents without one."""
    from accounts.services import resident_create
    from tests.base import TenantApiClient

    with saga.schema():
        chose_it, chose_other, no_layout = (resident_create(nickname=n) for n in ("選んだ", "外した", "未設定"))
    assert TenantApiClient(saga.host, chose_it.raw).put("/api/v1/me/home/", {"favourites": ["garbage"]},
                                                       format="json").status_code == 200
    assert TenantApiClient(saga.host, chose_other.raw).put("/api/v1/me/home/", {"favourites": ["feedback"]},
                                                          format="json").status_code == 200
    ids = [chose_it.token.user_id, chose_other.token.user_id]
    assert _size(saga.client("admin"), {"miniapp": "garbage", "user_ids": ids}).json()["residents"] == 1
    from miniapps.selectors import home_default_layout

    with saga.schema():
        default_favourites, _configured = home_default_layout()
    assert "garbage" in default_favourites  # the built-in default layout shows the garbage calendar
    body = _size(saga.client("admin"), {"miniapp": "garbage", "user_ids": [no_layout.token.user_id]}).json()
    assert body["residents"] == 1


@pytest.mark.parametrize("who, status", [
    ("admin", 200), ("disaster_staff", 200), ("community_moderator", 200),
    ("analyst", 403), ("teacher", 403), ("shelter_staff", 403), ("resident", 403), (None, 401)])
def test_who_may_see_audience_sizes(saga, who, status):
    assert _size(saga.client(who), {"everyone": True}).status_code == status
