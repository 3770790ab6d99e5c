"""Registry import (both generations of 指定緊急避難場所一覧) and the open-data export."""
from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from shelters.models import Shelter
from shelters.opendata import CURRENT_HEADER
from shelters.services import shelters_import

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "opendata"
OLD_HEADER = (SHARED / "evacuation_space.old.header.csv").read_text(encoding="utf-8-sig").strip().split(",") \
    if (SHARED / "evacuation_space.old.header.csv").exists() else None


def _csv(header, rows, *, bom=True, encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    text = ("\ufeff" if bom and encoding == "utf-8" else "") + buffer.getvalue()
    return text.encode(encoding)


def test_current_header_matches_the_national_standard():
    shared = SHARED / "evacuation_space.header.csv"
    if not shared.exists():
        pytest.skip("shared/data not present")
    assert shared.read_text(encoding="utf-8-sig").strip().split(",") == CURRENT_HEADER


def test_demo_registry_imports_and_reimports_idempotently(saga, saga_shelters):
    assert len(saga_shelters) == 12
    first = saga_shelters[0]
    assert first.name == "佐賀市立勧興小学校" and first.capacity == 600
    assert set(first.hazards) == {"flood", "earthquake", "fire"}
    assert first.is_designated_shelter
    from tests.shelters.conftest import DEMO_CSV

    with saga.schema():
        again = shelters_import(data=DEMO_CSV.read_bytes())
        assert (again.created, again.updated, again.unchanged) == (0, 0, 12)


@pytest.mark.skipif(OLD_HEADER is None, reason="shared/data not present")
@pytest.mark.parametrize("encoding, bom", [("utf-8", True), ("utf-8", False), ("cp932", False)])
def test_older_format_imports_in_any_encoding(saga, encoding, bom):
    data = _csv(OLD_HEADER, [{"NO": "1", "名称": "旧形式公民館", "名称_カナ": "キュウケイシキ", "住所": "佐賀県佐賀市旧町1-1",
                              "緯度": "33.25", "経度": "130.30", "災害種別_洪水": "1", "災害種別_地震": "1",
                              "想定収容人数": "120", "指定避難所との重複": "1"}], bom=bom, encoding=encoding)
    with saga.schema():
        report = shelters_import(data=data)
        assert report.ok, report.errors
        shelter = Shelter.objects.get(name="旧形式公民館")
    assert shelter.address == "佐賀県佐賀市旧町1-1" and shelter.capacity == 120
    assert set(shelter.hazards) == {"flood", "earthquake"} and shelter.is_designated_shelter


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(saga):
    data = _csv(CURRENT_HEADER, [
        {"名称": "良い行", "所在地_連結表記": "佐賀市1", "想定収容人数": "10"},
        {"名称": "", "所在地_連結表記": "佐賀市2"},
        {"名称": "緯度が変", "所在地_連結表記": "佐賀市3", "緯度": "north"},
        {"名称": "定員が変", "所在地_連結表記": "佐賀市4", "想定収容人数": "多数"},
    ])
    with saga.schema():
        report = shelters_import(data=data)
        assert not Shelter.objects.exists()
    lines = {(error.line, error.column) for error in report.errors}
    assert {(3, "名称"), (4, "緯度"), (5, "想定収容人数")} <= lines


def test_not_a_shelter_file_is_refused(saga):
    with saga.schema():
        report = shelters_import(data="a,b,c\n1,2,3\n".encode())
    assert not report.ok and report.errors[0].line == 1


def test_import_command(saga, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(_csv(CURRENT_HEADER, [{"名称": "", "所在地_連結表記": "x"}]))
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_shelters", "--schema", saga.schema_name, str(path), stderr=err)
    assert "2行目 名称" in err.getvalue()
    from tests.shelters.conftest import DEMO_CSV

    out = io.StringIO()
    call_command("import_shelters", "--schema", saga.schema_name, str(DEMO_CSV), stdout=out)
    assert "12 created" in out.getvalue()
    with pytest.raises(CommandError, match="no municipality"):
        call_command("import_shelters", "--schema", "nowhere", str(DEMO_CSV))


def test_export_is_the_current_standard_and_round_trips(saga, saga_shelters):
    response = saga.client().get("/api/v1/opendata/evacuation_space.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert list(rows[0].keys()) == CURRENT_HEADER
    assert rows[0]["全国地方公共団体コード"] == "412015" and rows[0]["名称"] == "佐賀市立勧興小学校"
    assert rows[0]["災害種別_洪水"] == "1" and rows[0]["災害種別_津波"] == ""
    # What we export, we can import again unchanged.
    with saga.schema():
        again = shelters_import(data=response.content)
    assert again.ok and again.unchanged == 12


def test_export_negotiates_text_csv(saga, saga_shelters):
    response = saga.client().get("/api/v1/opendata/evacuation_space.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
