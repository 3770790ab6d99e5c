"""Demo data for 学校出欠連絡 in one municipality: a school with two classes (the demo teacher is
homeroom of 1年1組, the municipality admin its principal) and printed link codes for guardians.
Idempotent: the roster import replaces the same rows.

    python manage.py seed_attendance_demo --schema saga
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from accounts.models import User
from tenants.models import Municipality

from ...calendar import fiscal_year_of, today_local
from ...models import School, StaffAssignment, Student
from ...roster import roster_import
from ...services import link_code_issue, staff_assign

FAMILY = ["佐賀", "鍋島", "大隈", "江藤", "副島", "大木", "島", "中野", "古賀", "江口"]
GIVEN = [("はると", "陽翔"), ("ゆい", "結衣"), ("そうた", "蒼太"), ("めい", "芽依"), ("りく", "陸"),
         ("ひな", "陽菜"), ("みなと", "湊"), ("さくら", "さくら"), ("ゆうと", "悠人"), ("あおい", "葵")]
FAMILY_KANA = ["さが", "なべしま", "おおくま", "えとう", "そえじま", "おおき", "しま", "なかの", "こが", "えぐち"]


class Command(BaseCommand):
    help = "Seed a demo school for 学校出欠連絡 and print link codes (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--schema", required=True)
        parser.add_argument("--codes", type=int, default=3, help="link codes to print (for the first children)")

    def handle(self, *args, schema: str, codes: int, **options):
        municipality = Municipality.objects.filter(schema_name=schema).first()
        if municipality is None:
            raise CommandError(f"no municipality with schema {schema!r}")
        label = municipality.domains.filter(is_primary=True).values_list("domain", flat=True).first() or schema
        label = label.split(".")[0]
        with schema_context(schema):
            teacher = User.objects.filter(username=f"teacher@{label}.example").first()
            admin = User.objects.filter(username=f"admin@{label}.example").first()
            fiscal_year = fiscal_year_of(today_local())
            lines = ["学校コード,学校名,校種,年度,学年,組,出席番号,児童生徒番号,氏名,ふりがな,担任"]
            for class_index, class_name in enumerate(("1組", "2組")):
                for number in range(1, 11):
                    family = (number + class_index * 3) % len(FAMILY)
                    kana, given = GIVEN[(number - 1 + class_index) % len(GIVEN)]
                    homeroom = teacher.username if teacher and class_index == 0 else ""
                    lines.append(f"DEMO1,{municipality.name}立デモ小学校,小学校,{fiscal_year},1,{class_name},{number},"
                                 f"D{class_index + 1}{number:02d},{FAMILY[family]} {given},"
                                 f"{FAMILY_KANA[family]} {kana},{homeroom}")
            result = roster_import(data=("\n".join(lines) + "\n").encode())
            self.stdout.write(result.summary()[0])
            school = School.objects.get(code="DEMO1")
            if admin is not None:
                staff_assign(user=admin, position=StaffAssignment.Position.PRINCIPAL, school=school, acting_user=None)
            for student in Student.objects.filter(school=school).order_by("student_code")[:codes]:
                issued = link_code_issue(student=student, acting_user=None)
                self.stdout.write(f"  {student.name}: 連携コード / link code {issued.code}")
