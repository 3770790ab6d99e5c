"""Open data: the public catalog (no login), the standard CSVs with the standard's exact headers,
UTF-8 with BOM, update times that move only when the content changes, the licence, and the event
dataset waiting for community events marked public."""
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
    assert set(by_id) == {"evacuation_space", "garbage_separate"}  # events: see test_the_event_dataset_*
    evacuation = by_id["evacuation_space"]
    assert evacuation["url"] == "http://saga.localhost/api/v1/opendata/evacuation_space.csv"
    assert evacuation["standard_dataset"] == "指定緊急避難場所一覧" and evacuation["columns"] == 39
    assert evacuation["rows"] > 0 and evacuation["license"]["id"] == "CC-BY-4.0"
    assert by_id["garbage_separate"]["rows"] == 2
    assert by_id["garbage_separate"]["url"] == "http://saga.localhost/api/v1/opendata/garbage_separate.csv"
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


def test_the_event_dataset_waits_for_community_events_marked_public(published):
    """The community app has not published `public_events()` yet: the dataset is left out of the
    catalog and its URL answers 404 (in the error shape), rather than serving a file without events."""
    assert not opendata.EVENT.available()
    response = published.client(None).get("/api/v1/opendata/event.csv")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert "event" not in {d["id"] for d in published.client(None).get("/api/v1/opendata/").json()["datasets"]}


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
    assert {d["id"]: d["rows"] for d in body["datasets"]} == {"evacuation_space": 0, "garbage_separate": 0}
    rows = rows_of(kanzaki.client(None).get("/api/v1/opendata/garbage_separate.csv").content)
    assert rows == [standard_header("garbage_separate")]


def test_catalog_query_count(published):
    client = published.client(None)
    client.get("/api/v1/opendata/")  # the first call records each dataset's release once
    with assert_num_queries(2):  # SET search_path, the releases
        assert client.get("/api/v1/opendata/").status_code == 200
    with published.schema():
        assert OpenDataRelease.objects.count() == 2


def test_the_hourly_task_refreshes_every_available_dataset(published):
    from analytics.tasks import maintain

    with published.schema():
        result = maintain()
        assert result["opendata"] == 2 and OpenDataRelease.objects.count() == 2
