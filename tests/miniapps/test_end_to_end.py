"""The issue's "done when", front door to back: two built-in mini-apps and one external one on a
resident's home screen, reordered, launched (the token verifies with the published keys and carries
only the consented attributes), and their opens in the ranking."""
from __future__ import annotations

from django.utils import timezone

from accounts.roles import Role
from accounts.services import district_create, resident_create
from miniapps import services
from miniapps.sso_verify import LaunchTokenVerifier
from tests.base import TenantApiClient


def test_home_reorder_launch_and_ranking(saga, kanzaki):
    # Kanzaki's staff register and publish a web service; Saga's staff add it to Saga's catalog.
    kanzaki_admin = kanzaki.client("admin")
    assert kanzaki_admin.post("/api/v1/staff/external-miniapps/", {
        "id": "yoshinogari-guide", "name": "吉野ヶ里ガイド", "name_en": "Yoshinogari guide", "category": "tourism_events",
        "icon": "castle", "launch_url": "https://guide.example.jp/start", "owner_kind": "community_group",
        "owner_name": "吉野ヶ里観光ボランティアの会", "requested_attributes": ["nickname", "age_band", "district"],
    }, format="json").status_code == 201
    kanzaki_admin.post("/api/v1/staff/external-miniapps/yoshinogari-guide/status/", {"status": "published"},
                       format="json")
    assert saga.client("admin").post("/api/v1/staff/miniapps/", {"id": "yoshinogari-guide"},
                                     format="json").status_code == 201

    with saga.schema():
        district = district_create(name="兵庫", kana="ひょうご")
        issued = resident_create(nickname="さがっ子", district=district, birth_year=timezone.localdate().year - 25)
    resident = TenantApiClient(saga.host, issued.raw)

    home = resident.get("/api/v1/miniapps/").json()
    listed = {app["id"]: app["kind"] for category in home["categories"] for app in category["miniapps"]}
    assert {"garbage": "builtin", "announcements": "builtin", "yoshinogari-guide": "external"}.items() <= listed.items()

    favourites = ["yoshinogari-guide", "garbage", "announcements"]
    assert resident.put("/api/v1/me/home/", {"favourites": favourites}, format="json").status_code == 200
    assert resident.get("/api/v1/miniapps/").json()["favourites"] == favourites

    launched = resident.post("/api/v1/miniapps/yoshinogari-guide/launch/", {"consent": ["nickname", "age_band"]},
                             format="json").json()
    jwks = saga.client().get(launched["jwks_uri"].replace("http://saga.localhost", "")).json()
    claims = LaunchTokenVerifier(issuer="http://saga.localhost/api/v1/", audience="yoshinogari-guide") \
        .verify_with_jwks(launched["token"], jwks)
    assert claims["nickname"] == "さがっ子" and claims["age_band"] == "20-29"
    assert "district" not in claims  # asked for, not consented
    assert resident.post("/api/v1/miniapps/garbage/launch/", {}, format="json").json()["api_url"] == "/api/v1/garbage/"

    # Opens reported by this resident and enough neighbours to clear the privacy threshold.
    now = timezone.now().isoformat()
    clients = [resident]
    with saga.schema():
        clients += [TenantApiClient(saga.host, resident_create(district=district).raw) for _ in range(10)]
    for client in clients:
        batch = [{"miniapp": "yoshinogari-guide", "kind": "opened", "at": now}] * 3 + \
                [{"miniapp": "garbage", "kind": "opened", "at": now}]
        assert client.post("/api/v1/usage/", {"events": batch}, format="json").status_code == 202
    with saga.schema():
        services.usage_aggregate(now=timezone.now() + services.AGGREGATION_MARGIN)
    ranking = saga.client(Role.ANALYST).get("/api/v1/staff/usage/ranking/").json()["rows"]
    assert [(row["rank"], row["miniapp"], row["opens"], row["resident_days"]) for row in ranking] == [
        (1, "yoshinogari-guide", 33, 11), (2, "garbage", 11, 11)]
    assert ranking[0]["name"] == "吉野ヶ里ガイド"
