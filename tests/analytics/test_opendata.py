"""Open data: the public catalog (no login), the standard CSVs with the standard's exact headers,
UTF-8 with BOM, update times that move only when the content changes, the licence, and the event
dataset made of the community events their organiser or a moderator marked for open data."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from analytics import opendata
from analytics.models import OpenDataRelease
from shelters.services import shelters_import
from tests.base import assert_num_queries

from .conftest import TOKYO, standard_header

SHELTERS_CSV = Path(__file__).resolve().parents[2] / "shelters" / "demo" / "saga_shelters.csv"
GARBAGE_CSV = ("\ufeff" + ",".join(["全国地方公共団体コード", "ID", "地方公共団体名", "地区名", "ゴミの品目", "ゴミの品目_カナ",
                                    "ゴミの品目_英字", "分別区分", "注意点", "備考", "粗大ごみ回収料金"]) + "\r\n"
               "412015,1,佐賀市,,アイロン,アイロン,Iron,不燃物,コードは束ねる,,\r\n"
               "412015,2,佐賀市,,空き缶,アキカン,Can,資源物,中をすすぐ,,\r\n").encode()


def rows_of(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), body[:20]
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.fixture
def published(saga):
    """Saga's shelter registry (the shelters app's demo file) and a small sorting dictionary."""
    from miniapps.garbage.services import sorting_import_opendata

    with saga.schema():
        shelters_import(data=SHELTERS_CSV.read_bytes(), acting_user=saga.admin)
        sorting_import_opendata(raw=GARBAGE_CSV, name="garbage_separate.csv", municipality_code="412015",
                                acting_user=saga.admin, replace_all=True)
    return saga


def test_the_catalog_is_public_and_lists_datasets_with_update_times_and_licence(published):
    response = published.client(None).get("/api/v1/opendata/")
    assert response.status_code == 200
    body = response.json()
    assert body["municipality"] == {"code": "412015", "name": "佐賀市", "name_en": "Saga City", "prefecture": "佐賀県"}
    assert body["license"]["id"] == "CC-BY-4.0" and body["license"]["url"].startswith("https://creativecommons.org/licenses/by/4.0/")
    by_id = {dataset["id"]: dataset for dataset in body["datasets"]}
    assert set(by_id) == {"evacuation_space", "garbage_separate", "event"}
    evacuation = by_id["evacuation_space"]
    assert evacuation["url"] == "http://saga.localhost/api/v1/opendata/evacuation_space.csv"
    assert evacuation["standard_dataset"] == "指定緊急避難場所一覧" and evacuation["columns"] == 39
    assert evacuation["rows"] > 0 and evacuation["license"]["id"] == "CC-BY-4.0"
    assert by_id["garbage_separate"]["rows"] == 2
    assert by_id["garbage_separate"]["url"] == "http://saga.localhost/api/v1/opendata/garbage_separate.csv"
    event = by_id["event"]
    assert event["url"] == "http://saga.localhost/api/v1/opendata/event.csv" and event["rows"] == 0
    assert event["standard_dataset"] == "イベント一覧" and event["columns"] == len(standard_header("event")) == 79
    for dataset in body["datasets"]:
        assert datetime.fromisoformat(dataset["updated_at"]) <= timezone.now()
        assert dataset["encoding"] == "UTF-8 (BOM)" and dataset["media_type"] == "text/csv"


def test_every_listed_url_serves_the_standard_header_exactly(published):
    client = published.client(None)
    for dataset in client.get("/api/v1/opendata/").json()["datasets"]:
        response = client.get(dataset["url"].replace("http://saga.localhost", ""))
        assert response.status_code == 200, dataset["id"]
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        rows = rows_of(response.content)
        assert rows[0] == standard_header(dataset["id"]), dataset["id"]
        assert all(len(row) == len(rows[0]) for row in rows), dataset["id"]
        assert len(rows) - 1 == dataset["rows"]


def test_garbage_separate_has_the_dictionary_in_the_standards_columns(published):
    response = published.client(None).get("/api/v1/opendata/garbage_separate.csv")
    rows = rows_of(response.content)
    assert rows[0] == standard_header("garbage_separate")
    assert rows[1][:5] == ["412015", "1", "佐賀市", "", "アイロン"] and rows[1][7] == "不燃物"
    assert response["Content-Disposition"] == 'attachment; filename="412015_garbage_separate.csv"'


def test_the_event_writer_uses_the_standards_current_header_and_conventions(saga):
    with saga.schema():
        from tenants.selectors import current_municipality

        municipality = current_municipality()
    body, rows = opendata.write_events([{
        "id": 42, "title": "本庄町 夏祭り", "description": "盆踊りと屋台。\n雨天中止。", "place": "本庄公民館",
        "starts_at": datetime(2026, 8, 2, 18, 0, tzinfo=TOKYO), "ends_at": datetime(2026, 8, 2, 21, 30, tzinfo=TOKYO),
        "rsvp_deadline": datetime(2026, 7, 31, 17, 0, tzinfo=TOKYO), "capacity": 200, "tags": ["祭り", "子ども"],
        "latitude": 33.2494, "longitude": 130.2988, "published_at": datetime(2026, 7, 1, 9, 0, tzinfo=TOKYO),
    }], municipality=municipality)
    parsed = rows_of(body)
    assert parsed[0] == standard_header("event") and rows == 1
    record = dict(zip(parsed[0], parsed[1]))
    assert record["全国地方公共団体コード"] == "412015" and record["地方公共団体名"] == "佐賀市"
    assert (record["開始日"], record["終了日"], record["開始時間"], record["終了時間"]) == ("2026/8/2", "2026/8/2", "18:00", "21:30")
    assert record["キーワード"] == "祭り;子ども" and record["定員"] == "200" and record["緯度"] == "33.249400"
    assert record["参加申込終了日"] == "2026/7/31" and record["概要"] == "盆踊りと屋台。"
    assert record["説明"] == "盆踊りと屋台。\n雨天中止。"  # kept inside its quoted cell
    assert body.count(b"\r\n") == 2  # rows end in CRLF, as in the standard's files


def test_update_times_move_only_when_the_content_changes(published):
    from miniapps.garbage.services import sorting_import_opendata

    with published.schema():
        first = opendata.render(opendata.GARBAGE_SEPARATE).release
        later = opendata.release_record(key="garbage_separate", body=opendata.render(opendata.GARBAGE_SEPARATE).body,
                                        rows=2, now=timezone.now() + timedelta(hours=1))
        assert later.updated_at == first.updated_at and later.checked_at > first.checked_at
        sorting_import_opendata(raw=GARBAGE_CSV.replace("アイロン".encode(), "電気アイロン".encode()),
                                name="garbage_separate.csv", municipality_code="412015", replace_all=True)
        changed = opendata.render(opendata.GARBAGE_SEPARATE).release
    assert changed.updated_at > first.updated_at and changed.sha256 != first.sha256


def test_a_municipality_may_choose_another_licence(published):
    published.municipality.settings["opendata_license"] = {
        "id": "CC0-1.0", "name": "CC0 1.0 全世界", "url": "https://creativecommons.org/publicdomain/zero/1.0/deed.ja"}
    published.municipality.save(update_fields=["settings"])
    try:
        body = published.client(None).get("/api/v1/opendata/").json()
    finally:
        published.municipality.settings.pop("opendata_license")
        published.municipality.save(update_fields=["settings"])
    assert body["license"]["id"] == "CC0-1.0"
    assert {dataset["license"]["id"] for dataset in body["datasets"]} == {"CC0-1.0"}


def test_conditional_requests_get_304(published):
    client = published.client(None)
    response = client.get("/api/v1/opendata/garbage_separate.csv")
    etag = response["ETag"]
    assert response["Last-Modified"] and response["Cache-Control"] == "public, max-age=300"
    again = client.get("/api/v1/opendata/garbage_separate.csv", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""


def test_each_municipality_publishes_only_its_own_data(published, kanzaki):
    body = kanzaki.client(None).get("/api/v1/opendata/").json()
    assert body["municipality"]["code"] == "412104"
    assert {d["id"]: d["rows"] for d in body["datasets"]} == {"evacuation_space": 0, "garbage_separate": 0, "event": 0}
    rows = rows_of(kanzaki.client(None).get("/api/v1/opendata/garbage_separate.csv").content)
    assert rows == [standard_header("garbage_separate")]


def test_catalog_query_count(published):
    client = published.client(None)
    client.get("/api/v1/opendata/")  # the first call records each dataset's release once
    with assert_num_queries(2):  # SET search_path, the releases
        assert client.get("/api/v1/opendata/").status_code == 200
    with published.schema():
        assert OpenDataRelease.objects.count() == 3


def test_the_hourly_task_refreshes_every_available_dataset(published):
    from analytics.tasks import maintain

    with published.schema():
        result = maintain()
        assert result["opendata"] == 3 and OpenDataRelease.objects.count() == 3


# --- イベント一覧: community events marked for open data ------------------------------------------------
# The community tests' boards: residents verified with a citizen ID through the real enrolment API.
from tests.community.conftest import board, community_jpki, community_jpki_ca, kanzaki_board  # noqa: E402,F401

SAGA_CASTLE = {"lat": 33.2467, "lng": 130.3030}


def _event_post(board, author, title: str, *, open_data: bool | None = True, **event_fields) -> dict:
    start = (timezone.now() + timedelta(days=20)).astimezone(TOKYO).replace(hour=18, minute=0, second=0,
                                                                            microsecond=0)
    event = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=3)).isoformat(),
             "rsvp_deadline": (start - timedelta(days=2)).isoformat(), "place": "勧興公民館", "capacity": 200,
             **event_fields}
    if open_data is not None:
        event["open_data"] = open_data
    return board.post(author, title=title, category="event", body="盆踊りと屋台。\n雨天中止。", tags=["祭り", "子ども"],
                      location=SAGA_CASTLE, event=event)


def _event_rows(client) -> list[dict]:
    response = client.get("/api/v1/opendata/event.csv")
    assert response.status_code == 200, response.content[:300]
    rows = rows_of(response.content)
    assert rows[0] == standard_header("event")
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def test_the_event_dataset_is_offered_now_that_the_community_app_marks_events_public(published):
    assert opendata.EVENT.available()
    response = published.client(None).get("/api/v1/opendata/event.csv")
    assert response.status_code == 200
    assert rows_of(response.content) == [standard_header("event")]  # nothing marked public yet: header only
    assert response["Content-Disposition"] == 'attachment; filename="412015_event.csv"'


def test_event_csv_has_only_public_visible_events_with_the_district_as_organiser(published, board):
    organiser, neighbour = board.member("山田花子"), board.member("お隣さん")
    public = _event_post(board, organiser, "勧興 夏祭り")
    _event_post(board, organiser, "役員会（住民のみ）", open_data=False)
    _event_post(board, organiser, "既定は非公開", open_data=None)  # not said: not public
    hidden = _event_post(board, neighbour, "後で非表示")
    withdrawn = _event_post(board, neighbour, "後で取り下げ")
    board.post(organiser, title="ただのお知らせ")  # not an event
    moderator = published.client("community_moderator")
    assert moderator.post(f"/api/v1/staff/community/posts/{hidden['id']}/hide/", {}, format="json").status_code == 200
    assert neighbour.client().delete(f"/api/v1/community/posts/{withdrawn['id']}/").status_code == 204

    client = published.client(None)  # no login
    [record] = _event_rows(client)
    assert record["ID"] == str(public["id"]) and record["イベント名"] == "勧興 夏祭り"
    assert record["全国地方公共団体コード"] == "412015" and record["地方公共団体名"] == "佐賀市"
    assert record["主催者"] == "勧興校区 地域共創"
    assert record["場所名称"] == "勧興公民館" and record["定員"] == "200" and record["タグ"] == "祭り;子ども"
    assert (record["緯度"], record["経度"]) == ("33.246700", "130.303000")
    assert record["概要"] == "盆踊りと屋台。" and record["説明"] == "盆踊りと屋台。\n雨天中止。"
    start = datetime.fromisoformat(public["event"]["starts_at"]).astimezone(TOKYO)
    assert (record["開始日"], record["開始時間"], record["終了時間"]) == (opendata.standard_date(start), "18:00", "21:00")
    assert record["掲載開始日"] == opendata.standard_date(timezone.localdate())
    assert record["参加申込終了日"] == opendata.standard_date(start - timedelta(days=2))
    body = client.get("/api/v1/opendata/event.csv").content.decode("utf-8-sig")
    for private in ("山田花子", "お隣さん", "役員会", "既定は非公開", "後で非表示", "後で取り下げ", "ただのお知らせ"):
        assert private not in body, private
    catalog = {d["id"]: d for d in client.get("/api/v1/opendata/").json()["datasets"]}
    assert catalog["event"]["rows"] == 1


def test_the_event_release_moves_when_a_public_event_changes(published, board):
    organiser = board.member("主催者")
    event_id = _event_post(board, organiser, "勧興 夏祭り")["id"]
    client = published.client(None)
    first = client.get("/api/v1/opendata/event.csv")
    assert client.get("/api/v1/opendata/event.csv", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304

    url = f"/api/v1/community/events/{event_id}/"
    assert organiser.client().patch(url, {"place": "勧興小学校 体育館"}, format="json").status_code == 200
    moved = client.get("/api/v1/opendata/event.csv", HTTP_IF_NONE_MATCH=first["ETag"])
    assert moved.status_code == 200 and moved["ETag"] != first["ETag"]
    assert [row["場所名称"] for row in _event_rows(client)] == ["勧興小学校 体育館"]
    with published.schema():
        release = OpenDataRelease.objects.get(dataset="event")
        assert release.rows == 1 and release.sha256 == moved["ETag"].strip('"')

    assert organiser.client().patch(url, {"open_data": False}, format="json").json()["open_data"] is False
    assert _event_rows(client) == []
    with published.schema():
        assert OpenDataRelease.objects.get(dataset="event").rows == 0


def test_another_municipalitys_events_never_reach_this_file(published, board, kanzaki, kanzaki_board):
    _event_post(board, board.member(), "佐賀の夏祭り")
    kanzaki_member = kanzaki_board.member("神埼の住民")
    kanzaki_board.post(kanzaki_member, title="神埼 川沿い清掃", category="event", event={
        "starts_at": (timezone.now() + timedelta(days=9)).isoformat(), "place": "神埼中央公園", "open_data": True})

    saga_rows = _event_rows(published.client(None))
    kanzaki_rows = _event_rows(kanzaki.client(None))
    assert [row["イベント名"] for row in saga_rows] == ["佐賀の夏祭り"]
    assert [(row["イベント名"], row["全国地方公共団体コード"], row["主催者"]) for row in kanzaki_rows] == [
        ("神埼 川沿い清掃", "412104", "神埼校区 地域共創")]
    catalog = kanzaki.client(None).get("/api/v1/opendata/").json()
    assert {d["id"]: d["rows"] for d in catalog["datasets"]}["event"] == 1


@pytest.mark.parametrize("count", [1, 6])
def test_public_events_is_one_query(published, board, count):
    from miniapps.community.selectors import public_events

    organiser = board.member()
    for index in range(count):
        _event_post(board, organiser, f"イベント{index}")
    with published.schema():
        with assert_num_queries(2):  # SET search_path, the events (with their posts and districts)
            events = public_events()
    assert len(events) == count and {event["organizer"] for event in events} == {"勧興校区 地域共創"}


@pytest.mark.parametrize("count", [1, 6])
def test_event_csv_query_count_is_constant(published, board, count):
    organiser = board.member()
    for index in range(count):
        _event_post(board, organiser, f"イベント{index}")
    client = published.client(None)
    client.get("/api/v1/opendata/event.csv")  # the first call records the release
    # SET search_path, the events, the release locked and its check time saved inside a savepoint pair.
    with assert_num_queries(6):
        assert client.get("/api/v1/opendata/event.csv").status_code == 200
