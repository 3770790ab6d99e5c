"""The national standard ゴミの分別方法一覧 CSV: import into the sorting dictionary and export back."""
from __future__ import annotations

import csv
import io
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from miniapps.garbage.datasets import shared_data_dir
from miniapps.garbage.importers.csvfiles import ImportFailed
from miniapps.garbage.importers.opendata import COLUMNS, write_garbage_separate
from miniapps.garbage.models import SortingItem
from miniapps.garbage.services import sorting_import_opendata


def test_our_columns_are_the_standards():
    with open(shared_data_dir() / "opendata" / "garbage_separate.header.csv", encoding="utf-8-sig") as handle:
        assert tuple(next(csv.reader(handle))) == COLUMNS


def _csv(rows, code="412015", encoding="utf-8-sig") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for index, (name, kana, en, label, notice, fee) in enumerate(rows, start=1):
        writer.writerow([code, f"G{index:03d}", "佐賀市", "", name, kana, en, label, notice, "", fee])
    return buffer.getvalue().encode(encoding)


ROWS = [
    ("ペットボトル", "ペットボトル", "PET bottle", "ペットボトル", "キャップとラベルは外す", ""),
    ("蛍光管", "ケイコウカン", "Fluorescent tube", "燃えないごみ", "割れないように", ""),
    ("ソファー", "ソファー", "Sofa", "粗大ごみ", "予約制", "1,000円"),
]


def test_import_replaces_the_standard_items_and_is_searchable(garbage_calendars, saga):
    with saga.schema():
        report = sorting_import_opendata(raw=_csv(ROWS), name="garbage.csv", municipality_code="412015")
        assert report.counts["items"] == {"created": 3, "deleted": 0}
        assert any("粗大ごみ" in w for w in report.warnings)
        assert SortingItem.objects.filter(source="5374").count() == 270  # target.csv items stay
        sofa = SortingItem.objects.get(source="opendata", name="ソファー")
        assert sofa.category is None and sofa.category_label == "粗大ごみ" and sofa.fee == "1,000円"
        sorting_import_opendata(raw=_csv(ROWS[:1]), name="garbage.csv", municipality_code="412015")
        assert SortingItem.objects.filter(source="opendata").count() == 1
    with saga.schema():  # the same file in Shift_JIS
        sorting_import_opendata(raw=_csv(ROWS, encoding="cp932"), name="sjis.csv", municipality_code="412015")
    for query in ("けいこうかん", "ｹｲｺｳｶﾝ", "fluorescent"):
        names = [i["name"] for i in saga.client().get("/api/v1/garbage/items/", {"q": query}).json()["results"]]
        assert "蛍光管" in names, query


def test_wrong_municipality_and_missing_columns_are_refused(garbage_calendars, saga):
    with saga.schema():
        before = SortingItem.objects.count()
        with pytest.raises(ImportFailed) as caught:
            sorting_import_opendata(raw=_csv(ROWS, code="412104"), name="kanzaki.csv", municipality_code="412015")
        assert [(i.line, i.column, i.token) for i in caught.value.issues] == [
            (2, "全国地方公共団体コード", "412104"), (3, "全国地方公共団体コード", "412104"), (4, "全国地方公共団体コード", "412104")]
        with pytest.raises(ImportFailed) as caught:
            sorting_import_opendata(raw="品目,区分\nA,B\n".encode(), name="bad.csv", municipality_code="412015")
        assert {i.column for i in caught.value.issues} == {"ゴミの品目", "分別区分"}
        # Codes without the leading zero or the check digit are the same municipality.
        sorting_import_opendata(raw=_csv(ROWS, code="41201"), name="five.csv", municipality_code="412015")
        assert SortingItem.objects.filter(source="opendata").count() == 3
        assert SortingItem.objects.count() == before + 3


def test_export_then_import_round_trips(garbage_calendars, saga):
    with saga.schema():
        sorting_import_opendata(raw=_csv(ROWS), name="garbage.csv", municipality_code="412015", replace_all=True)
        exported = write_garbage_separate(SortingItem.objects.select_related("category"), municipality_code="412015",
                                          municipality_name="佐賀市")
        first = list(SortingItem.objects.values_list("name", "kana", "name_en", "category_label", "notice", "fee"))
        sorting_import_opendata(raw=exported, name="export.csv", municipality_code="412015", replace_all=True)
        again = list(SortingItem.objects.values_list("name", "kana", "name_en", "category_label", "notice", "fee"))
    assert again == first and len(first) == 3


def test_commands(garbage_calendars, saga, tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(_csv(ROWS))
    out = StringIO()
    call_command("import_garbage_separate", str(path), "--schema", saga.schema_name, stdout=out)
    assert "分別辞典 / dictionary items: created 3" in out.getvalue()
    target = tmp_path / "out.csv"
    call_command("export_garbage_separate", str(target), "--schema", saga.schema_name, stderr=StringIO())
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 1 + 270 + 3
    path.write_bytes(_csv(ROWS, code="412104"))
    with pytest.raises(CommandError, match="nothing changed"):
        call_command("import_garbage_separate", str(path), "--schema", saga.schema_name, stderr=StringIO())
