"""The evening reminder tick for a whole city: BENCH_GARBAGE_RESIDENTS residents (default 230,000)
with reminders spread over Saga's 314 areas, most at the 20:00 peak. Measures the time to find
everything due in the window, compute the collections, write the idempotency records and hand one
notification per group to the push pipeline (enqueued on commit), beside (a) the bare read of the
due reminders (the floor any approach pays) and (b) one notification per resident, measured on a
sample and extrapolated. Runs in its own municipality (garbage-bench.<domain>), never the demo's."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from bench import lib

NAME = "garbage_reminders"
DESCRIPTION = "time to enqueue every garbage reminder due at the evening peak for 230,000 residents over 314 areas"

CODE, LABEL = "419907", "garbage-bench"
QUEUE = "bench-garbage-reminders"


def _ensure_city(residents: int) -> str:
    from miniapps.garbage.datasets import saga_5374_dir
    from miniapps.garbage.models import Area
    from miniapps.garbage.services import calendar_import_5374
    from tenants.models import Domain
    from tenants.services import municipality_onboard

    host = f"{LABEL}.{settings.PLATFORM_DOMAIN}"
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    municipality = domain.tenant if domain else municipality_onboard(
        code=CODE, name="ごみベンチ市", name_en="Garbage Bench City", domain=host,
        admin_email=f"admin@{LABEL}.example", admin_password="bench-pass-2026-x").municipality
    schema = municipality.schema_name
    with schema_context(schema):
        if not Area.objects.exists():
            calendar_import_5374(directory=saga_5374_dir())
        _ensure_residents(residents)
    connection.set_schema_to_public()
    return schema


def _ensure_residents(residents: int) -> None:
    """Bulk residents and reminders (SQL, not services: this is bench data). 70% evening 20:00 with
    every category, 10% 20:00 burnables only, 10% 21:00, 10% morning 06:30."""
    from accounts.models import User
    from miniapps.garbage.models import Category, Reminder

    have = User.objects.filter(kind="resident", username__startswith="bench-").count()
    if have >= residents:
        return
    burnable = Category.objects.order_by("sort_order").first().id
    with connection.cursor() as cursor, transaction.atomic():
        cursor.execute(
            f"INSERT INTO {User._meta.db_table} (password, is_superuser, username, email, kind, display_name, nickname, "
            "interests, language, is_active, is_staff, date_joined) "
            "SELECT '!', false, 'bench-' || g, '', 'resident', '', '', '{}', 'ja', true, false, now() "
            "FROM generate_series(%s, %s) AS g", [have + 1, residents])
        cursor.execute(
            f"INSERT INTO {Reminder._meta.db_table} (user_id, area_id, category_ids, timing, time, enabled, updated_at) "
            "SELECT u.id, a.ids[1 + (u.id %% array_length(a.ids, 1))], "
            "  CASE WHEN u.id %% 10 = 1 THEN ARRAY[%s]::bigint[] ELSE '{}'::bigint[] END, "
            "  CASE WHEN u.id %% 10 = 3 THEN 'morning_of' ELSE 'evening_before' END, "
            "  CASE WHEN u.id %% 10 = 2 THEN time '21:00' WHEN u.id %% 10 = 3 THEN time '06:30' ELSE time '20:00' END, "
            "  true, now() "
            f"FROM {User._meta.db_table} u, (SELECT array_agg(id ORDER BY id) AS ids FROM miniapps_garbage_area) a "
            f"WHERE u.username LIKE 'bench-%%' AND NOT EXISTS (SELECT 1 FROM {Reminder._meta.db_table} r WHERE r.user_id = u.id)",
            [burnable])


def _reset() -> None:
    from miniapps.garbage.models import ReminderDispatch
    from notifications.models import Notification

    ReminderDispatch.objects.all().delete()
    Notification.objects.filter(topic="garbage").delete()


def _peak(today) -> datetime:
    """20:02 on the coming Sunday: Monday is a burnable day for half of Saga's areas."""
    sunday = today + timedelta(days=(6 - today.weekday()) % 7 or 7)
    return timezone.make_aware(datetime.combine(sunday, time(20, 2)))


def run(ctx: lib.Context) -> dict:
    from superapp.celery import app as celery_app

    from miniapps.garbage import engine
    from miniapps.garbage.models import Area, Reminder
    from miniapps.garbage.push import send_reminder_groups
    from miniapps.garbage.reminders import reminder_tick

    residents = ctx.env_int("BENCH_GARBAGE_RESIDENTS", 230_000)
    sample = ctx.env_int("BENCH_GARBAGE_SAMPLE", 500)
    with lib.Timer() as setup:
        schema = _ensure_city(residents)
    ctx.log(f"{residents:,} residents with reminders in schema {schema} ({setup.seconds:.1f} s to prepare)")
    previous_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = QUEUE  # enqueued dispatch tasks go to a queue nobody consumes
    rows = []
    try:
        with schema_context(schema):
            now = _peak(timezone.localdate())
            ticks = []
            for _ in range(ctx.rounds):
                _reset()
                with lib.Timer() as timer:
                    report = reminder_tick(now=now)
                ticks.append((timer.seconds, report))
                ctx.log(f"tick: {timer.seconds:.2f} s, {report.reminders:,} due, {report.groups} groups, "
                        f"{report.sent_groups} notifications, {report.empty_groups} empty")
            with lib.Timer() as again_timer:
                again = reminder_tick(now=now + timedelta(minutes=5))
            seconds, report = sorted(ticks, key=lambda item: item[0])[len(ticks) // 2]

            # (a) the floor: reading the due reminders at all
            reads = []
            for _ in range(ctx.rounds):
                with lib.Timer() as read_timer:
                    due = list(Reminder.objects.filter(enabled=True, timing="evening_before",
                                                       time__gte=time(18, 32), time__lte=time(20, 2))
                               .values_list("user_id", "area_id", "timing", "time", "category_ids"))
                reads.append(read_timer.seconds)
            # (b) one notification per resident, on a sample, extrapolated
            _reset()
            areas = {a.id: a for a in Area.objects.all()}
            collection_day = now.date() + timedelta(days=1)
            with lib.Timer() as per_resident:
                with transaction.atomic():
                    batch = []
                    for user_id, area_id, _timing, _time, category_ids in due[:sample]:
                        collections = [c for c in engine.area_collections(area=areas[area_id], start=collection_day,
                                                                          end=collection_day)
                                       if not category_ids or c.category.id in category_ids]
                        if collections:
                            batch.append(([user_id], "ごみ収集のお知らせ", "・".join(c.category.name for c in collections)))
                    send_reminder_groups(batch)
            per_resident_total = per_resident.seconds / min(sample, len(due)) * len(due)
            _reset()
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(QUEUE)
    finally:
        celery_app.conf.task_default_queue = previous_queue
        connection.set_schema_to_public()

    read_seconds = sorted(reads)[len(reads) // 2]
    rows = [
        {"name": "read_floor", "label": "(floor) read the due reminders", "seconds": read_seconds,
         "notifications": 0, "due": len(due)},
        {"name": "grouped", "label": "reminder tick: groups → one notification each", "seconds": seconds,
         "notifications": report.sent_groups, "due": report.reminders},
        {"name": "per_resident", "label": f"one notification per resident (extrapolated from {min(sample, len(due)):,})",
         "seconds": per_resident_total, "notifications": len(due), "due": len(due)},
        {"name": "repeat", "label": "the same tick again 5 min later (all already sent)", "seconds": again_timer.seconds,
         "notifications": again.sent_groups, "due": again.reminders},
    ]
    return {
        "parameters": {"residents": residents, "areas": len(areas), "window": report.window,
                       "groups": report.groups, "empty_groups": report.empty_groups, "rounds": ctx.rounds},
        "tables": [{
            "title": "Evening peak: time to enqueue every reminder due in the window",
            "baseline": "read_floor",
            "columns": [
                {"key": "seconds", "label": "seconds", "better": "lower", "decimals": 2},
                {"key": "due", "label": "reminders due", "decimals": 0, "ratio": False},
                {"key": "notifications", "label": "notifications enqueued", "decimals": 0, "ratio": False},
            ],
            "rows": rows,
        }],
        "notes": [
            "A group is (area, timing, time, categories); each becomes one notification whose audience is the "
            "group's residents, delivered per device by the notifications pipeline.",
            "Enqueued dispatch tasks go to a queue no worker consumes and are purged: this measures the tick, "
            "not FCM delivery (the notifications bench measures that).",
        ],
    }
