"""The 5374 importer: Saga's real files, re-import keeping ids, errors with file/line/column/token,
atomicity, encodings and optional columns, the management command."""
from __future__ import annotations

import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from miniapps.garbage import services
from miniapps.garbage.datasets import saga_5374_dir
from miniapps.garbage.importers.csvfiles import ImportFailed
from miniapps.garbage.models import Area, AreaGroup, Category, CenterClosure, CollectionRule, Reminder, SortingItem
from miniapps.garbage.services import calendar_import_5374


def test_saga_real_data_imports_cleanly(garbage_calendars, saga):
    report = garbage_calendars["saga"]
    assert set(report.files.values()) == {"utf-8"}
    assert report.counts["areas"]["created"] == 314
    assert report.counts["categories"]["created"] == 4
    assert report.counts["groups"]["created"] == 15
    assert report.counts["rules"]["created"] == 314 * 4
    assert report.counts["items"]["created"] == 270
    assert report.counts["closures"]["created"] == 1
    # The only remark: Saga's unnamed route-letter column is kept as an area attribute.
    assert len(report.warnings) == 1 and "8列目" in report.warnings[0]
    with saga.schema():
        assert Area.objects.count() == 314
        assert list(Category.objects.values_list("name", flat=True)) == [
            "燃えるごみ", "燃えないごみ", "資源物（紙・布類、ビン・缶）", "ペットボトル"]
        # The same 地名 in two groups stays two areas.
        assert sorted(Area.objects.filter(name="新村").values_list("group__name", flat=True)) == ["川副町", "東与賀町"]
        assert Area.objects.get(name="今宿町").extra == {"8列目": "D"}


def test_reimport_replaces_in_place_keeping_ids_and_reminders(garbage_calendars, saga):
    with saga.schema():
        area = Area.objects.get(name="今宿町")
        burnable = Category.objects.get(name="燃えるごみ")
        services.reminder_set(user=saga.resident, area=area, category_ids=[burnable.id], timing="evening_before")
        report = calendar_import_5374(directory=saga_5374_dir())
        assert report.counts["areas"] == {"created": 0, "updated": 0, "deleted": 0}
        assert report.counts["categories"] == {"created": 0, "updated": 0, "deleted": 0}
        assert Area.objects.get(name="今宿町").id == area.id
        reminder = Reminder.objects.get(user=saga.resident)
        assert reminder.area_id == area.id and reminder.category_ids == [burnable.id]


def _copy_saga(tmp_path: Path) -> Path:
    target = tmp_path / "saga"
    shutil.copytree(saga_5374_dir(), target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


def _replace_line(path: Path, line_no: int, old: str, new: str) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert old in lines[line_no - 1]
    lines[line_no - 1] = lines[line_no - 1].replace(old, new, 1)
    path.write_text("\n".join(lines), encoding="utf-8")


def test_malformed_cells_are_reported_with_file_line_column_token_and_nothing_changes(garbage_calendars, saga, tmp_path):
    directory = _copy_saga(tmp_path)
    _replace_line(directory / "area_days.csv", 3, "月 木", "月 毎週木")  # 朝日町, 燃えるごみ
    _replace_line(directory / "area_days.csv", 6, "水2 水4,I", "水2 水9,I")  # 伊勢町, ペットボトル
    _replace_line(directory / "center.csv", 2, "2021/01/03", "2021/13/03")
    with saga.schema():
        before = list(CollectionRule.objects.order_by("id").values_list("id", "cell"))
        with pytest.raises(ImportFailed) as caught:
            calendar_import_5374(directory=directory)
        issues = {(i.file, i.line, i.column, i.token) for i in caught.value.issues}
        assert issues == {
            ("area_days.csv", 3, "4列目「燃えるごみ」", "毎週木"),
            ("area_days.csv", 6, "7列目「ペットボトル」", "水9"),
            ("center.csv", 2, "休止終了日", "2021/13/03"),
        }
        assert list(CollectionRule.objects.order_by("id").values_list("id", "cell")) == before


def test_a_failure_while_writing_rolls_everything_back(garbage_calendars, saga, tmp_path, monkeypatch):
    directory = _copy_saga(tmp_path)
    _replace_line(directory / "area_days.csv", 2, "今宿町", "今宿町（改）")
    original = CollectionRule.objects.bulk_create

    def fail_midway(*args, **kwargs):
        raise RuntimeError("disk full")

    with saga.schema():
        monkeypatch.setattr(CollectionRule.objects, "bulk_create", fail_midway)
        with pytest.raises(RuntimeError):
            calendar_import_5374(directory=directory)
        monkeypatch.setattr(CollectionRule.objects, "bulk_create", original)
        assert Area.objects.filter(name="今宿町").exists()
        assert not Area.objects.filter(name="今宿町（改）").exists()
        assert CollectionRule.objects.count() == 314 * 4


def test_unknown_remark_and_missing_required_file(saga, tmp_path):
    (tmp_path / "area_days.csv").write_text("地名,燃えるごみ\nA町,月 *9\n", encoding="utf-8")
    with saga.schema(), pytest.raises(ImportFailed) as caught:
        calendar_import_5374(directory=tmp_path)
    assert [(i.file, i.line) for i in caught.value.issues] == [("description.csv", None)]
    (tmp_path / "description.csv").write_text("label\n燃えるごみ\n", encoding="utf-8")
    with saga.schema(), pytest.raises(ImportFailed) as caught:
        calendar_import_5374(directory=tmp_path)
    assert [(i.file, i.line, i.column, i.token) for i in caught.value.issues] == [
        ("area_days.csv", 2, "2列目「燃えるごみ」", "*9")]


def test_bom_crlf_minimal_columns_and_extra_columns(saga, tmp_path):
    """UTF-8 with a BOM, CRLF, no optional files, description.csv without colours, an extra column
    (kept as an attribute) and a category column description.csv does not know."""
    files = {
        "area_days.csv": "地名,センター,燃やすごみ,資源ごみ,収集ルート,粗大\r\n北町,,月 木,水2,A-1,\r\n南町,,火 金,水4,B-2,隔土20250405\r\n",
        "description.csv": "label,description\r\n燃やすごみ,生ごみなど\r\n資源ごみ,びん・缶\r\n",
        "target.csv": "label,name\r\n燃やすごみ,生ごみ\r\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    with saga.schema():
        report = calendar_import_5374(directory=tmp_path)
        assert report.files["area_days.csv"] == "utf-8 (BOM)"
        assert report.files["center.csv"] == "absent"
        assert [c.name for c in Category.objects.all()] == ["燃やすごみ", "資源ごみ", "粗大"]
        assert Category.objects.get(name="燃やすごみ").color.startswith("#")
        assert Area.objects.get(name="北町").extra == {"収集ルート": "A-1"}
        assert not CenterClosure.objects.exists() and not AreaGroup.objects.exists()
        assert SortingItem.objects.get().kana == "なまごみ"
    assert any("粗大" in w for w in report.warnings)
    assert any("収集ルート" in w for w in report.warnings)


def test_undecodable_file_is_reported(saga, tmp_path):
    (tmp_path / "area_days.csv").write_bytes("地名,燃やすごみ\n".encode() + b"\x80\xff\xfe\n")
    (tmp_path / "description.csv").write_text("label\n燃やすごみ\n", encoding="utf-8")
    with saga.schema(), pytest.raises(ImportFailed) as caught:
        calendar_import_5374(directory=tmp_path)
    assert caught.value.issues[0].file == "area_days.csv" and caught.value.issues[0].line == 2


def test_dry_run_writes_nothing(saga, tmp_path):
    (tmp_path / "area_days.csv").write_text("地名,燃やすごみ\n試験町,月\n", encoding="utf-8")
    (tmp_path / "description.csv").write_text("label\n燃やすごみ\n", encoding="utf-8")
    with saga.schema():
        report = calendar_import_5374(directory=tmp_path, dry_run=True)
        assert report.counts["areas"] == {"parsed": 1}
        assert not Area.objects.filter(name="試験町").exists()


def test_command_reports_what_it_did_and_fails_loudly(garbage_calendars, saga, tmp_path):
    out = StringIO()
    call_command("import_5374", str(saga_5374_dir()), "--schema", saga.schema_name, stdout=out)
    text = out.getvalue()
    assert "取り込みました / imported" in text and "地区 / areas: created 0, updated 0, deleted 0" in text
    directory = _copy_saga(tmp_path)
    _replace_line(directory / "area_days.csv", 3, "月 木", "月 X")
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("import_5374", str(directory), "--schema", saga.schema_name, stderr=err)
    assert "area_days.csv:3 [4列目「燃えるごみ」] 「X」" in err.getvalue()
    with pytest.raises(CommandError, match="no municipality"):
        call_command("import_5374", str(directory), "--schema", "nowhere")
