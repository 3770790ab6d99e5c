"""Roster import each April: the management command and the service; bad rows reported by line,
nothing imported on error; UTF-8 with or without BOM and Shift_JIS."""
from __future__ import annotations

import io
import tempfile

import pytest
from django.core.management import CommandError, call_command

from accounts.roles import Role
from accounts.services import staff_create
from miniapps.attendance.models import Enrollment, School, SchoolClass, Student
from miniapps.attendance.roster import RosterError, roster_import
from tests.base import TEST_PASSWORD

HEADER = "学校コード,学校名,校種,年度,学年,組,出席番号,児童生徒番号,氏名,ふりがな,担任"


@pytest.fixture
def teacher(saga):
    with saga.schema():
        return staff_create(username="sensei@saga.example", password=TEST_PASSWORD, roles=[Role.TEACHER]).username


def _csv(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def _run(saga, text: str, encoding="utf-8", *args):
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as handle:
        handle.write(text.encode(encoding) if isinstance(text, str) else text)
        path = handle.name
    out, err = io.StringIO(), io.StringIO()
    call_command("import_school_roster", "--schema", saga.schema_name, path, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_command_imports_utf8_with_and_without_bom_and_shift_jis(saga, teacher, encoding):
    text = _csv(f"T100,佐賀市立勧興小学校,小学校,2026,1,1組,1,K001,佐賀 太郎,さが たろう,{teacher}",
                f"T100,佐賀市立勧興小学校,小学校,2026,1,1組,2,K002,髙橋 花子,たかはし はなこ,{teacher}",
                "T100,佐賀市立勧興小学校,小学校,2026,2,1組,1,K003,神野 次郎,こうの じろう,")
    out, _ = _run(saga, text, encoding)
    assert "児童生徒 新規3" in out
    with saga.schema():
        school = School.objects.get(code="T100")
        assert school.name == "佐賀市立勧興小学校" and school.kind == School.Kind.ELEMENTARY
        assert [r.label for r in school.reasons.all()][:2] == ["体調不良", "通院"]
        first = SchoolClass.objects.get(school=school, grade=1, name="1組")
        assert [u.username for u in first.homeroom_teachers.all()] == [teacher]
        assert Student.objects.get(student_code="K002").name == "髙橋 花子"  # a cp932 extension character
        assert list(Enrollment.objects.filter(school_class=first).values_list("number", flat=True)
                    .order_by("number")) == [1, 2]


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(saga, teacher):
    text = _csv(f"T100,勧興小,小学校,2026,1,1組,1,K001,佐賀 太郎,さが たろう,{teacher}",
                "T100,勧興小,小学校,2026,7,1組,2,K002,佐賀 花子,さが はなこ,",          # line 3: grade 7
                "T100,勧興小,小学校,2026,1,1組,1,K003,佐賀 次郎,さが じろう,",          # line 4: number taken
                "T100,勧興小,小学校,2026,1,1組,3,K001,佐賀 三郎,さが さぶろう,",        # line 5: code taken
                "T100,勧興小,小学校,2026,1,2組,1,K004,,,nobody@saga.example",         # line 6: name, teacher
                "T100,勧興小,小学校,令和8,1,2組,2,K005,佐賀 四郎,Saga Shiro,")        # line 7: year, kana
    with pytest.raises(CommandError):
        _run(saga, text)
    with saga.schema(), pytest.raises(RosterError) as caught:
        roster_import(data=text.encode())
    lines = {(error.line, error.column) for error in caught.value.errors}
    assert {(3, "学年"), (6, "氏名"), (7, "年度"), (7, "ふりがな")} <= lines, lines
    with saga.schema():
        assert not School.objects.filter(code="T100").exists()  # nothing at all, not even the school
    # Row-level shape errors stop before the cross-row checks; fix them and those appear.
    fixed = _csv(f"T100,勧興小,小学校,2026,1,1組,1,K001,佐賀 太郎,さが たろう,{teacher}",
                 "T100,勧興小,小学校,2026,1,1組,1,K003,佐賀 次郎,さが じろう,",
                 "T100,勧興小,小学校,2026,1,1組,3,K001,佐賀 三郎,さが さぶろう,",
                 "T100,勧興小,小学校,2026,1,2組,1,K004,佐賀 四郎,,nobody@saga.example")
    with saga.schema(), pytest.raises(RosterError) as caught:
        roster_import(data=fixed.encode())
    assert {(e.line, e.column) for e in caught.value.errors} == {(3, "出席番号"), (4, "児童生徒番号"), (5, "担任")}
    _, err = _stderr_of_failed_run(saga, fixed)
    assert "3行目 出席番号" in err and "5行目 担任" in err


def _stderr_of_failed_run(saga, text):
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as handle:
        handle.write(text.encode())
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("import_school_roster", "--schema", saga.schema_name, handle.name, stderr=err)
    return str(caught.value), err.getvalue()


def test_missing_columns_empty_files_and_unknown_schools(saga):
    with saga.schema():
        with pytest.raises(RosterError, match="missing columns"):
            roster_import(data="学校コード,氏名\nT1,佐賀\n".encode())
        with pytest.raises(RosterError):
            roster_import(data=b"")
        with pytest.raises(RosterError) as caught:
            roster_import(data=_csv("NOPE,,,2026,1,1組,1,K1,佐賀 一,,").encode())
        assert caught.value.errors[0].line == 2 and caught.value.errors[0].column == "学校コード"
        with pytest.raises(RosterError):
            roster_import(data=b"\xff\xfe\x00garbage\x81")


def test_junior_high_grades_stop_at_3_and_teachers_need_the_teacher_role(saga):
    with saga.schema():
        analyst = staff_create(username="not-a-teacher@saga.example", password=TEST_PASSWORD, roles=[Role.ANALYST])
        with pytest.raises(RosterError) as caught:
            roster_import(data=_csv("J1,城南中,中学校,2026,4,1組,1,J001,佐賀 一,,",
                                    f"J1,城南中,中学校,2026,1,1組,2,J002,佐賀 二,,{analyst.username}").encode())
        assert {(e.line, e.column) for e in caught.value.errors} == {(2, "学年"), (3, "担任")}


def test_reimport_moves_children_and_removes_those_no_longer_listed(saga, teacher):
    with saga.schema():
        roster_import(data=_csv(f"T1,勧興小,小学校,2026,1,1組,1,K1,佐賀 一,,{teacher}",
                                f"T1,勧興小,小学校,2026,1,1組,2,K2,佐賀 二,,{teacher}",
                                "T1,勧興小,小学校,2026,1,2組,1,K3,佐賀 三,,").encode())
        result = roster_import(data=_csv("T1,,,2026,1,1組,1,K2,佐賀 二（改）,,",
                                         "T1,,,2026,1,1組,2,K3,佐賀 三,,").encode())
        assert (result.students_created, result.students_updated, result.enrollments_removed) == (0, 1, 1)
        assert result.classes_removed == 1  # 2組 is empty and nothing refers to it
        first = SchoolClass.objects.get(school__code="T1", name="1組")
        assert list(first.enrollments.order_by("number").values_list("student__student_code", flat=True)) == \
            ["K2", "K3"]
        assert [u.username for u in first.homeroom_teachers.all()] == [teacher]  # empty 担任 keeps the teacher
        assert Student.objects.filter(student_code="K1").exists()  # the child stays (guardians, old reports)


def test_dry_run_changes_nothing(saga):
    out, _ = _run(saga, _csv("T9,北小,小学校,2026,1,1組,1,K1,佐賀 一,,"), "utf-8", "--dry-run")
    assert "確認のみ" in out
    with saga.schema():
        assert not School.objects.filter(code="T9").exists()


def test_unknown_schema_is_a_command_error(saga):
    with pytest.raises(CommandError, match="no municipality"):
        call_command("import_school_roster", "--schema", "atlantis", "/dev/null")
