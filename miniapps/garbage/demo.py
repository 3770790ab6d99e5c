"""Demo data for the garbage calendar (`make demo` → seed_demo): Saga's real 5374 data, a few
oversized-garbage item types and pickup days, and evening reminders for the demo residents so the
beat sends garbage-day pushes the evening before. Idempotent."""
from __future__ import annotations

import random
from datetime import time, timedelta
from pathlib import Path

from django.utils import timezone

from accounts.models import User

from . import services
from .importers.csvfiles import ImportFailed
from .models import Area, AreaGroup, PickupDay, PickupItemType, Reminder

ITEM_TYPES = [("ソファー", "Sofa", 1000), ("椅子", "Chair", 300), ("自転車", "Bicycle", 500), ("たんす", "Chest of drawers", 1000)]


def seed_garbage_demo(*, data_dir: Path, acting_user: User | None = None) -> list[str]:
    """Returns lines to print. Skips (with a message) when the 5374 directory is absent."""
    if not (Path(data_dir) / "area_days.csv").exists():
        return [f"ごみカレンダー: {data_dir} がないためスキップします / garbage calendar: {data_dir} not found, skipped"]
    try:
        report = services.calendar_import_5374(directory=Path(data_dir), acting_user=acting_user)
    except ImportFailed as exc:
        return [f"ごみカレンダー: 取り込みに失敗しました / import failed: {issue}" for issue in exc.issues[:10]]
    lines = [f"ごみカレンダー: {data_dir} を取り込みました / imported ({report.seconds:.1f} s)"]
    admin = acting_user or User.objects.filter(kind=User.Kind.STAFF, is_superuser=True).first()
    for name, name_en, fee in ITEM_TYPES:
        if not PickupItemType.objects.filter(name=name).exists():
            services.pickup_item_type_save(acting_user=admin, name=name, name_en=name_en, fee=fee)
    today = timezone.localdate()
    for group in AreaGroup.objects.all():
        for weeks in (2, 3):
            day = today + timedelta(days=(2 - today.weekday()) % 7 + 7 * weeks)  # Wednesdays
            if not PickupDay.objects.filter(date=day, group=group).exists():
                services.pickup_day_create(acting_user=admin, date=day, group=group, capacity=30)
    areas = list(Area.objects.all())
    rng = random.Random(412015)
    without = User.objects.filter(kind=User.Kind.RESIDENT, garbage_reminder__isnull=True)
    count = 0
    for user in without.order_by("id"):
        timing = rng.choice([Reminder.Timing.EVENING_BEFORE] * 4 + [Reminder.Timing.MORNING_OF])
        at = time(rng.choice([19, 20, 20, 21]), rng.choice([0, 30])) if timing == Reminder.Timing.EVENING_BEFORE else time(6, 30)
        services.reminder_set(user=user, area=rng.choice(areas), category_ids=[], timing=timing, time=at)
        count += 1
    lines.append(f"ごみカレンダー: 住民{count}人にお知らせを設定しました / reminders set for {count} residents")
    return lines
