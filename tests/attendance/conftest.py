"""Attendance fixtures: a school built through the real services (roster CSV import, staff
assignments, one-time link codes), a frozen Asia/Tokyo clock, and a client per person."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import User
from accounts.roles import Role
from accounts.services import resident_create, staff_create, staff_token_issue
from miniapps.attendance.models import School, SchoolClass, StaffAssignment, Student
from miniapps.attendance.roster import roster_import
from miniapps.attendance.services import guardian_link_with_code, link_code_issue, staff_assign
from tests.base import TEST_PASSWORD, TenantApiClient, TenantFixture

JST = ZoneInfo("Asia/Tokyo")
# A Wednesday in fiscal year 2026, before the default 08:15 cut-off.
MORNING = datetime(2026, 6, 3, 7, 30, tzinfo=JST)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Each test builds a school with five staff accounts; PBKDF2 would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clock():
    """Frozen wall clock; `clock.move_to(datetime(..., tzinfo=JST))` to move it."""
    with time_machine.travel(MORNING, tick=False) as traveller:
        yield traveller


def roster_csv(school_code: str, classes: dict[str, tuple[str, int]], *, fiscal_year: int = 2026,
               school_name: str = "", kind: str = "", grade: int = 1, code_prefix: str = "") -> bytes:
    """classes: {"1組": ("teacher-username", number_of_students)}."""
    lines = ["学校コード,学校名,校種,年度,学年,組,出席番号,児童生徒番号,氏名,ふりがな,担任"]
    serial = 0
    for class_name, (teacher, size) in classes.items():
        for number in range(1, size + 1):
            serial += 1
            lines.append(f"{school_code},{school_name},{kind},{fiscal_year},{grade},{class_name},{number},"
                         f"{code_prefix}{school_code}-{serial:04d},児童{serial}号,{_kana(serial)},{teacher}")
    return ("\n".join(lines) + "\n").encode()


def _kana(serial: int) -> str:
    return "じどう" + "".join("あいうえおかきくけこ"[int(digit)] for digit in str(serial))


@dataclass
class SchoolWorld:
    tenant: TenantFixture
    school: School
    class_a: SchoolClass
    class_b: SchoolClass
    students_a: list[Student]
    students_b: list[Student]
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, who: str | None = None) -> TenantApiClient:
        """who: teacher_a, teacher_b, principal, nurse, board, guardian, guardian_b, stranger,
        or anything TenantFixture.client accepts (admin, resident, role names)."""
        if who in self.tokens:
            return TenantApiClient(self.tenant.host, self.tokens[who])
        return self.tenant.client(who)

    def reissue_tokens(self) -> None:
        """Fresh tokens for this world's staff, after the clock moved past their lifetime."""
        with self.tenant.schema():
            for key, user in self.users.items():
                if user.kind == User.Kind.STAFF:
                    self.tokens[key] = staff_token_issue(user=user, client_ip="127.0.0.1").raw


def _staff(tenant: TenantFixture, username: str, roles: list[str], name: str) -> tuple[User, str]:
    user = staff_create(username=f"{username}@{tenant.host.split('.')[0]}.example", password=TEST_PASSWORD,
                        display_name=name, roles=roles)
    return user, staff_token_issue(user=user, client_ip="127.0.0.1").raw


def build_school(tenant: TenantFixture, *, code: str = "S001", size: int = 5, fiscal_year: int = 2026) -> SchoolWorld:
    label = tenant.host.split(".")[0]
    with tenant.schema():
        users, tokens = {}, {}
        for key, roles, name in [("teacher_a", [Role.TEACHER], "担任 一郎"), ("teacher_b", [Role.TEACHER], "担任 二郎"),
                                 ("principal", [Role.TEACHER], "校長 花子"), ("nurse", [Role.TEACHER], "養護 三子"),
                                 ("board", [Role.ANALYST], "教委 四郎")]:
            users[key], tokens[key] = _staff(tenant, f"{key}-{code.lower()}", roles, name)
        roster_import(data=roster_csv(code, {"1組": (users["teacher_a"].username, size),
                                             "2組": (users["teacher_b"].username, size)},
                                      school_name=f"{label}第一小学校", kind="小学校", fiscal_year=fiscal_year))
        school = School.objects.get(code=code)
        staff_assign(user=users["principal"], position=StaffAssignment.Position.PRINCIPAL, school=school,
                     acting_user=None)
        staff_assign(user=users["nurse"], position=StaffAssignment.Position.NURSE, school=school, acting_user=None)
        staff_assign(user=users["board"], position=StaffAssignment.Position.BOARD, school=None, acting_user=None)
        class_a = SchoolClass.objects.select_related("school", "school_year").get(school=school, name="1組")
        class_b = SchoolClass.objects.select_related("school", "school_year").get(school=school, name="2組")
        students_a = [e.student for e in class_a.enrollments.select_related("student").order_by("number")]
        students_b = [e.student for e in class_b.enrollments.select_related("student").order_by("number")]
        for key in ("guardian", "guardian_b", "stranger"):
            issued = resident_create(nickname=key)
            users[key], tokens[key] = issued.token.user, issued.raw
        link(users["guardian"], students_a[0])
        link(users["guardian_b"], students_b[0])
    return SchoolWorld(tenant, school, class_a, class_b, students_a, students_b, users, tokens)


def link(guardian: User, student: Student) -> None:
    issued = link_code_issue(student=student, acting_user=None)
    guardian_link_with_code(guardian=guardian, code=issued.code, client_ip="127.0.0.1")


@pytest.fixture
def world(saga, clock) -> SchoolWorld:
    return build_school(saga)


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in-process (on commit callbacks then send them to the task directly)."""
    from superapp.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = previous
