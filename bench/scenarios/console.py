"""Staff console server time with a city's worth of data: the dashboard (resident counts, residents
by district and by age band, mini-app use from 1,000,000 usage events) with 230,000 residents, the
shelter reception screen and the disaster HQ report during a city-wide flood, the audit log viewer
over 200,000 rows, the push composer and its live audience size (everyone, the largest district, a
district × 65+) and the mini-app catalog, side by side with the framework floor (a constant view through the same
test client: plain Django, then the project's middleware with the same signed-in session) and the
console home page.

Server time is measured in process with Django's test client: middleware, view, queries and template
rendering, no network, so no port is used. The data lives in its own municipality (schema
`console_bench`, a code in the non-existent prefecture 99) and is kept between runs, since generating
it takes a while; set BENCH_CONSOLE_DROP=1 to drop it at the end.

Knobs: BENCH_CONSOLE_RESIDENTS (230000), BENCH_CONSOLE_USAGE_EVENTS (1000000, over the 30 days up to
yesterday), BENCH_CONSOLE_AUDIT_EVENTS (200000), BENCH_CONSOLE_EVACUEES (420 present at the measured
shelter, 600 places), BENCH_CONSOLE_REQUESTS (100 timed requests per page after 3 warm-up ones),
BENCH_CONSOLE_ROUNDS (5: the pages take turns, a fifth of the requests each per round).

    python -m bench.run console           # with the bench runner
    python -m bench.scenarios.console     # on its own (prints the table, writes bench/results/console.json)
"""
from __future__ import annotations

import io
import json
import math
import os
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

NAME = "console"
DESCRIPTION = ("staff console server time: dashboard (230,000 residents, 1M usage events), shelter reception and "
               "HQ report during a flood, audit log (200,000 rows), push composer and live audience size, "
               "mini-app catalog, against the framework floor")

DOMAIN = "console-bench.localhost"
SCHEMA = "console_bench"
ADMIN = "admin@console-bench.example"
REPO_ROOT = Path(__file__).resolve().parents[2]

# Saga City's 32 school districts with rough weights (bigger urban ones first), and age bands with
# shares close to Saga's population pyramid (2020 census, rounded); 5% chose no district, 6% gave no
# birth year.
DISTRICT_WEIGHTS = [9, 8, 8, 7, 7, 6, 6, 6, 5, 5, 5, 5, 4, 4, 4, 4, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1]
AGE_BAND_SHARES = [(0, 0.08), (10, 0.09), (20, 0.09), (30, 0.11), (40, 0.13), (50, 0.13), (60, 0.13),
                   (70, 0.14), (80, 0.10)]
AUDIT_ACTIONS = ["staff.console_login", "staff.token_issued", "district.create", "staff.roles_changed",
                 "shelter.check_in", "citizen_id.pii_read", "notification.sent", "attendance.viewed"]


def _log(ctx, message: str) -> None:
    (getattr(ctx, "log", None) or (lambda text: print(f"  · {text}", file=sys.stderr, flush=True)))(message)


def _env_int(ctx, name: str, default: int) -> int:
    if hasattr(ctx, "env_int"):
        return ctx.env_int(name, default)
    return int(os.environ.get(name) or default)


def _setup_django() -> None:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "superapp.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def _bench_code() -> str:
    from tenants.validators import lg_code_check_digit

    return "99901" + str(lg_code_check_digit("99901"))


def _ensure_municipality():
    from django.core.management import call_command
    from django.db import connection

    from tenants.models import Municipality
    from tenants.services import municipality_onboard, tenant_template_prepare

    connection.set_schema_to_public()
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    tenant_template_prepare()
    existing = Municipality.objects.filter(schema_name=SCHEMA).first()
    if existing is not None:
        call_command("migrate_schemas", tenant=True, schema_name=SCHEMA, interactive=False, verbosity=0)
        return existing
    return municipality_onboard(code=_bench_code(), name="ベンチ市", name_en="Bench City", domain=DOMAIN,
                                admin_email=ADMIN, admin_password=f"bench-{os.getpid()}-long-password",
                                schema_name=SCHEMA).municipality


def _copy_rows(table: str, columns: list[str], rows) -> None:
    """COPY … FROM STDIN: about 20× faster than bulk_create for a quarter of a million rows."""
    from django.db import connection

    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if value is None else str(value) for value in row) + "\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)


def _ensure_data(ctx, residents_wanted: int, audit_wanted: int) -> dict:
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from accounts.models import AuditEvent, District, User
    from accounts.services import district_create
    from tenants.demo.data import SAGA_DISTRICTS

    rng = random.Random(20260401)
    seconds = {}
    with schema_context(SCHEMA):
        for name, kana in SAGA_DISTRICTS:
            if not District.objects.filter(name=name).exists():
                district_create(name=name, kana=kana)
        district_ids = list(District.objects.order_by("sort_order", "id").values_list("id", flat=True))
        have = User.objects.filter(kind=User.Kind.RESIDENT).count()
        if have < residents_wanted:
            started = time.perf_counter()
            this_year = timezone.localdate().year
            bands, shares = zip(*AGE_BAND_SHARES)
            now = timezone.now().isoformat()
            rows = []
            for i in range(have, residents_wanted):
                district = rng.choices(district_ids, DISTRICT_WEIGHTS[: len(district_ids)])[0] \
                    if rng.random() > 0.05 else None
                birth_year = None
                if rng.random() > 0.06:
                    band = rng.choices(bands, shares)[0]
                    birth_year = this_year - band - rng.randrange(10 if band < 80 else 20)
                rows.append(("!", "f", f"bench-resident-{i:07d}", "", "resident", "", "", district, "{}",
                             birth_year, "ja", "t", "f", now))
            _copy_rows(connection.ops.quote_name(User._meta.db_table),
                       ["password", "is_superuser", "username", "email", "kind", "display_name", "nickname",
                        "district_id", "interests", "birth_year", "language", "is_active", "is_staff",
                        "date_joined"], rows)
            seconds["residents"] = round(time.perf_counter() - started, 1)
            _log(ctx, f"generated {residents_wanted - have:,} residents in {seconds['residents']} s")
        have_audit = AuditEvent.objects.count()
        if have_audit < audit_wanted:
            started = time.perf_counter()
            staff_ids = list(User.objects.filter(kind=User.Kind.STAFF).values_list("id", flat=True))
            start = timezone.now() - timedelta(days=365)
            rows = []
            for i in range(have_audit, audit_wanted):
                at = (start + timedelta(seconds=i * 365 * 86400 // max(audit_wanted, 1))).isoformat()
                rows.append((rng.choice(staff_ids), rng.choice(AUDIT_ACTIONS), "User", str(rng.randrange(1, 1000)),
                             json.dumps({"n": i}), "10.0.0.1", at))
            _copy_rows(connection.ops.quote_name(AuditEvent._meta.db_table),
                       ["actor_id", "action", "target_type", "target_id", "data", "ip_address", "created_at"], rows)
            seconds["audit_events"] = round(time.perf_counter() - started, 1)
            _log(ctx, f"generated {audit_wanted - have_audit:,} audit events in {seconds['audit_events']} s")
        with connection.cursor() as cursor:
            # What autovacuum does after bulk inserts: statistics, and the visibility map that lets the
            # dashboard's aggregate read its index alone.
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(User._meta.db_table)}")
            cursor.execute(f"ANALYZE {connection.ops.quote_name(AuditEvent._meta.db_table)}")
        return {
            "residents": User.objects.filter(kind=User.Kind.RESIDENT).count(),
            "districts": len(district_ids),
            "audit_events": AuditEvent.objects.count(),
            "generated_seconds": seconds,
        }


def _ensure_devices_and_citizen_ids(ctx) -> dict:
    """What the dashboard's other figures count: one phone per resident (about 8 % uninstalled since,
    so inactive) with an FCM-sized token and its topics, and a verified citizen ID for about a third
    of the residents. Generated once, in SQL, from the residents."""
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from accounts.models import User
    from citizen_id.models import CitizenId
    from notifications.models import Device

    seconds = {}
    users = connection.ops.quote_name(User._meta.db_table)
    with schema_context(SCHEMA):
        residents = User.objects.filter(kind=User.Kind.RESIDENT).count()
        now = timezone.now()
        if Device.objects.count() < residents:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {Device._meta.db_table} CASCADE")
                cursor.execute(
                    f"""INSERT INTO {Device._meta.db_table} (user_id, token, platform, app_version, locale, is_active,
                        deactivated_at, deactivated_reason, created_at, registered_at, subscribed_topics,
                        topics_dirty, topics_version)
                    SELECT u.id, 'bench' || u.id || ':' || repeat(md5(u.id::text), 5),
                           CASE WHEN u.id %% 3 = 0 THEN 'ios' ELSE 'android' END, '1.4.2', 'ja-JP',
                           (hashint4(u.id::int) & 2147483647) %% 100 >= 8,
                           CASE WHEN (hashint4(u.id::int) & 2147483647) %% 100 < 8 THEN %(now)s END,
                           CASE WHEN (hashint4(u.id::int) & 2147483647) %% 100 < 8 THEN 'unregistered' ELSE '' END,
                           %(now)s, %(now)s,
                           ARRAY['all', 'district-' || coalesce(u.district_id::text, 'none')], false, 1
                    FROM {users} AS u WHERE u.kind = 'resident'""", {"now": now})
                cursor.execute(f"VACUUM (ANALYZE) {Device._meta.db_table}")  # as autovacuum would
            seconds["devices"] = round(time.perf_counter() - started, 1)
            _log(ctx, f"generated {Device.objects.count():,} devices in {seconds['devices']} s")
        if not CitizenId.objects.exists():
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""INSERT INTO {CitizenId._meta.db_table} (reference, user_id, status, status_reason,
                        pii_ciphertext, pii_wrapped_key, pii_key_id, card_index, card_issuer_key_id,
                        card_not_after, enrolled_at, verified_at)
                    SELECT upper(substr(md5('ref' || u.id), 1, 16)), u.id, 'active', '', '', '', 'bench', '', '',
                           %(now)s + interval '4 years', %(now)s, %(now)s
                    FROM {users} AS u WHERE u.kind = 'resident' AND (hashint4(u.id::int + 11) & 2147483647) %% 100 < 35""", {"now": now})
                cursor.execute(f"VACUUM (ANALYZE) {CitizenId._meta.db_table}")
            seconds["citizen_ids"] = round(time.perf_counter() - started, 1)
            _log(ctx, f"generated {CitizenId.objects.count():,} citizen IDs in {seconds['citizen_ids']} s")
        return {"devices": Device.objects.count(), "active_devices": Device.objects.filter(is_active=True).count(),
                "citizen_ids": CitizenId.objects.count(), "generated_seconds": seconds}


# Mini-app use: shares of opens and taps (garbage calendar first, as in cities running 5374 apps).
MINIAPP_SHARES = [("garbage", 38), ("announcements", 22), ("community", 15), ("attendance", 14), ("feedback", 11)]


def _ensure_usage(ctx, events_wanted: int) -> dict:
    """`events_wanted` usage events over the 30 local days up to yesterday, from the bench's residents
    (district and age band copied from each resident, as ingestion does), then the nightly fact tables
    the dashboard reads rebuilt for those days. Regenerated when the count differs or the newest day is
    not yesterday any more (a run on a later day)."""
    from django.apps import apps
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from accounts.models import User
    from analytics import facts
    from analytics.services import fact_rebuild_range

    events = apps.get_model("miniapps", "UsageEvent")
    yesterday = timezone.localdate() - timedelta(days=1)
    first = yesterday - timedelta(days=29)
    seconds = {}
    with schema_context(SCHEMA):
        have = events.objects.count()
        newest = events.objects.order_by("-occurred_at").values_list("occurred_at", flat=True).first()
        if have == events_wanted and newest is not None and timezone.localtime(newest).date() == yesterday:
            return {"usage_events": have, "generated_seconds": seconds}
        users = User.objects.filter(kind=User.Kind.RESIDENT)
        low = users.order_by("id").values_list("id", flat=True).first()
        high = users.order_by("-id").values_list("id", flat=True).first()
        picks = [miniapp for miniapp, share in MINIAPP_SHARES for _ in range(share)]
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {events._meta.db_table}")
            # Residents picked by a hash of the event number; ids of staff between them simply miss.
            cursor.execute(
                f"""INSERT INTO {events._meta.db_table}
                    (occurred_at, received_at, miniapp_id, kind, user_id, district_id, age_band)
                SELECT t.at, t.at + interval '3 seconds', (%(picks)s::text[])[1 + (hashint4(g + 7) & 2147483647) %% %(n)s],
                       CASE WHEN g %% 5 = 0 THEN 2 ELSE 1 END, u.id, u.district_id,
                       CASE WHEN u.birth_year IS NULL THEN NULL
                            ELSE least(greatest(%(year)s - u.birth_year, 0) / 10 * 10, 80) END
                FROM generate_series(1, %(count)s) AS g,
                     LATERAL (SELECT %(start)s::timestamptz + ((g - 1)::float8 / %(count)s) * interval '30 days' AS at,
                                     %(low)s + (hashint4(g) & 2147483647) %% (%(high)s - %(low)s + 1) AS resident) AS t
                JOIN {connection.ops.quote_name(User._meta.db_table)} AS u ON u.id = t.resident""",
                {"picks": picks, "n": len(picks), "year": timezone.localdate().year, "count": events_wanted,
                 "start": facts.local_midnight(first), "low": low, "high": high})
            cursor.execute(f"ANALYZE {events._meta.db_table}")
        seconds["usage_events"] = round(time.perf_counter() - started, 1)
        have = events.objects.count()
        _log(ctx, f"generated {have:,} usage events in {seconds['usage_events']} s")
        started = time.perf_counter()
        fact_rebuild_range(fact=facts.USAGE, date_from=first, date_to=yesterday)
        seconds["usage_facts"] = round(time.perf_counter() - started, 1)
        _log(ctx, f"rebuilt the usage facts ({settings.TIME_ZONE} days {first}..{yesterday}) in {seconds['usage_facts']} s")
    return {"usage_events": have, "generated_seconds": seconds}


PUSH_TITLES = [("disaster", "大雨警報が発表されました"), ("garbage", "年末年始のごみ収集日程"), ("city_news", "市報さが 12月号"),
               ("events", "佐賀インターナショナルバルーンフィスタの交通規制"), ("community", "校区の清掃活動のお知らせ"),
               ("disaster", "避難所を開設しました"), ("city_news", "マイナンバーカード出張申請窓口")]


def _ensure_push_facts(active_devices: int) -> None:
    """The push statistics the dashboard reads: a notification to everybody every few days over the
    last 30 (rows of the nightly push facts, written directly: the bench sends no pushes)."""
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from analytics.models import PushFact

    today = timezone.localdate()
    with schema_context(SCHEMA):
        if PushFact.objects.filter(day__gte=today - timedelta(days=30)).exists():
            return
        PushFact.objects.filter(notification_id__gte=9_000_000).delete()
        rng = random.Random(20261201)
        PushFact.objects.bulk_create([
            PushFact(day=today - timedelta(days=2 + 4 * i), notification_id=9_000_000 + i, topic=topic, mode="topic",
                     title=title, targeted=active_devices, sent=int(active_devices * 0.985),
                     failed=active_devices - int(active_devices * 0.985),
                     read=int(active_devices * rng.uniform(0.35, 0.6)), opened=int(active_devices * rng.uniform(0.08, 0.2)))
            for i, (topic, title) in enumerate(PUSH_TITLES)])


BENCH_DISASTER = "ベンチ豪雨（計測用）"
PAST_DISASTERS = 4
SURNAMES = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田", "松尾",
            "古賀", "中島", "江口", "山口", "原", "池田", "北島", "馬場", "野口", "井上", "森"]
GIVEN_NAMES = ["太郎", "花子", "一郎", "美咲", "翔太", "陽菜", "健", "由美", "大輔", "さくら", "蓮", "結衣",
               "隆", "和子", "勇気", "恵子", "悠真", "葵", "正雄", "千尋"]


def _check_in_rows(rng, opening, count: int, checked_out: int, staff, start, end, others: list) -> list:
    """`count` check-ins in households of one to four (a shared surname), spread between start and
    end; the last `checked_out` of them have left; about 1 in 50 is flagged as also present at
    another shelter (one of `others`)."""
    from shelters.models import CheckIn, Sex, SpecialCare

    rows = []
    household, surname = None, ""
    for i in range(count):
        if household is None or rng.random() < 0.4:
            household, surname = uuid.UUID(int=rng.getrandbits(128)), rng.choice(SURNAMES)
        at = start + (end - start) * (i / max(count, 1))
        age = rng.choice([2, 8, 15, 35, 42, 55, 68, 74, 81, 88])
        care = {SpecialCare.ELDERLY} if age >= 75 else {SpecialCare.INFANT} if age <= 3 else set()
        for code, share in ((SpecialCare.DISABILITY, 0.03), (SpecialCare.PREGNANCY, 0.01),
                            (SpecialCare.MEDICAL_CARE, 0.02)):
            if rng.random() < share:
                care.add(code)
        qr = rng.random() < 0.6
        rows.append(CheckIn(
            opening=opening, household_id=household, source=CheckIn.Source.QR if qr else CheckIn.Source.MANUAL,
            citizen_ref=f"BENCH{rng.getrandbits(40):010X}" if qr else "",
            name=f"{surname} {rng.choice(GIVEN_NAMES)}", address="佐賀県佐賀市",
            birth_date=(start - timedelta(days=365 * age + rng.randrange(365))).date(),
            sex=rng.choice([Sex.MALE, Sex.FEMALE, Sex.FEMALE, Sex.MALE, Sex.OTHER]), special_care=sorted(care),
            pets=1 if rng.random() < 0.04 else 0, checked_in_at=at,
            checked_out_at=min(at + timedelta(hours=rng.randrange(2, 20)), end) if i >= count - checked_out else None,
            checked_in_by=staff, possible_duplicate_of=rng.choice(others) if others and rng.random() < 0.02 else None))
    return rows


def _ensure_shelters(ctx, present_wanted: int) -> dict:
    """Saga's demo shelters; four past disasters (every shelter opened and closed again, everybody
    left); and an open flood with every shelter designated for floods open, filled to 35-75 % of its
    places, the first one (the measured reception screen) with `present_wanted` people present."""
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from accounts.models import User
    from shelters.models import CheckIn, Disaster, Shelter, ShelterOpening
    from shelters.services import disaster_open, public_views_changed, shelters_import

    seconds = {}
    with schema_context(SCHEMA):
        if not Shelter.objects.exists():
            report = shelters_import(data=(REPO_ROOT / "shelters" / "demo" / "saga_shelters.csv").read_bytes())
            if not report.ok:
                raise RuntimeError(f"demo shelters did not import: {report.errors}")
        shelters = list(Shelter.objects.order_by("id"))
        measured = shelters[0]
        current = Disaster.objects.filter(name=BENCH_DISASTER, closed_at__isnull=True).first()
        present = CheckIn.objects.filter(opening__disaster=current, opening__shelter=measured,
                                         checked_out_at__isnull=True).count() if current else 0
        if current is None or present != present_wanted:
            started = time.perf_counter()
            rng = random.Random(20260707)
            staff = User.objects.get(username=ADMIN)
            for disaster in Disaster.objects.filter(name=BENCH_DISASTER, closed_at__isnull=True):
                disaster.openings.update(closed_at=timezone.now())
                Disaster.objects.filter(pk=disaster.pk).update(name=f"{BENCH_DISASTER}（旧）", closed_at=timezone.now())
            now = timezone.now()
            past = Disaster.objects.filter(name__startswith="ベンチ過去災害").count()
            for n in range(past, PAST_DISASTERS):
                opened = now - timedelta(days=400 * (PAST_DISASTERS - n))
                disaster = Disaster.objects.create(name=f"ベンチ過去災害{n + 1}", type=Disaster.Type.FLOOD,
                                                   opened_by=staff, closed_at=opened + timedelta(days=3))
                Disaster.objects.filter(pk=disaster.pk).update(opened_at=opened)
                for shelter in shelters:
                    opening = ShelterOpening.objects.create(disaster=disaster, shelter=shelter, opened_by=staff,
                                                            closed_at=opened + timedelta(days=3))
                    ShelterOpening.objects.filter(pk=opening.pk).update(opened_at=opened)
                    size = int(shelter.capacity * rng.uniform(0.2, 0.6))
                    CheckIn.objects.bulk_create(_check_in_rows(rng, opening, size, size, staff, opened,
                                                               opened + timedelta(hours=12), []), batch_size=2000)
            disaster = disaster_open(name=BENCH_DISASTER, type=Disaster.Type.FLOOD, acting_user=staff)
            opened = now - timedelta(hours=10)
            Disaster.objects.filter(pk=disaster.pk).update(opened_at=opened)
            flood_shelters = [s for s in shelters if "flood" in s.hazards] or shelters
            if measured not in flood_shelters:
                flood_shelters.insert(0, measured)
            others: list[CheckIn] = []
            for shelter in flood_shelters:
                opening = ShelterOpening.objects.create(disaster=disaster, shelter=shelter, opened_by=staff)
                ShelterOpening.objects.filter(pk=opening.pk).update(opened_at=opened)
                here = present_wanted if shelter == measured else int(shelter.capacity * rng.uniform(0.35, 0.75))
                left = here // 6
                rows = _check_in_rows(rng, opening, here + left, left, staff, opened, now - timedelta(minutes=5),
                                      others if shelter == measured else [])
                CheckIn.objects.bulk_create(rows, batch_size=2000)
                others.extend(rows[:50])
            public_views_changed()
            with connection.cursor() as cursor:
                cursor.execute(f"VACUUM (ANALYZE) {CheckIn._meta.db_table}")
            seconds["shelters"] = round(time.perf_counter() - started, 1)
            _log(ctx, f"generated the flood: {CheckIn.objects.count():,} check-ins in {seconds['shelters']} s")
        disaster = Disaster.objects.get(name=BENCH_DISASTER, closed_at__isnull=True)
        return {
            "shelter_id": measured.pk, "shelter_capacity": measured.capacity, "disaster_id": disaster.pk,
            "present": CheckIn.objects.filter(opening__disaster=disaster, opening__shelter=measured,
                                              checked_out_at__isnull=True).count(),
            "open_shelters": disaster.openings.filter(closed_at__isnull=True).count(),
            "flood_present": CheckIn.objects.filter(opening__disaster=disaster, checked_out_at__isnull=True).count(),
            "check_ins": CheckIn.objects.count(),
            "generated_seconds": seconds,
        }


def _percentile(ordered: list[float], share: float) -> float:
    """Nearest rank: the smallest sample with at least `share` of the samples at or below it."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _call(client, path: str, post: dict | None):
    return client.get(path) if post is None else client.post(path, post)


def _warm_and_count(client, path: str, post: dict | None) -> int:
    """Three unmeasured requests (template loading, the host cache, the first database connection),
    then the number of queries of one more. GET `path`, or POST `post` to it."""
    from django.core.signals import request_started
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        response = _call(client, path, post)
        if response.status_code != 200:
            raise RuntimeError(f"{'GET' if post is None else 'POST'} {path} answered {response.status_code}")
    # Django empties the query log when a request starts; keep it for the one counted request.
    request_started.disconnect(reset_queries)
    try:
        with CaptureQueriesContext(connection) as captured:
            _call(client, path, post)
        return len(captured.captured_queries)  # read now: the log is emptied again afterwards
    finally:
        request_started.connect(reset_queries)


def _measure(pages: list[tuple], new_client, requests: int, rounds: int) -> dict[str, dict]:
    """`requests` timed requests per page, in `rounds` interleaved rounds (every page a share of the
    requests in each round), so a burst of load on a shared machine lands on every page alike."""
    from django.test.utils import override_settings

    clients, counts, samples = {}, {}, {name: [] for name, *_ in pages}
    for name, _label, path, overrides, post in pages:
        with override_settings(**overrides):
            clients[name] = new_client()  # loads the middleware of these settings on its first request
            counts[name] = _warm_and_count(clients[name], path, post)
    per_round = math.ceil(requests / rounds)
    for _round in range(rounds):
        for name, _label, path, overrides, post in pages:
            with override_settings(**overrides):
                for _ in range(per_round):
                    started = time.perf_counter()
                    _call(clients[name], path, post)
                    samples[name].append((time.perf_counter() - started) * 1000)
    figures = {}
    for name, values in samples.items():
        values.sort()
        figures[name] = {"min_ms": values[0], "p50_ms": statistics.median(values), "p99_ms": _percentile(values, 0.99),
                         "max_ms": values[-1], "queries": counts[name], "n": len(values)}
    return figures


def run(ctx) -> dict:
    _setup_django()
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import schema_context

    from accounts.models import User

    residents = _env_int(ctx, "BENCH_CONSOLE_RESIDENTS", 230_000)
    usage_events = _env_int(ctx, "BENCH_CONSOLE_USAGE_EVENTS", 1_000_000)
    audit_events = _env_int(ctx, "BENCH_CONSOLE_AUDIT_EVENTS", 200_000)
    evacuees = _env_int(ctx, "BENCH_CONSOLE_EVACUEES", 420)
    requests = _env_int(ctx, "BENCH_CONSOLE_REQUESTS", 100)
    rounds = _env_int(ctx, "BENCH_CONSOLE_ROUNDS", 5)

    _ensure_municipality()
    facts = _ensure_data(ctx, residents, audit_events)
    devices = _ensure_devices_and_citizen_ids(ctx)
    _ensure_push_facts(devices["active_devices"])
    usage = _ensure_usage(ctx, usage_events)
    flood = _ensure_shelters(ctx, evacuees)
    _log(ctx, f"data: {facts['residents']:,} residents, {devices['devices']:,} devices, "
              f"{devices['citizen_ids']:,} citizen IDs, {usage['usage_events']:,} usage events, "
              f"{facts['audit_events']:,} audit events, {flood['check_ins']:,} check-ins "
              f"({flood['flood_present']:,} present in {flood['open_shelters']} open shelters)")

    with schema_context(SCHEMA):
        admin = User.objects.get(username=ADMIN)
    connection.set_schema_to_public()

    def signed_in() -> Client:
        client = Client(HTTP_HOST=DOMAIN)  # a new client loads the middleware of the current settings
        with schema_context(SCHEMA):
            client.force_login(admin)
        connection.set_schema_to_public()
        return client

    with schema_context(SCHEMA):
        from accounts.models import District

        largest_district = District.objects.order_by("sort_order", "id").values_list("id", flat=True).first()
    connection.set_schema_to_public()
    size_path = "/console/notifications/audience-size/"
    floor = {"ROOT_URLCONF": "bench.floor.urls", "PUBLIC_SCHEMA_URLCONF": "bench.floor.urls"}
    # (name, label, path, settings overridden, POST body or None for a GET)
    pages = [
        ("floor", "floor: constant JSON view, plain Django (no middleware)", "/floor/", {**floor, "MIDDLEWARE": []}, None),
        ("floor_project", "floor: same view + the project's middleware, signed in", "/floor/", floor, None),
        ("home", "console home (sign-in, session, layout)", "/console/", {}, None),
        ("dashboard", "dashboard, resident aggregate computed every time", "/console/dashboard/",
         {"CONSOLE_DASHBOARD_CACHE_SECONDS": 0}, None),
        ("dashboard_cached", "dashboard, resident aggregate from the 60 s cache", "/console/dashboard/",
         {"CONSOLE_DASHBOARD_CACHE_SECONDS": 60}, None),
        ("reception", f"shelter reception, {flood['present']} evacuees listed",
         f"/console/shelters/{flood['shelter_id']}/reception/", {}, None),
        ("report", f"HQ report, {flood['open_shelters']} open shelters",
         f"/console/shelters/disasters/{flood['disaster_id']}/report/", {}, None),
        ("audit", "audit log, newest page", "/console/audit/", {}, None),
        ("audit_filtered", "audit log, one action, one month",
         f"/console/audit/?action=shelter.&date_from={_month_ago()}&date_to={_today()}", {}, None),
        ("staff", "staff list", "/console/staff/", {}, None),
        ("notification_compose", "push composer", "/console/notifications/new/", {}, None),
        ("audience_everyone", "live audience size: everyone (htmx POST)", size_path, {},
         {"topic": "city_news", "audience": "everyone"}),
        ("audience_district", "live audience size: the largest district", size_path, {},
         {"topic": "city_news", "audience": "filtered", "districts": [str(largest_district)]}),
        ("audience_district_age", "live audience size: district × 65+", size_path, {},
         {"topic": "city_news", "audience": "filtered", "districts": [str(largest_district)], "age_bands": ["65+"]}),
        ("miniapps", "mini-app catalog", "/console/miniapps/", {}, None),
    ]
    figures = _measure(pages, signed_in, requests, rounds)
    rows = []
    for name, label, *_ in pages:
        rows.append({"name": name, "label": label, **figures[name]})
        _log(ctx, f"{label}: p50 {figures[name]['p50_ms']:.1f} ms, p99 {figures[name]['p99_ms']:.1f} ms, "
                  f"{figures[name]['queries']} queries")

    if os.environ.get("BENCH_CONSOLE_DROP") == "1":
        from tenants.models import Municipality

        connection.set_schema_to_public()
        for municipality in Municipality.objects.filter(schema_name=SCHEMA):
            municipality.domains.all().delete()
            municipality.delete(force_drop=True)

    generated = {**facts["generated_seconds"], **devices["generated_seconds"], **usage["generated_seconds"],
                 **flood["generated_seconds"]}
    return {
        "parameters": {"residents": facts["residents"], "districts": facts["districts"],
                       "devices": devices["devices"], "active_devices": devices["active_devices"],
                       "citizen_ids": devices["citizen_ids"],
                       "usage_events": usage["usage_events"], "audit_events": facts["audit_events"],
                       "check_ins": flood["check_ins"], "open_shelters": flood["open_shelters"],
                       "evacuees_present": flood["flood_present"], "reception_evacuees": flood["present"],
                       "requests_per_page": requests, "rounds": rounds, "generated_s": generated or "kept from an earlier run"},
        "tables": [{
            "title": "Console server time per page (in process: middleware + view + queries + template)",
            "baseline": "floor",
            "columns": [
                {"key": "min_ms", "label": "min ms", "better": "lower", "decimals": 1, "ratio": False},
                {"key": "p50_ms", "label": "p50 ms", "better": "lower", "decimals": 1},
                {"key": "p99_ms", "label": "p99 ms", "better": "lower", "decimals": 1},
                {"key": "max_ms", "label": "max ms", "better": "lower", "decimals": 1, "ratio": False},
                {"key": "queries", "label": "queries", "better": "lower", "decimals": 0, "ratio": False},
            ],
            "rows": rows,
        }],
        "notes": [
            "The target is under 200 ms server time per console page with a city's data.",
            "The dashboard's resident figures come from one GROUP BY (district, birth year) over all "
            "residents; in production it is reused for CONSOLE_DASHBOARD_CACHE_SECONDS (60 s), so at most "
            "one request a minute per municipality pays for it (the 'computed every time' row). The mini-app "
            "and active-resident widgets read the nightly fact tables, never the usage events.",
            "The reception screen lists every evacuee present (one query); the HQ report is one aggregate "
            "query over the disaster's check-ins.",
            "The pages take turns in BENCH_CONSOLE_ROUNDS rounds, so load from elsewhere on a shared machine "
            "lands on every row alike; min is the closest to the unloaded server time, p99 the most exposed "
            "to other processes. Compare rows of one run, not runs.",
        ],
    }


def _today() -> str:
    from django.utils import timezone

    return timezone.localdate().isoformat()


def _month_ago() -> str:
    from django.utils import timezone

    return (timezone.localdate() - timedelta(days=30)).isoformat()


def _main() -> None:
    """Runs this scenario alone, without bench/run.py: prints the figures, writes the result file."""
    result = run(object())
    table = result["tables"][0]
    base = next(row for row in table["rows"] if row["name"] == table["baseline"])
    print(f"\n== {NAME}: {DESCRIPTION}\n   parameters: {result['parameters']}\n\n  {table['title']}")
    for row in table["rows"]:
        print(f"  {row['label']:<58} p50 {row['p50_ms']:7.1f} ms (×{row['p50_ms'] / base['p50_ms']:.1f})"
              f"  p99 {row['p99_ms']:7.1f} ms (×{row['p99_ms'] / base['p99_ms']:.1f})  {row['queries']} queries")
    for note in result["notes"]:
        print(f"  * {note}")
    results = REPO_ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{NAME}.json").write_text(json.dumps({"scenario": NAME, "description": DESCRIPTION, **result},
                                                     ensure_ascii=False, indent=2, default=str) + "\n")
    print(f"\n  written: bench/results/{NAME}.json")


if __name__ == "__main__":
    _main()
