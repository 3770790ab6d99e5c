"""Seed the demo: Saga City and Kanzaki City with districts, staff and residents. Idempotent."""
from __future__ import annotations

import random

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django_tenants.utils import schema_context

from accounts.models import District, User
from accounts.services import district_create, resident_create, staff_create
from tenants.demo.data import DEMO_PASSWORD, MUNICIPALITIES, STAFF
from tenants.services import municipality_onboard


class Command(BaseCommand):
    help = "Onboard the demo municipalities (佐賀市, 神埼市) with districts, staff and residents; prints logins."

    def handle(self, *args, **options):
        port = f":{settings.PLATFORM_PUBLIC_PORT}" if settings.PLATFORM_PUBLIC_PORT else ""
        lines = []
        for spec in MUNICIPALITIES:
            label = spec["label"]
            host = f"{label}.{settings.PLATFORM_DOMAIN}"
            admin_email = f"admin@{label}.example"
            result = municipality_onboard(
                code=spec["code"], name=spec["name"], domain=host, admin_email=admin_email,
                admin_password=DEMO_PASSWORD, name_kana=spec["name_kana"], name_en=spec["name_en"],
                prefecture=spec["prefecture"],
            )
            self.stdout.write(result.message)
            with schema_context(result.municipality.schema_name):
                self._seed_tenant(spec, label)
                if spec.get("shelters"):
                    self._seed_shelters(spec["shelters"])
                token = resident_create(nickname="デモ住民", district=District.objects.first(),
                                        birth_year=1985, interests=["子育て", "防災"],
                                        device_label="demo banner").raw
            # --- garbage calendar (miniapps.garbage): Saga's real 5374 data, pickup days, reminders ---
            if label == "saga":
                from miniapps.garbage.datasets import saga_5374_dir
                from miniapps.garbage.demo import seed_garbage_demo

                with schema_context(result.municipality.schema_name):
                    for line in seed_garbage_demo(data_dir=saga_5374_dir()):
                        self.stdout.write(line)
                    self._seed_usage(spec)
                call_command("seed_attendance_demo", "--schema", result.municipality.schema_name, stdout=self.stdout)
            # --- community boards (miniapps.community): district events, some marked for open data ---
            if apps.is_installed("miniapps.community"):
                from miniapps.community.demo import seed_community_demo

                with schema_context(result.municipality.schema_name):
                    for line in seed_community_demo(municipality_code=spec["code"]):
                        self.stdout.write(line)
            lines.append(f"\n{spec['name']} ({spec['name_en']})  http://{host}{port}/")
            lines.append(f"  console  http://{host}{port}/console/   API docs http://{host}{port}/api/docs/")
            lines.append(f"  admin    {admin_email} / {DEMO_PASSWORD}")
            for prefix, _name, roles in STAFF:
                lines.append(f"  {roles[0]:<20} {prefix}@{label}.example / {DEMO_PASSWORD}")
            lines.append(f"  demo resident token (new each start): {token}")
        call_command("seed_miniapps_demo", stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("\nDemo logins / デモ用ログイン" + "\n".join(lines)))

    def _seed_shelters(self, path) -> None:
        from shelters.services import shelters_import

        report = shelters_import(data=path.read_bytes())
        self.stdout.write(f"  shelters: {report.created} created, {report.updated} updated, "
                          f"{report.unchanged} unchanged" if report.ok else f"  shelters: {report.errors}")

    def _seed_usage(self, spec: dict) -> None:
        """Enough residents and weeks of mini-app usage for the dashboard and exports to show shapes."""
        from analytics.demo import population_ensure, usage_seed

        created = population_ensure(count=spec["population"], seed=int(spec["code"]))
        days, events = usage_seed(days=spec["usage_days"], seed=int(spec["code"]))
        self.stdout.write(f"  usage: {created} residents added, {events} events over {days} new days, facts built")

    def _seed_tenant(self, spec: dict, label: str) -> None:
        for name, kana in spec["districts"]:
            if not District.objects.filter(name=name).exists():
                district_create(name=name, kana=kana)
        for prefix, display_name, roles in STAFF:
            username = f"{prefix}@{label}.example"
            if not User.objects.filter(username=username).exists():
                staff_create(username=username, email=username, password=DEMO_PASSWORD,
                             display_name=display_name, roles=list(roles))
        existing = User.objects.filter(kind=User.Kind.RESIDENT).count()
        rng = random.Random(spec["code"])
        districts = list(District.objects.all())
        interests = ["子育て", "防災", "イベント", "スポーツ", "歴史", "ごみ", "健康", "観光"]
        for index in range(existing, spec["residents"]):
            resident_create(
                nickname=f"住民{index + 1}", district=rng.choice(districts),
                birth_year=rng.randint(1940, 2008), interests=rng.sample(interests, k=rng.randint(0, 3)),
            )
