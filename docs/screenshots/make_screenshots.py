"""Regenerates the README's console screenshots in this directory: the dashboard
(console-dashboard.png) and a shelter reception screen during a flood (shelter-reception.png).

The data is the console benchmark's municipality, ベンチ市 (schema `console_bench`: 230,000
residents, their phones and citizen IDs, a month of mini-app use, a city-wide flood), created or
reused exactly as `python -m bench.run console` does, so the figures are a city's. The reception
screen is 佐賀市立循誘小学校, opened for the flood again on each run with a few households (one of
them checked in at another shelter too) and one more person typed in at the desk. The real WSGI
application serves 127.0.0.1 from a thread and Debian's Chromium takes the pictures (Japanese UI,
a 1024×768 tablet for the reception, full page).

    make screenshots
    .venv/bin/python -m superapp.launcher services -- .venv/bin/python docs/screenshots/make_screenshots.py \\
        [dashboard] [shelter-reception]

SCREENSHOT_PORTS (e.g. 8500-8599; default any free port) is where the server listens. The
staff who sign in get a new random password on every run. Like the bench, never point this at
production data.
"""
from __future__ import annotations

import os
import secrets
import sys
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

RECEPTION_STAFF = "reception@console-bench.example"
RECEPTION_SHELTER = "佐賀市立循誘小学校"
SHOTS = ("dashboard", "shelter-reception")


def _log(message: str) -> None:
    print(f"  · {message}", file=sys.stderr, flush=True)


def prepare_data() -> dict:
    """The bench's municipality and data (generated on the first run, a minute or two), and the
    two staff members who sign in."""
    from bench.scenarios import console as bench
    from django_tenants.utils import schema_context

    from accounts.models import User
    from accounts.roles import Role
    from accounts.services import staff_create

    class Ctx:
        log = staticmethod(_log)

        @staticmethod
        def env_int(name: str, default: int) -> int:
            return int(os.environ.get(name) or default)

    bench._ensure_municipality()
    bench._ensure_data(Ctx, Ctx.env_int("BENCH_CONSOLE_RESIDENTS", 230_000),
                       Ctx.env_int("BENCH_CONSOLE_AUDIT_EVENTS", 200_000))
    devices = bench._ensure_devices_and_citizen_ids(Ctx)
    bench._ensure_push_facts(devices["active_devices"])
    bench._ensure_usage(Ctx, Ctx.env_int("BENCH_CONSOLE_USAGE_EVENTS", 1_000_000))
    flood = bench._ensure_shelters(Ctx, Ctx.env_int("BENCH_CONSOLE_EVACUEES", 420))
    passwords = {username: secrets.token_urlsafe(18) for username in (bench.ADMIN, RECEPTION_STAFF)}
    with schema_context(bench.SCHEMA):
        if not User.objects.filter(username=RECEPTION_STAFF).exists():
            staff_create(username=RECEPTION_STAFF, email=RECEPTION_STAFF, password=passwords[RECEPTION_STAFF],
                         display_name="循誘小 受付担当", roles=[Role.SHELTER_STAFF])
        for username, password in passwords.items():
            user = User.objects.get(username=username)
            user.set_password(password)
            user.save(update_fields=["password"])
    return {"host": bench.DOMAIN, "schema": bench.SCHEMA, "admin": bench.ADMIN, "passwords": passwords,
            "disaster_id": flood["disaster_id"], "measured_shelter_id": flood["shelter_id"]}


def prepare_reception(data: dict) -> int:
    """Opens the reception shelter for the flood afresh (closing its earlier opening, so its list
    starts empty) and checks in a few households over the last two hours. Returns its id."""
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from accounts.models import User
    from shelters.models import CheckIn, Disaster, Sex, Shelter, SpecialCare
    from shelters.services import Evacuee, shelter_check_in, shelter_close, shelter_open

    with schema_context(data["schema"]):
        staff = User.objects.get(username=RECEPTION_STAFF)
        disaster = Disaster.objects.get(pk=data["disaster_id"])
        shelter = Shelter.objects.get(name=RECEPTION_SHELTER)
        current = shelter.openings.filter(closed_at__isnull=True).select_related("disaster").first()
        if current is not None:
            shelter_close(disaster=current.disaster, shelter=shelter, acting_user=staff)
        shelter_open(disaster=disaster, shelter=shelter, acting_user=staff)
        now = timezone.now()
        elsewhere = (CheckIn.objects.filter(opening__shelter_id=data["measured_shelter_id"],
                                            opening__closed_at__isnull=True, checked_out_at__isnull=True,
                                            source=CheckIn.Source.QR).order_by("id").first())

        def person(name, kana, born, sex, care=(), **extra) -> Evacuee:
            return Evacuee(name=name, kana=kana, birth_date=born, sex=sex, special_care=list(care),
                           address="佐賀県佐賀市東佐賀町", **extra)

        households = [
            (110, [person("江口 正雄", "えぐち まさお", date(1946, 5, 3), Sex.MALE, [SpecialCare.ELDERLY]),
                   person("江口 和子", "えぐち かずこ", date(1949, 11, 20), Sex.FEMALE, [SpecialCare.ELDERLY])]),
            (85, [person("古賀 美咲", "こが みさき", date(1991, 7, 14), Sex.FEMALE, source=CheckIn.Source.QR,
                         citizen_ref="BENCHSCREEN01"),
                  person("古賀 陽菜", "こが ひな", date(2024, 9, 2), Sex.FEMALE, [SpecialCare.INFANT], pets=1),
                  person("古賀 翔太", "こが しょうた", date(2019, 4, 30), Sex.MALE)]),
            (60, [person("中島 由美", "なかしま ゆみ", date(1995, 2, 8), Sex.FEMALE, [SpecialCare.PREGNANCY],
                         source=CheckIn.Source.QR, citizen_ref="BENCHSCREEN02")]),
            (35, [person("松尾 隆", "まつお たかし", date(1958, 12, 1), Sex.MALE, [SpecialCare.MEDICAL_CARE])]),
        ]
        if elsewhere is not None:  # the same citizen ID already at another shelter: flagged for staff
            households.append((20, [Evacuee(name=elsewhere.name, birth_date=elsewhere.birth_date, sex=elsewhere.sex,
                                            citizen_ref=elsewhere.citizen_ref, source=CheckIn.Source.QR,
                                            address="佐賀県佐賀市")]))
        for minutes_ago, members in households:
            for member in members:
                member.checked_in_at = now - timedelta(minutes=minutes_ago)
            shelter_check_in(shelter=shelter, evacuees=members, acting_user=staff)
        return shelter.pk


def take(shots: list[str], data: dict, reception_shelter_id: int | None) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.admin_console.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer, ensure_chromium, ensure_htmx

    reason = ensure_chromium()
    if reason:
        raise SystemExit(reason)
    ensure_htmx()
    server = LiveServer(os.environ.get("SCREENSHOT_PORTS", ""))  # empty: any free port
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        def signed_in(username: str, viewport: dict):
            context = browser.new_context(locale="ja-JP", viewport=viewport)
            page = context.new_page()
            page.set_default_timeout(60_000)  # the first dashboard may compute the city's aggregates
            page.goto(server.url(data["host"], "/console/login/"))
            page.get_by_label("ユーザー名").fill(username)
            page.get_by_label("パスワード").fill(data["passwords"][username])
            page.get_by_role("button", name="ログイン").click()
            page.wait_for_url("**/console/")
            return context, page

        if "dashboard" in shots:
            context, page = signed_in(data["admin"], {"width": 1180, "height": 1180})
            page.goto(server.url(data["host"], "/console/dashboard/"))
            expect(page.get_by_role("heading", name="ダッシュボード", level=1)).to_be_visible()
            page.screenshot(path=str(HERE / "console-dashboard.png"))
            context.close()
            _log(f"wrote {HERE / 'console-dashboard.png'}")
        if "shelter-reception" in shots:
            context, page = signed_in(RECEPTION_STAFF, {"width": 1024, "height": 768})
            page.goto(server.url(data["host"], f"/console/shelters/{reception_shelter_id}/reception/"))
            # One more person at the desk, typed in by hand (no smartphone): the message shows on top.
            page.get_by_text("手入力で受付（アプリのない方）").click()
            manual = page.locator("#manual-form")
            manual.get_by_label("氏名").fill("北島 勇気")
            manual.get_by_label("ふりがな").fill("きたじま ゆうき")
            manual.get_by_label("生年月日（例: 1950-04-01）").fill("1938-08-15")
            manual.get_by_label("性別").select_option("male")
            manual.get_by_label("高齢者 / Elderly").check()
            manual.get_by_label("障がい者 / Disability").check()
            manual.get_by_role("button", name="受付").click()
            expect(page.get_by_role("status")).to_contain_text("北島 勇気 さんを受け付けました。")
            page.screenshot(path=str(HERE / "shelter-reception.png"), full_page=True)
            context.close()
            _log(f"wrote {HERE / 'shelter-reception.png'}")
    finally:
        browser.close()
        playwright.stop()
        server.stop()


def main(argv: list[str]) -> None:
    shots = argv or list(SHOTS)
    unknown = sorted(set(shots) - set(SHOTS))
    if unknown:
        raise SystemExit(f"unknown screenshot(s): {', '.join(unknown)} (choose from {', '.join(SHOTS)})")
    from bench.scenarios.console import _setup_django

    _setup_django()
    data = prepare_data()
    reception_shelter_id = prepare_reception(data) if "shelter-reception" in shots else None
    take(shots, data, reception_shelter_id)


if __name__ == "__main__":
    main(sys.argv[1:])
