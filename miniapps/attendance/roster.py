"""School roster import (名簿取込) from CSV, each April: schools, classes with homeroom teachers,
students and their class numbers for a school year.

The file is checked whole before anything is written; one bad row and nothing is imported, and
every problem is reported with its line number. Files from Excel come as UTF-8 (with or without
BOM) or Shift_JIS (cp932); both are read.

Columns (header row; Japanese or English names; order free):
  学校コード/school_code*  学校名/school_name  校種/school_kind  年度/fiscal_year*  学年/grade*  組/class*
  出席番号/number*  児童生徒番号/student_code*  氏名/name*  ふりがな/kana  担任/homeroom_teachers
(* required). 学校名 and 校種 create a school whose code is not registered yet. 担任 lists staff
usernames separated by ";", "、" or spaces; each must hold the teacher role.

The file is authoritative for every (school, school year) it mentions: those students' class and
number are set as listed, and enrollments of that school and year missing from the file are removed.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from accounts.services import audit_record
from superapp.api.errors import ApiError

from .constants import DEFAULT_REASONS
from .models import AbsenceReason, AbsenceReport, Announcement, DailyClassCount, Enrollment, OutbreakAlert, School, \
    SchoolClass, SchoolYear, Student

MAX_ROWS = 100_000
MAX_ERRORS = 200

COLUMNS: dict[str, tuple[str, ...]] = {
    "school_code": ("学校コード", "school_code"),
    "school_name": ("学校名", "school_name"),
    "school_kind": ("校種", "school_kind"),
    "fiscal_year": ("年度", "fiscal_year"),
    "grade": ("学年", "grade"),
    "class_name": ("組", "学級", "class", "class_name"),
    "number": ("出席番号", "番号", "number"),
    "student_code": ("児童生徒番号", "児童番号", "生徒番号", "student_code"),
    "name": ("氏名", "name"),
    "kana": ("ふりがな", "フリガナ", "氏名かな", "kana"),
    "homeroom_teachers": ("担任", "homeroom_teachers"),
}
REQUIRED = ("school_code", "fiscal_year", "grade", "class_name", "number", "student_code", "name")
KINDS = {"小学校": School.Kind.ELEMENTARY, "elementary": School.Kind.ELEMENTARY,
         "中学校": School.Kind.JUNIOR_HIGH, "junior_high": School.Kind.JUNIOR_HIGH}
_KANA_RE = re.compile(r"^[\u3041-\u309f\u30a0-\u30ff\u30fc\s・ー]*$")
_TEACHER_SPLIT_RE = re.compile(r"[;；、,\s]+")


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"{self.line}行目" if self.line else "ファイル"
        return f"{where} {self.column}: {self.message}" if self.column else f"{where}: {self.message}"


class RosterError(ApiError):
    """The file cannot be imported; `errors` lists every problem found (up to MAX_ERRORS)."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__("attendance_roster_invalid", fields={
            "file": [str(error) for error in errors[:MAX_ERRORS]]})

    def __str__(self) -> str:
        return f"{self.message_en} " + "; ".join(str(error) for error in self.errors[:5])


@dataclass
class RosterRow:
    line: int
    school_code: str
    school_name: str
    school_kind: str
    fiscal_year: int
    grade: int
    class_name: str
    number: int
    student_code: str
    name: str
    kana: str
    teachers: tuple[str, ...] | None  # None: column absent or empty for this row


@dataclass
class RosterResult:
    rows: int = 0
    schools_created: list[str] = field(default_factory=list)
    classes_created: int = 0
    classes_removed: int = 0
    students_created: int = 0
    students_updated: int = 0
    enrollments: int = 0
    enrollments_removed: int = 0
    dry_run: bool = False

    def summary(self) -> tuple[str, str]:
        ja = (f"{self.rows}行: 児童生徒 新規{self.students_created}・更新{self.students_updated}、"
              f"学級 新規{self.classes_created}・削除{self.classes_removed}、在籍 {self.enrollments}（除外{self.enrollments_removed}）"
              + (f"、学校 新規{len(self.schools_created)}" if self.schools_created else ""))
        en = (f"{self.rows} rows: students {self.students_created} new, {self.students_updated} updated; "
              f"classes {self.classes_created} new, {self.classes_removed} removed; enrollments {self.enrollments} "
              f"({self.enrollments_removed} removed)"
              + (f"; schools {len(self.schools_created)} new" if self.schools_created else ""))
        if self.dry_run:
            ja, en = "確認のみ（取り込んでいません）: " + ja, "Check only (nothing imported): " + en
        return ja, en


def decode_roster(data: bytes) -> str:
    """UTF-8 with or without BOM, else Shift_JIS (cp932, as Excel writes it)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932")
    except UnicodeDecodeError:
        raise RosterError([RowError(0, "", "文字コードを判別できません。UTF-8 または Shift_JIS で保存してください / "
                                           "cannot tell the encoding; save as UTF-8 or Shift_JIS")]) from None


def _clean(value: str | None) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


def _int(value: str, column: str, line: int, errors: list[RowError], low: int, high: int) -> int:
    text = _clean(value)
    if not text.isdigit() or not low <= int(text) <= high:
        errors.append(RowError(line, column, f"{low}〜{high}の数字で入力してください（「{value}」） / "
                                             f"must be a number from {low} to {high}"))
        return 0
    return int(text)


def parse_roster(text: str) -> list[RosterRow]:
    """Checks the file's shape row by row; raises RosterError listing every problem."""
    errors: list[RowError] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise RosterError([RowError(0, "", "ファイルが空です / the file is empty")]) from None
    except csv.Error as exc:
        raise RosterError([RowError(1, "", f"CSVとして読めません: {exc} / not valid CSV")]) from None
    positions: dict[str, int] = {}
    for index, title in enumerate(header):
        title = _clean(title).lower()
        for key, names in COLUMNS.items():
            if title in {name.lower() for name in names} and key not in positions:
                positions[key] = index
    missing = [COLUMNS[key][0] for key in REQUIRED if key not in positions]
    if missing:
        raise RosterError([RowError(1, "", f"必須の列がありません: {', '.join(missing)} / missing columns: "
                                           f"{', '.join(COLUMNS[key][-1] for key in REQUIRED if key not in positions)}")])
    rows: list[RosterRow] = []
    line = 1
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= MAX_ROWS:
                errors.append(RowError(line, "", f"{MAX_ROWS}行までです / at most {MAX_ROWS} rows"))
                break

            def cell(key: str, record=record) -> str:
                index = positions.get(key)
                return record[index] if index is not None and index < len(record) else ""

            row_errors: list[RowError] = []
            for key in REQUIRED:
                if not _clean(cell(key)):
                    row_errors.append(RowError(line, COLUMNS[key][0], "空欄です / is empty"))
            if row_errors:
                errors.extend(row_errors)
                continue
            kind_text = _clean(cell("school_kind")).lower()
            if kind_text and kind_text not in KINDS:
                row_errors.append(RowError(line, "校種", "小学校 または 中学校 です / elementary or junior_high"))
            kana = _clean(cell("kana"))
            if kana and not _KANA_RE.match(kana):
                row_errors.append(RowError(line, "ふりがな", "ひらがな・カタカナで入力してください / kana only"))
            for key, limit in (("school_code", 20), ("class_name", 20), ("student_code", 32), ("name", 100),
                               ("school_name", 100)):
                if len(_clean(cell(key))) > limit:
                    row_errors.append(RowError(line, COLUMNS[key][0], f"{limit}文字までです / at most {limit} characters"))
            if len(kana) > 100:
                row_errors.append(RowError(line, "ふりがな", "100文字までです / at most 100 characters"))
            teachers_text = _clean(cell("homeroom_teachers"))
            row = RosterRow(
                line=line,
                school_code=_clean(cell("school_code")),
                school_name=_clean(cell("school_name")),
                school_kind=KINDS.get(kind_text, ""),
                fiscal_year=_int(cell("fiscal_year"), "年度", line, row_errors, 2000, 2200),
                grade=_int(cell("grade"), "学年", line, row_errors, 1, 6),
                class_name=_clean(cell("class_name")),
                number=_int(cell("number"), "出席番号", line, row_errors, 1, 99),
                student_code=_clean(cell("student_code")),
                name=_clean(cell("name")),
                kana=kana,
                teachers=tuple(t for t in _TEACHER_SPLIT_RE.split(teachers_text) if t) or None,
            )
            if row_errors:
                errors.extend(row_errors)
            else:
                rows.append(row)
            if len(errors) >= MAX_ERRORS:
                break
    except csv.Error as exc:
        errors.append(RowError(line + 1, "", f"CSVとして読めません: {exc} / not valid CSV"))
    if not rows and not errors:
        errors.append(RowError(0, "", "取り込む行がありません / no rows to import"))
    if errors:
        raise RosterError(errors)
    return rows


def _check_against_database(rows: list[RosterRow]) -> tuple[dict[str, School], dict[str, User], list[RowError]]:
    errors: list[RowError] = []
    codes = {row.school_code for row in rows}
    schools = {school.code: school for school in School.objects.filter(code__in=codes)}
    new_schools: dict[str, tuple[str, str]] = {}
    for row in rows:
        if row.school_code in schools:
            continue
        if not row.school_name or not row.school_kind:
            errors.append(RowError(row.line, "学校コード",
                                   f"学校コード「{row.school_code}」は登録されていません（新しい学校は学校名と校種も入力） / "
                                   f"unknown school code; give school_name and school_kind to create it"))
            continue
        seen = new_schools.setdefault(row.school_code, (row.school_name, row.school_kind))
        if seen != (row.school_name, row.school_kind):
            errors.append(RowError(row.line, "学校名", "同じ学校コードで学校名・校種が異なります / "
                                                     "one school code with different names or kinds"))
    for row in rows:
        school = schools.get(row.school_code)
        kind = school.kind if school else new_schools.get(row.school_code, ("", ""))[1]
        max_grade = School.GRADES.get(kind, 6) if kind else 6
        if row.grade > max_grade:
            errors.append(RowError(row.line, "学年", f"この学校の学年は1〜{max_grade}です / grade must be 1 to {max_grade}"))

    usernames = {name for row in rows for name in (row.teachers or ())}
    teacher_group = Group.objects.filter(name=Role.TEACHER, user=OuterRef("pk"))
    teachers = {user.username: user for user in User.objects.filter(
        username__in=usernames, kind=User.Kind.STAFF, is_active=True).filter(Exists(teacher_group))}

    student_seen: dict[tuple[str, int, str], int] = {}
    number_seen: dict[tuple[str, int, int, str, int], int] = {}
    class_teachers: dict[tuple[str, int, int, str], tuple[tuple[str, ...], int]] = {}
    for row in rows:
        key = (row.school_code, row.fiscal_year, row.student_code)
        if key in student_seen:
            errors.append(RowError(row.line, "児童生徒番号", f"{student_seen[key]}行目と重複しています / "
                                                          f"duplicate of line {student_seen[key]}"))
        else:
            student_seen[key] = row.line
        number_key = (row.school_code, row.fiscal_year, row.grade, row.class_name, row.number)
        if number_key in number_seen:
            errors.append(RowError(row.line, "出席番号", f"同じ学級の{number_seen[number_key]}行目と重複しています / "
                                                      f"same number as line {number_seen[number_key]}"))
        else:
            number_seen[number_key] = row.line
        for username in row.teachers or ():
            if username not in teachers:
                errors.append(RowError(row.line, "担任", f"「{username}」は教員の役割を持つ職員ではありません / "
                                                       f"{username} is not a staff member with the teacher role"))
        if row.teachers is not None:
            class_key = (row.school_code, row.fiscal_year, row.grade, row.class_name)
            listed = tuple(sorted(row.teachers))
            first = class_teachers.setdefault(class_key, (listed, row.line))
            if first[0] != listed:
                errors.append(RowError(row.line, "担任", f"同じ学級の{first[1]}行目と担任が異なります / "
                                                       f"different teachers than line {first[1]} for the same class"))
    return schools, teachers, errors


@transaction.atomic
def roster_import(*, data: bytes, acting_user: User | None = None, dry_run: bool = False) -> RosterResult:
    """Checks the whole file, then (unless dry_run) writes it in one transaction."""
    rows = parse_roster(decode_roster(data))
    schools, teachers, errors = _check_against_database(rows)
    if errors:
        raise RosterError(errors)
    result = RosterResult(rows=len(rows), dry_run=dry_run)
    sid = transaction.savepoint()
    try:
        _write(rows, schools, teachers, result)
        if dry_run:
            transaction.savepoint_rollback(sid)
        else:
            transaction.savepoint_commit(sid)
    except Exception:
        transaction.savepoint_rollback(sid)
        raise
    if not dry_run:
        audit_record(actor=acting_user, action="attendance.roster_imported",
                     data={"rows": result.rows, "schools": sorted({row.school_code for row in rows}),
                           "fiscal_years": sorted({row.fiscal_year for row in rows}),
                           "students_created": result.students_created, "enrollments": result.enrollments,
                           "enrollments_removed": result.enrollments_removed})
    return result


def _write(rows: list[RosterRow], schools: dict[str, School], teachers: dict[str, User], result: RosterResult) -> None:
    for row in rows:
        if row.school_code not in schools:
            school = School.objects.create(code=row.school_code, name=row.school_name, kind=row.school_kind)
            AbsenceReason.objects.bulk_create([
                AbsenceReason(school=school, label=label, label_en=english, sort_order=index)
                for index, (label, english) in enumerate(DEFAULT_REASONS)])
            schools[row.school_code] = school
            result.schools_created.append(row.school_code)

    years = {}
    for fiscal_year in sorted({row.fiscal_year for row in rows}):
        years[fiscal_year], _ = SchoolYear.objects.get_or_create(fiscal_year=fiscal_year)

    # Classes
    pairs = {(schools[row.school_code].pk, row.fiscal_year) for row in rows}
    existing_classes = {
        (c.school_id, c.school_year.fiscal_year, c.grade, c.name): c
        for c in SchoolClass.objects.select_related("school_year").filter(
            school_id__in={school_id for school_id, _ in pairs}, school_year__fiscal_year__in={fy for _, fy in pairs})
    }
    wanted: dict[tuple[int, int, int, str], SchoolClass] = {}
    teachers_of: dict[tuple[int, int, int, str], tuple[str, ...]] = {}
    for row in rows:
        key = (schools[row.school_code].pk, row.fiscal_year, row.grade, row.class_name)
        if key not in wanted:
            school_class = existing_classes.get(key)
            if school_class is None:
                school_class = SchoolClass.objects.create(school_id=key[0], school_year=years[row.fiscal_year],
                                                          grade=row.grade, name=row.class_name)
                result.classes_created += 1
            wanted[key] = school_class
        if row.teachers is not None:
            teachers_of[key] = row.teachers
    for key, usernames in teachers_of.items():
        wanted[key].homeroom_teachers.set([teachers[name] for name in usernames])

    # Students
    codes_by_school: dict[int, set[str]] = defaultdict(set)
    for row in rows:
        codes_by_school[schools[row.school_code].pk].add(row.student_code)
    students: dict[tuple[int, str], Student] = {}
    for school_id, codes in codes_by_school.items():
        for student in Student.objects.filter(school_id=school_id, student_code__in=codes):
            students[(school_id, student.student_code)] = student
    to_create, to_update = [], []
    now = timezone.now()
    for row in rows:
        key = (schools[row.school_code].pk, row.student_code)
        student = students.get(key)
        if student is None:
            student = Student(school_id=key[0], student_code=row.student_code, name=row.name, kana=row.kana)
            students[key] = student
            to_create.append(student)
        elif (student.name, student.kana) != (row.name, row.kana) and student.pk is not None:
            student.name, student.kana, student.updated_at = row.name, row.kana, now
            to_update.append(student)
    Student.objects.bulk_create(to_create, batch_size=1000)
    Student.objects.bulk_update(to_update, ["name", "kana", "updated_at"], batch_size=1000)
    result.students_created, result.students_updated = len(to_create), len(to_update)

    # Enrollments: the file is the roster of each (school, year) it names.
    previous: set[tuple[int, int]] = set()
    for school_id, fiscal_year in pairs:
        enrollments = Enrollment.objects.filter(school_class__school_id=school_id, school_year__fiscal_year=fiscal_year)
        previous |= {(student_id, fiscal_year) for student_id in enrollments.values_list("student_id", flat=True)}
        enrollments.delete()
    new_enrollments = [
        Enrollment(student=students[(schools[row.school_code].pk, row.student_code)],
                   school_class=wanted[(schools[row.school_code].pk, row.fiscal_year, row.grade, row.class_name)],
                   school_year=years[row.fiscal_year], number=row.number)
        for row in rows
    ]
    Enrollment.objects.bulk_create(new_enrollments, batch_size=1000)
    result.enrollments = len(new_enrollments)
    result.enrollments_removed = len(previous - {(e.student.pk, e.school_year.fiscal_year) for e in new_enrollments})

    # Classes of these schools and years the file no longer names, if nothing refers to them.
    for school_id, fiscal_year in pairs:
        stale = (SchoolClass.objects.filter(school_id=school_id, school_year__fiscal_year=fiscal_year)
                 .exclude(pk__in=[c.pk for c in wanted.values()])
                 .exclude(Exists(Enrollment.objects.filter(school_class=OuterRef("pk"))))
                 .exclude(Exists(AbsenceReport.objects.filter(school_class=OuterRef("pk"))))
                 .exclude(Exists(DailyClassCount.objects.filter(school_class=OuterRef("pk"))))
                 .exclude(Exists(OutbreakAlert.objects.filter(school_class=OuterRef("pk"))))
                 .exclude(Exists(Announcement.objects.filter(school_class=OuterRef("pk")))))
        stale_ids = list(stale.values_list("pk", flat=True))
        SchoolClass.objects.filter(pk__in=stale_ids).delete()
        result.classes_removed += len(stale_ids)
