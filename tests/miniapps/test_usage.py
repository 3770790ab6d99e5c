"""Usage events: batch ingestion (one insert or nothing), daily aggregation, and the ranking."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.roles import Role
from accounts.services import district_create, resident_create
from miniapps import services
from miniapps.models import UsageDaily, UsageEvent
from tests.base import STAFF_ROLES, TenantApiClient, assert_num_queries

from .helpers import add_to_catalog, error_of, external_app, set_enabled


def _event(miniapp="garbage", kind="opened", at=None):
    return {"miniapp": miniapp, "kind": kind, "at": (at or timezone.now()).isoformat()}


def _post(client, events):
    return client.post("/api/v1/usage/", {"events": events}, format="json")


def _count(tenant) -> int:
    with tenant.schema():
        return UsageEvent.objects.count()


def test_a_batch_is_stored_with_the_residents_district_and_age_band(saga):
    with saga.schema():
        district = district_create(name="鍋島", kana="なべしま")
        issued = resident_create(district=district, birth_year=timezone.localdate().year - 71)
    client = TenantApiClient(saga.host, issued.raw)
    at = timezone.now() - timedelta(hours=3)
    response = _post(client, [_event(at=at), _event("feedback", "tapped", at=at)])
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 2}
    with saga.schema():
        rows = list(UsageEvent.objects.order_by("id").values("miniapp_id", "kind", "user_id", "district_id",
                                                              "age_band", "occurred_at"))
    assert rows == [
        {"miniapp_id": "garbage", "kind": 1, "user_id": issued.token.user.pk, "district_id": district.pk,
         "age_band": 70, "occurred_at": at},
        {"miniapp_id": "feedback", "kind": 2, "user_id": issued.token.user.pk, "district_id": district.pk,
         "age_band": 70, "occurred_at": at},
    ]


def test_ingestion_is_one_insert_whatever_the_batch_size(saga):
    external_app(saga, "saga-bus")
    add_to_catalog(saga, "saga-bus")
    client = saga.client("resident")
    _post(client, [_event()])
    with assert_num_queries(3):  # search_path, token, the INSERT (built-in ids need no lookup)
        assert _post(client, [_event() for _ in range(500)]).json() == {"accepted": 500}
    _post(client, [_event("saga-bus")])
    with assert_num_queries(4):  # + the catalog generation: external ids are checked against the cached catalog
        assert _post(client, [_event("saga-bus") for _ in range(100)]).status_code == 202
    assert _count(saga) == 602


def test_an_oversized_batch_is_refused_whole(saga):
    response = _post(saga.client("resident"), [_event() for _ in range(501)])
    assert response.status_code == 400
    assert error_of(response)["code"] == "usage_batch_too_large"
    assert _count(saga) == 0


def test_one_bad_event_refuses_the_whole_batch_naming_it(saga):
    client = saga.client("resident")
    good = [_event() for _ in range(3)]
    response = _post(client, [*good, _event("no-such-app"), {"miniapp": "garbage", "kind": "swiped", "at": "yesterday"}])
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert set(fields) == {"events.4.kind", "events.4.at"}
    # Unknown ids are checked once the shapes are right.
    unknown = _post(client, [*good, _event("no-such-app")])
    assert unknown.status_code == 400
    assert "no-such-app" in error_of(unknown)["fields"]["events.3.miniapp"][0]
    stale = _post(client, [_event(at=timezone.now() - timedelta(days=31))])
    assert "events.0.at" in error_of(stale)["fields"]
    naive = _post(client, [{"miniapp": "garbage", "kind": "opened", "at": "2026-05-01T10:00:00"}])
    assert "events.0.at" in error_of(naive)["fields"]
    for body in [[], {"events": "x"}, {"events": [1]}, {"events": [{"miniapp": 5, "kind": "opened", "at": "x"}]}]:
        response = client.post("/api/v1/usage/", body, format="json")
        assert response.status_code == 400, body
    assert _count(saga) == 0


def test_events_of_a_disabled_miniapp_are_still_accepted(saga):
    """The app may report opens from before the switch-off; only unknown ids are refused."""
    set_enabled(saga, "garbage", False)
    assert _post(saga.client("resident"), [_event()]).status_code == 202


def test_another_municipalitys_miniapp_is_unknown(saga, kanzaki):
    external_app(kanzaki, "kanzaki-bus")
    add_to_catalog(kanzaki, "kanzaki-bus")
    response = _post(saga.client("resident"), [_event("kanzaki-bus")])
    assert response.status_code == 400
    assert _count(saga) == 0 and _count(kanzaki) == 0


@pytest.mark.parametrize("who", ["admin", Role.ANALYST, None])
def test_usage_is_reported_by_residents(saga, who):
    assert _post(saga.client(who), [_event()]).status_code == (401 if who is None else 403)


def _make_events(tenant, rows):
    """rows: (user, miniapp, kind, occurred_at, received_at)"""
    with tenant.schema():
        UsageEvent.objects.bulk_create([
            UsageEvent(user_id=user.pk, district_id=user.district_id, age_band=age_band, miniapp_id=miniapp, kind=kind,
                       occurred_at=occurred, received_at=received)
            for user, age_band, miniapp, kind, occurred, received in rows
        ])


def _residents(tenant, count, **fields):
    with tenant.schema():
        return [resident_create(**fields).token.user for _ in range(count)]


def test_aggregation_builds_exact_daily_rows_and_a_second_run_changes_nothing(saga):
    now = timezone.now()
    today = timezone.localdate()
    yesterday = today - timedelta(days=1)
    at_yesterday = timezone.make_aware(datetime.combine(yesterday, datetime.min.time())) + timedelta(hours=23, minutes=59)
    users = _residents(saga, 3)
    received = now - timedelta(minutes=30)
    _make_events(saga, [
        (users[0], 30, "garbage", 1, at_yesterday, received),
        (users[0], 30, "garbage", 1, at_yesterday, received),
        (users[1], 30, "garbage", 1, at_yesterday, received),
        (users[1], 30, "garbage", 2, at_yesterday, received),
        (users[2], None, "feedback", 1, now - timedelta(hours=1), received),
    ])
    with saga.schema():
        assert services.usage_aggregate() == sorted({yesterday.isoformat(), today.isoformat()})
        rows = {(row.day, row.miniapp_id, row.age_band): (row.opens, row.taps, row.users)
                for row in UsageDaily.objects.all()}
        assert rows == {(yesterday, "garbage", 30): (3, 1, 2), (today, "feedback", None): (1, 0, 1)}
        assert services.usage_aggregate() == []  # nothing new
        # A late arrival (an offline phone) for yesterday rebuilds yesterday, exactly.
        _make_events(saga, [(users[2], 30, "garbage", 1, at_yesterday, timezone.now())])
        assert services.usage_aggregate() == []  # still inside the insert margin
        assert services.usage_aggregate(now=timezone.now() + timedelta(minutes=3)) == [yesterday.isoformat()]
        assert UsageDaily.objects.get(day=yesterday, miniapp_id="garbage").users == 3
        assert UsageDaily.objects.get(day=yesterday, miniapp_id="garbage").opens == 4


def test_aggregation_uses_brin_indexes_on_time(saga):
    with saga.schema(), connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'miniapps_usageevent'")
        indexes = dict(cursor.fetchall())
    assert "USING brin (received_at)" in indexes["miniapps_usage_received_brin"]
    assert "USING brin (occurred_at)" in indexes["miniapps_usage_occurred_brin"]
    assert len(indexes) == 3  # primary key + the two BRINs: inserts maintain almost nothing


def test_ranking_orders_by_opens_and_suppresses_small_groups(saga):
    with saga.schema():
        district = district_create(name="本庄", kana="ほんじょう")
    many = _residents(saga, 12)
    few = _residents(saga, 2, district=district)
    at = timezone.now() - timedelta(hours=2)
    received = timezone.now() - timedelta(hours=1)
    _make_events(saga, [
        *[(user, 40, "garbage", 1, at, received) for user in many for _ in range(2)],
        *[(user, 40, "announcements", 1, at, received) for user in many],
        *[(user, None, "feedback", 1, at, received) for user in few],
    ])
    with saga.schema():
        services.usage_aggregate()
    analyst = saga.client(Role.ANALYST)
    response = analyst.get("/api/v1/staff/usage/ranking/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["privacy_threshold"] == 10
    assert [(row["rank"], row["miniapp"], row["opens"], row["suppressed"]) for row in body["rows"]] == [
        (1, "garbage", 24, False), (2, "announcements", 12, False), (None, "feedback", None, True)]
    assert body["rows"][0]["name"] == "ごみカレンダー" and body["rows"][0]["resident_days"] == 12
    by_district = analyst.get(f"/api/v1/staff/usage/ranking/?district={district.pk}").json()["rows"]
    assert by_district == [{"rank": None, "miniapp": "feedback", "name": "ご意見投稿", "name_en": "Feedback",
                            "opens": None, "taps": None, "resident_days": None, "suppressed": True}]
    assert analyst.get("/api/v1/staff/usage/ranking/?age_band=40-49").json()["rows"][0]["miniapp"] == "garbage"
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert analyst.get(f"/api/v1/staff/usage/ranking/?date_from={tomorrow}").json()["rows"] == []
    for query in ["date_from=2026-13-01", "age_band=45", "date_from=2026-05-02&date_to=2026-05-01", "limit=0",
                  "date_to=0001-01-01", "district=abc"]:
        bad = analyst.get(f"/api/v1/staff/usage/ranking/?{query}")
        assert bad.status_code == 400, (query, bad.content)


@pytest.mark.parametrize("who", [role for role in STAFF_ROLES if role != Role.ANALYST] + ["resident"])
def test_ranking_is_for_analysts_and_admins(saga, who):
    assert saga.client(who).get("/api/v1/staff/usage/ranking/").status_code == 403
    assert saga.client("admin").get("/api/v1/staff/usage/ranking/").status_code == 200


def test_ranking_query_count(saga):
    analyst = saga.client(Role.ANALYST)
    analyst.get("/api/v1/staff/usage/ranking/")
    with assert_num_queries(5):  # search_path, token, roles, totals, catalog names
        analyst.get("/api/v1/staff/usage/ranking/")
