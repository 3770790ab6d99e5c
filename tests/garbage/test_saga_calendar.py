"""Saga's real 5374 data: the API's answers match the published rules (concrete dates, every area
against an independent reading of the CSV, and the New Year closure)."""
from __future__ import annotations

import calendar
import csv
from datetime import date, timedelta

import pytest

from miniapps.garbage.datasets import saga_5374_dir

from .conftest import area_id

CATEGORIES = ["燃えるごみ", "資源物（紙・布類、ビン・缶）", "燃えないごみ", "ペットボトル"]  # area_days.csv column order


def collections(client, aid: int, start: str, end: str) -> list[tuple[str, str]]:
    response = client.get(f"/api/v1/garbage/areas/{aid}/collections/?from={start}&to={end}")
    assert response.status_code == 200, response.content
    return [(row["date"], row["category"]["name"]) for row in response.json()]


def test_imajuku_around_new_year_2021(garbage_calendars, saga):
    """今宿町: 燃えるごみ 月 木, 資源物 金1 金3, 燃えないごみ 金2 金4, ペットボトル 水1 水3;
    the centre is closed 2020/12/30-2021/01/03."""
    aid = area_id(saga, "今宿町")
    assert collections(saga.client(), aid, "2020-12-28", "2021-01-22") == [
        ("2020-12-28", "燃えるごみ"),
        # 12/31 (Thu, burnable) and 1/1 (1st Fri, resources) fall in the closure
        ("2021-01-04", "燃えるごみ"),
        ("2021-01-06", "ペットボトル"),
        ("2021-01-07", "燃えるごみ"),
        ("2021-01-08", "燃えないごみ"),
        ("2021-01-11", "燃えるごみ"),
        ("2021-01-14", "燃えるごみ"),
        ("2021-01-15", "資源物（紙・布類、ビン・缶）"),
        ("2021-01-18", "燃えるごみ"),
        ("2021-01-20", "ペットボトル"),
        ("2021-01-21", "燃えるごみ"),
        ("2021-01-22", "燃えないごみ"),
    ]


def test_onimaru_may_2021(garbage_calendars, saga):
    """鬼丸町: 燃えるごみ 火 金, 資源物 木1 木3, 燃えないごみ 木2 木4, ペットボトル 水2 水4."""
    result = collections(saga.client(), area_id(saga, "鬼丸町"), "2021-05-04", "2021-05-14")
    assert result == [("2021-05-04", "燃えるごみ"), ("2021-05-06", "資源物（紙・布類、ビン・缶）"),
                      ("2021-05-07", "燃えるごみ"), ("2021-05-11", "燃えるごみ"), ("2021-05-12", "ペットボトル"),
                      ("2021-05-13", "燃えないごみ"), ("2021-05-14", "燃えるごみ")]


def test_same_name_in_two_towns_has_its_own_rules(garbage_calendars, saga):
    kawasoe = area_id(saga, "新村", "川副町")  # 資源物 木1 木3
    higashiyoka = area_id(saga, "新村", "東与賀町")  # 資源物 水1 水3
    client = saga.client()
    assert ("2021-05-06", "資源物（紙・布類、ビン・缶）") in collections(client, kawasoe, "2021-05-05", "2021-05-06")
    assert collections(client, higashiyoka, "2021-05-05", "2021-05-06") == [("2021-05-05", "資源物（紙・布類、ビン・缶）")]


def _independent_dates(cell: str, start: date, end: date) -> set[date]:
    """A second, deliberately naive reading of Saga's cells (weekday and n-th weekday only)."""
    weekdays = "月火水木金土日"
    result = set()
    for token in cell.split():
        weekday = weekdays.index(token[0])
        for year, month in {(d.year, d.month) for d in (start + timedelta(n) for n in range((end - start).days + 1))}:
            matches = [day for day in range(1, calendar.monthrange(year, month)[1] + 1)
                       if date(year, month, day).weekday() == weekday]
            chosen = matches if len(token) == 1 else [matches[int(token[1]) - 1]] if int(token[1]) <= len(matches) else []
            result |= {date(year, month, day) for day in chosen if start <= date(year, month, day) <= end}
    return result


def test_every_area_matches_the_csv_for_fiscal_2021(garbage_calendars, saga):
    with open(saga_5374_dir() / "area_days.csv", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    start, end = date(2021, 4, 1), date(2022, 3, 31)
    client = saga.client()
    checked = 0
    for row in rows:
        aid = area_id(saga, row[1], None) if sum(r[1] == row[1] for r in rows) == 1 else None
        if aid is None:
            continue  # the five names used in two towns are checked above
        got = collections(client, aid, start.isoformat(), end.isoformat())
        for name, cell in zip(CATEGORIES, row[3:7]):
            expected = sorted(d.isoformat() for d in _independent_dates(cell, start, end))
            assert [d for d, category in got if category == name] == expected, (row[1], name, cell)
        checked += 1
    assert checked == 314 - 10


def test_no_area_collects_during_the_new_year_closure(garbage_calendars, saga):
    client = saga.client()
    for aid in (area_id(saga, "今宿町"), area_id(saga, "鬼丸町"), area_id(saga, "福島", "大和町")):
        dates = [d for d, _ in collections(client, aid, "2020-12-25", "2021-01-08")]
        assert dates and not any("2020-12-30" <= d <= "2021-01-03" for d in dates)


@pytest.mark.parametrize("query", ["今宿", "いまじゅく", "イマジュク", "ｲﾏｼﾞｭｸ"])
def test_area_search_finds_imajuku_however_it_is_typed(garbage_calendars, saga, query):
    response = saga.client().get("/api/v1/garbage/areas/", {"q": query})
    assert response.status_code == 200
    assert "今宿町" in [a["name"] for a in response.json()["results"]]


def test_area_search_by_town_name_finds_its_areas(garbage_calendars, saga):
    response = saga.client().get("/api/v1/garbage/areas/", {"q": "東与賀", "page_size": 200})
    names = {(a["group"]["name"], a["name"]) for a in response.json()["results"]}
    assert ("東与賀町", "新村") in names and all(group == "東与賀町" for group, _ in names)


@pytest.mark.parametrize("query", ["アルミ", "あるみ", "ｱﾙﾐ", "アルミホイル"])
def test_item_search_kana_spellings(garbage_calendars, saga, query):
    response = saga.client().get("/api/v1/garbage/items/", {"q": query})
    items = {item["name"]: item for item in response.json()["results"]}
    assert items["アルミホイル"]["category"]["name"] == "燃えるごみ"
    assert items["アルミホイル"]["notice"] == "多量にある場合は「燃えないごみ」へ。"


@pytest.mark.parametrize("query", ["貝殻", "かいがら", "カイガラ", "ｶｲｶﾞﾗ"])
def test_item_search_finds_kanji_items_by_reading(garbage_calendars, saga, query):
    response = saga.client().get("/api/v1/garbage/items/", {"q": query})
    assert [item["name"] for item in response.json()["results"]] == ["貝殻"]
