"""Another city's 5374 data (tests/garbage/data/5374-wakaba: Shift_JIS, every-other-week rules,
month restrictions, explicit dates, remarks, full-width cells) imports and answers correctly."""
from __future__ import annotations

from miniapps.garbage.models import Area

from .conftest import area_id


def dates_of(client, aid: int, category: str, start: str, end: str) -> list[str]:
    response = client.get(f"/api/v1/garbage/areas/{aid}/collections/?from={start}&to={end}")
    assert response.status_code == 200, response.content
    return [row["date"] for row in response.json() if row["category"]["name"] == category]


def test_wakaba_imports_from_shift_jis(garbage_calendars, kanzaki):
    report = garbage_calendars["wakaba"]
    assert set(v for k, v in report.files.items() if k != "area_master.csv") == {"shift_jis (cp932)"}
    assert report.counts["areas"]["created"] == 7 and report.counts["categories"]["created"] == 6
    assert any("隔木20250409" in w for w in report.warnings)  # anchor not on its weekday
    assert any("粗大ごみ" in w for w in report.warnings)  # dictionary category the calendar lacks
    with kanzaki.schema():
        assert Area.objects.get(name="駅前").extra == {"備考": "駅前ロータリー東側の集積所"}


def test_every_other_week(garbage_calendars, kanzaki):
    client = kanzaki.client()
    assert dates_of(client, area_id(kanzaki, "本町一丁目"), "燃やさないごみ", "2025-04-01", "2025-05-31") == [
        "2025-04-09", "2025-04-23", "2025-05-07", "2025-05-21"]
    assert dates_of(client, area_id(kanzaki, "本町二丁目"), "燃やさないごみ", "2025-04-01", "2025-05-31") == [
        "2025-04-02", "2025-04-16", "2025-04-30", "2025-05-14", "2025-05-28"]  # the lattice runs both ways
    assert dates_of(client, area_id(kanzaki, "本町一丁目"), "古紙・古布", "2025-04-01", "2025-04-30") == [
        "2025-04-11", "2025-04-25"]
    assert dates_of(client, area_id(kanzaki, "緑が丘"), "燃やさないごみ", "2025-04-01", "2025-04-30") == [
        "2025-04-10", "2025-04-24"]


def test_month_restriction(garbage_calendars, kanzaki):
    assert dates_of(kanzaki.client(), area_id(kanzaki, "本町一丁目"), "有害ごみ", "2025-04-01", "2026-03-31") == [
        "2025-04-08", "2025-07-08", "2025-10-14", "2026-01-13"]


def test_explicit_dates(garbage_calendars, kanzaki):
    assert dates_of(kanzaki.client(), area_id(kanzaki, "若葉台"), "燃やさないごみ", "2025-04-01", "2026-03-31") == [
        "2025-04-23", "2025-06-25", "2025-08-27", "2025-10-22", "2025-12-24", "2026-02-25"]


def test_closure_applies_only_to_areas_of_the_centre(garbage_calendars, kanzaki):
    client = kanzaki.client()
    honcho = area_id(kanzaki, "本町一丁目")
    assert dates_of(client, honcho, "燃やすごみ", "2025-12-29", "2026-01-06") == ["2025-12-29", "2026-01-05"]
    # 12/31 is on 本町一丁目's every-other-Wednesday lattice, but the centre is closed.
    assert dates_of(client, honcho, "燃やさないごみ", "2025-12-17", "2026-01-14") == ["2025-12-17", "2026-01-14"]
    # 山手 has no centre: New Year collections go ahead.
    assert dates_of(client, area_id(kanzaki, "山手"), "燃やすごみ", "2025-12-29", "2026-01-04") == [
        "2025-12-31", "2026-01-03"]


def test_remarks_become_notes(garbage_calendars, kanzaki):
    client = kanzaki.client()
    response = client.get(f"/api/v1/garbage/areas/{area_id(kanzaki, '駅前')}/collections/?from=2025-05-05&to=2025-05-05")
    assert response.json() == [{"date": "2025-05-05", "category": response.json()[0]["category"], "note": "祝日も収集します。"}]
    assert response.json()[0]["category"]["name"] == "燃やさないごみ"
    response = client.get(f"/api/v1/garbage/areas/{area_id(kanzaki, '山手')}/collections/?from=2025-12-01&to=2026-03-31")
    hazardous = [row for row in response.json() if row["category"]["name"] == "有害ごみ"]
    assert [row["date"] for row in hazardous] == ["2025-12-09", "2026-01-13", "2026-02-10"]
    assert {row["note"] for row in hazardous} == {"冬期は積雪により収集を中止することがあります。"}


def test_full_width_cells_mean_the_same(garbage_calendars, kanzaki):
    client = kanzaki.client()
    honcho, minato = area_id(kanzaki, "本町一丁目"), area_id(kanzaki, "港町")
    a = client.get(f"/api/v1/garbage/areas/{honcho}/collections/?from=2025-04-01&to=2026-03-31").json()
    b = client.get(f"/api/v1/garbage/areas/{minato}/collections/?from=2025-04-01&to=2026-03-31").json()
    assert len(a) > 200 and a == b


def test_sorting_dictionary_keeps_unknown_categories_by_name(garbage_calendars, kanzaki):
    items = kanzaki.client().get("/api/v1/garbage/items/", {"q": "ソファ"}).json()["results"]
    assert [(i["name"], i["category"], i["category_label"]) for i in items] == [("ソファー", None, "粗大ごみ")]
    items = kanzaki.client().get("/api/v1/garbage/items/", {"q": "ｹｲｺｳｶﾝ"}).json()["results"]
    assert [(i["name"], i["category"]["name"]) for i in items] == [("蛍光管", "有害ごみ")]
