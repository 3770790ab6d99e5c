"""Disasters, opening/closing shelters, vacancy, check-in/out with idempotency, offline batches,
the HQ report, the cached public list."""
from __future__ import annotations

import json
import uuid

import pytest
from django.core.cache import cache

from accounts.models import AuditEvent
from shelters.models import CheckIn, ShelterOpening
from shelters.selectors import vacancy_level
from tests.base import STAFF_ROLES, assert_num_queries

PERSON = {"name": "佐賀 花子", "kana": "さが はなこ", "address": "佐賀県佐賀市松原1-1", "birth_date": "1950-04-01",
          "sex": "female"}


def _check_in(client, shelter_id, body, key=None):
    return client.post(f"/api/v1/staff/shelters/{shelter_id}/check-ins/", body, format="json",
                       HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()))


def test_vacancy_levels_follow_the_default_thresholds():
    levels = [vacancy_level(is_open=True, present=n, capacity=100) for n in (0, 29, 30, 59, 60, 79, 80, 120)]
    assert levels == ["available", "available", "somewhat_crowded", "somewhat_crowded", "crowded", "crowded",
                      "full", "full"]
    assert vacancy_level(is_open=False, present=0, capacity=100) == "closed"


def test_disaster_lifecycle_through_the_staff_api(saga, saga_shelters):
    client = saga.client("disaster_staff")
    created = client.post("/api/v1/staff/disasters/", {"name": "台風10号", "type": "typhoon"}, format="json")
    assert created.status_code == 201, created.content
    disaster_id = created.json()["id"]
    shelter_id = saga_shelters[0].pk
    opened = client.post(f"/api/v1/staff/disasters/{disaster_id}/shelters/{shelter_id}/open/")
    assert opened.status_code == 200 and opened.json()["closed_at"] is None
    assert client.post(f"/api/v1/staff/disasters/{disaster_id}/shelters/{shelter_id}/open/").status_code == 200
    listed = client.get("/api/v1/staff/disasters/").json()
    assert listed[0]["id"] == disaster_id and listed[0]["open_shelters"] == 1

    # Another disaster cannot take an open shelter.
    other = client.post("/api/v1/staff/disasters/", {"name": "地震", "type": "earthquake"}, format="json").json()
    clash = client.post(f"/api/v1/staff/disasters/{other['id']}/shelters/{shelter_id}/open/")
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "shelter_open_for_other_disaster"

    closed = client.post(f"/api/v1/staff/disasters/{disaster_id}/close/")
    assert closed.status_code == 200 and closed.json()["closed_at"]
    again = client.post(f"/api/v1/staff/disasters/{disaster_id}/close/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "disaster_closed"
    with saga.schema():
        assert not ShelterOpening.objects.filter(closed_at__isnull=True, disaster_id=disaster_id).exists()
        assert AuditEvent.objects.filter(action="disaster.closed").exists()


def test_disaster_input_validation_and_unknown_ids(saga, saga_shelters):
    client = saga.client("disaster_staff")
    bad = client.post("/api/v1/staff/disasters/", {"name": "", "type": "meteor"}, format="json")
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"name", "type"}
    assert client.post("/api/v1/staff/disasters/999999/close/").status_code == 404
    assert client.post(f"/api/v1/staff/disasters/999999/shelters/{saga_shelters[0].pk}/open/").status_code == 404


@pytest.mark.parametrize("role", [r for r in STAFF_ROLES if r != "disaster_staff"] + ["resident"])
def test_only_disaster_staff_run_disasters(saga, role):
    response = saga.client(role).post("/api/v1/staff/disasters/", {"name": "x", "type": "flood"}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize("role", ["teacher", "analyst", "community_moderator", "resident"])
def test_reception_roles_only(saga, flood, saga_shelters, role):
    assert _check_in(saga.client(role), saga_shelters[0].pk, {"person": PERSON}).status_code == 403
    assert saga.client(role).get(f"/api/v1/staff/shelters/{saga_shelters[0].pk}/evacuees/").status_code == 403


def test_manual_check_in_with_household_and_idempotent_retry(saga, flood, saga_shelters):
    client = saga.client("shelter_staff")
    shelter_id = saga_shelters[0].pk
    body = {"person": PERSON, "special_care": ["elderly"], "pets": 1,
            "household": [{"name": "佐賀 太郎", "birth_date": "2024-01-10", "sex": "male", "special_care": ["infant"]}]}
    key = str(uuid.uuid4())
    first = _check_in(client, shelter_id, body, key)
    assert first.status_code == 201, first.content
    result = first.json()
    assert len(result["check_ins"]) == 2
    assert {c["household_id"] for c in result["check_ins"]} == {result["household_id"]}
    assert result["check_ins"][0]["special_care"] == ["elderly"] and result["check_ins"][0]["pets"] == 1

    retry = _check_in(client, shelter_id, body, key)
    assert retry.status_code == 201 and retry.json() == result
    with saga.schema():
        assert CheckIn.objects.count() == 2

    reused = _check_in(client, shelter_id, {"person": {**PERSON, "name": "別人"}}, key)
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"


def test_check_in_requires_an_idempotency_key_and_valid_input(saga, flood, saga_shelters):
    client = saga.client("shelter_staff")
    url = f"/api/v1/staff/shelters/{saga_shelters[0].pk}/check-ins/"
    missing = client.post(url, {"person": PERSON}, format="json")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "idempotency_key_required"
    both = _check_in(client, saga_shelters[0].pk, {"person": PERSON, "qr_token": "x"})
    assert both.status_code == 400
    future = _check_in(client, saga_shelters[0].pk, {"person": {**PERSON, "birth_date": "2999-01-01"}})
    assert future.status_code == 400 and "person.birth_date" in future.json()["error"]["fields"]
    bad_care = _check_in(client, saga_shelters[0].pk, {"person": PERSON, "special_care": ["vip"]})
    assert bad_care.status_code == 400


def test_check_in_at_a_closed_shelter_is_409(saga, flood, saga_shelters):
    response = _check_in(saga.client("shelter_staff"), saga_shelters[5].pk, {"person": PERSON})
    assert response.status_code == 409 and response.json()["error"]["code"] == "shelter_not_open"


def test_same_person_is_not_duplicated_and_is_flagged_elsewhere(saga, flood, saga_shelters):
    client = saga.client("shelter_staff")
    first = _check_in(client, saga_shelters[0].pk, {"person": PERSON}).json()
    again = _check_in(client, saga_shelters[0].pk, {"person": {**PERSON, "name": "佐賀　花子"}})
    assert again.status_code == 200
    assert again.json()["check_ins"] == [] and again.json()["already_checked_in"][0]["id"] == first["check_ins"][0]["id"]
    elsewhere = _check_in(client, saga_shelters[1].pk, {"person": PERSON}).json()
    flagged = elsewhere["check_ins"][0]["possible_duplicate_of"]
    assert flagged["check_in_id"] == first["check_ins"][0]["id"] and flagged["shelter_id"] == saga_shelters[0].pk


def test_level_counts_and_check_out_update_the_public_list(saga, flood, saga_shelters,
                                                          django_capture_on_commit_callbacks):
    shelter = saga_shelters[-1]  # capacity 80
    with saga.schema(), django_capture_on_commit_callbacks(execute=True):
        from shelters.services import shelter_open

        shelter_open(disaster=flood, shelter=shelter, acting_user=saga.admin)
    public = saga.client()
    row = next(r for r in public.get("/api/v1/shelters/").json() if r["id"] == shelter.pk)
    assert (row["status"], row["level"], row["evacuees"]) == ("open", "available", 0)

    staff = saga.client("shelter_staff")
    people = [{"name": f"避難者{i}", "birth_date": f"19{50 + i}-01-01"} for i in range(25)]
    created = []
    for household in (people[:13], people[13:]):
        with django_capture_on_commit_callbacks(execute=True):  # the cache is dropped after commit
            response = _check_in(staff, shelter.pk, {"person": household[0], "household": household[1:]})
        created += response.json()["check_ins"]
    row = next(r for r in public.get("/api/v1/shelters/").json() if r["id"] == shelter.pk)
    assert (row["level"], row["evacuees"], row["households"]) == ("somewhat_crowded", 25, 2)

    with django_capture_on_commit_callbacks(execute=True):
        out = staff.post(f"/api/v1/staff/shelters/{shelter.pk}/check-outs/",
                         {"check_in_ids": [c["id"] for c in created[:10]]}, format="json")
    assert out.status_code == 200 and all(c["checked_out_at"] for c in out.json())
    row = next(r for r in public.get("/api/v1/shelters/").json() if r["id"] == shelter.pk)
    assert (row["level"], row["evacuees"]) == ("available", 15)
    evacuees = staff.get(f"/api/v1/staff/shelters/{shelter.pk}/evacuees/").json()
    assert len(evacuees) == 15


def test_check_out_of_another_shelters_people_is_404(saga, flood, saga_shelters):
    staff = saga.client("shelter_staff")
    created = _check_in(staff, saga_shelters[0].pk, {"person": PERSON}).json()["check_ins"]
    response = staff.post(f"/api/v1/staff/shelters/{saga_shelters[1].pk}/check-outs/",
                          {"check_in_ids": [created[0]["id"]]}, format="json")
    assert response.status_code == 404


def test_public_list_makes_no_database_query_when_warm(saga, flood, saga_shelters):
    client = saga.client()
    client.get("/api/v1/shelters/")
    with assert_num_queries(0):
        response = client.get("/api/v1/shelters/?lat=33.2600&lng=130.2930")
    rows = response.json()
    assert rows[0]["name"] == "佐賀市立日新小学校" and rows[0]["distance_km"] == 0.0
    assert [r["distance_km"] for r in rows] == sorted(r["distance_km"] for r in rows)


def test_public_list_cold_query_count_is_constant(saga, flood, saga_shelters):
    client = saga.client()
    with saga.schema():
        cache.delete("shelters:public:list")
    # search_path, openings with their counts, shelters (the thresholds come with the request's tenant)
    with assert_num_queries(3):
        client.get("/api/v1/shelters/")


def test_public_list_answers_a_foreign_token_with_401(saga, kanzaki, saga_shelters):
    foreign = kanzaki.client("resident")
    foreign.defaults["HTTP_HOST"] = saga.host
    response = foreign.get("/api/v1/shelters/")
    assert response.status_code == 401 and set(response.json()) == {"error"}
    # A resident of Saga with the app's token gets the list as well.
    assert saga.client("resident").get("/api/v1/shelters/").status_code == 200


@pytest.mark.parametrize("query", ["lat=33.2", "lat=abc&lng=130", "lat=91&lng=130", "lat=33&lng=nan"])
def test_bad_coordinates_are_400(saga, query):
    response = saga.client().get(f"/api/v1/shelters/?{query}")
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"


def test_offline_batch_is_idempotent_per_item(saga, flood, saga_shelters):
    staff = saga.client("shelter_staff")
    url = f"/api/v1/staff/shelters/{saga_shelters[0].pk}/check-ins/batch/"
    items = [{"client_id": f"tablet-1-{i}", "checked_in_at": f"2026-07-10T21:0{i}:00+09:00",
              "person": {"name": f"オフライン{i}", "birth_date": "1980-01-0" + str(i + 1)}} for i in range(3)]
    first = staff.post(url, {"items": items}, format="json")
    assert first.status_code == 200, first.content
    assert [r["status"] for r in first.json()["results"]] == ["created"] * 3
    # The tablet did not get the answer and uploads again, with one more item queued since.
    items.append({"client_id": "tablet-1-9", "checked_in_at": "2026-07-10T21:30:00+09:00",
                  "person": {"name": "オフライン9"}})
    second = staff.post(url, {"items": items}, format="json").json()["results"]
    assert [r["status"] for r in second] == ["already_uploaded"] * 3 + ["created"]
    with saga.schema():
        assert CheckIn.objects.filter(client_item_id__startswith="tablet-1-").count() == 4
        stamp = CheckIn.objects.get(client_item_id="tablet-1-0").checked_in_at
    assert stamp.isoformat().startswith("2026-07-10T12:00:00")  # the tablet's time, not the upload's


def test_hq_report_json_and_csv(saga, flood, saga_shelters):
    staff = saga.client("shelter_staff")
    _check_in(staff, saga_shelters[0].pk, {"person": {**PERSON, "sex": "female"}, "special_care": ["pregnancy"],
                                           "household": [{"name": "子", "sex": "male", "special_care": ["infant"]}],
                                           "pets": 2})
    _check_in(staff, saga_shelters[1].pk, {"person": {"name": "一人", "sex": "male"}})
    hq = saga.client("disaster_staff")
    report = hq.get(f"/api/v1/staff/disasters/{flood.pk}/report/")
    assert report.status_code == 200
    totals = report.json()["totals"]
    assert (totals["evacuees"], totals["households"], totals["men"], totals["women"]) == (3, 2, 2, 1)
    assert (totals["infants"], totals["special_care_any"], totals["pets"], totals["open_shelters"]) == (1, 2, 2, 2)
    first = report.json()["shelters"][0]
    assert first["shelter_id"] == saga_shelters[0].pk and first["evacuees"] == 2

    csv_response = hq.get(f"/api/v1/staff/disasters/{flood.pk}/report/?format=csv")
    assert csv_response.status_code == 200 and csv_response["Content-Type"].startswith("text/csv")
    lines = csv_response.content.decode("utf-8").lstrip("\ufeff").splitlines()
    assert lines[0].startswith("避難所,開設状況") and lines[-1].startswith("合計")
    assert saga.client("shelter_staff").get(f"/api/v1/staff/disasters/{flood.pk}/report/").status_code == 403


def test_report_query_count_is_constant(saga, flood, saga_shelters):
    hq = saga.client("disaster_staff")
    hq.get(f"/api/v1/staff/disasters/{flood.pk}/report/")
    # search_path, token, roles, disaster, openings with all aggregates
    with assert_num_queries(5):
        hq.get(f"/api/v1/staff/disasters/{flood.pk}/report/")


def test_check_in_query_count_is_constant_per_household(saga, flood, saga_shelters):
    staff = saga.client("shelter_staff")
    _check_in(staff, saga_shelters[0].pk, {"person": {"name": "暖機"}})
    body = {"person": {"name": "世帯主", "birth_date": "1970-01-01"},
            "household": [{"name": f"家族{i}", "birth_date": f"200{i}-01-01"} for i in range(5)]}
    # search_path, token, roles, shelter; savepoint (the test's transaction), idempotency record;
    # savepoint, opening (locked), one duplicate lookup for the whole household however large,
    # check-ins, audit row, release; idempotency record, release.
    with assert_num_queries(14):
        assert _check_in(staff, saga_shelters[0].pk, body).status_code == 201


def test_audit_rows_for_check_ins(saga, flood, saga_shelters):
    _check_in(saga.client("shelter_staff"), saga_shelters[0].pk, {"person": PERSON})
    with saga.schema():
        event = AuditEvent.objects.filter(action="shelter.check_in").latest("id")
        assert event.actor_id == saga.staff["shelter_staff"].pk
        assert json.dumps(event.data).find("manual") > 0
