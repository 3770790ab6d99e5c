"""Demo data for the data platform: a resident population large enough for small-cell suppression
to leave most cells visible, and a few weeks of plausible mini-app usage, with the daily facts built.

Used by `seed_demo` for Saga so that the dashboard, the 集計 page and a month's export show real
shapes in `make demo`. Idempotent: residents are topped up to the target, and usage is generated
only for days that have none yet.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts.models import District, User
from miniapps.attributes import age_band_lower
from miniapps.models import UsageEvent
from miniapps.registry import registry

from .services import facts_rebuild

POPULATION_PREFIX = "demo-population-"
# Relative popularity of the built-in mini-apps (others get weight 1); garbage is every city's most used.
WEIGHTS = {"garbage": 12, "announcements": 5, "community": 4, "attendance": 3, "feedback": 1}
INTERESTS = ["子育て", "防災", "イベント", "スポーツ", "歴史", "ごみ", "健康", "観光"]
BATCH = 5_000


def population_ensure(*, count: int, seed: int) -> int:
    """Tops the demo population up to `count` residents (no tokens: they stand for residents on
    other phones); returns how many were created."""
    existing = User.objects.filter(username__startswith=POPULATION_PREFIX).count()
    if existing >= count:
        return 0
    rng = random.Random(seed)
    districts = list(District.objects.order_by("id"))
    # Larger districts near the centre: a skewed draw gives visibly different bar lengths.
    weights = [1 + (len(districts) - i) / 4 for i in range(len(districts))]
    password = make_password(None)
    users = [
        User(username=f"{POPULATION_PREFIX}{index:06d}", kind=User.Kind.RESIDENT, password=password,
             nickname=f"住民{index + 1}", district=rng.choices(districts, weights)[0] if districts else None,
             birth_year=rng.choice(range(1935, 2010)), interests=rng.sample(INTERESTS, k=rng.randint(0, 3)))
        for index in range(existing, count)
    ]
    User.objects.bulk_create(users, batch_size=BATCH)
    return len(users)


def _day_events(rng: random.Random, day: date, residents: list[tuple[int, int | None, int | None]],
                miniapps: list[str], weights: list[float], received: datetime) -> list[UsageEvent]:
    events = []
    weekend = day.weekday() >= 5
    for user_id, district_id, birth_year in residents:
        # About a third of residents open the app on a given day, more at weekends.
        if rng.random() > (0.42 if weekend else 0.33):
            continue
        band = age_band_lower(birth_year, day)
        for miniapp_id in rng.choices(miniapps, weights, k=rng.randint(1, 3)):
            moment = timezone.make_aware(datetime.combine(day, time(rng.randint(6, 22), rng.randint(0, 59))))
            events.append(UsageEvent(occurred_at=moment, received_at=min(moment + timedelta(seconds=5), received),
                                     miniapp_id=miniapp_id, kind=UsageEvent.Kind.OPENED, user_id=user_id,
                                     district_id=district_id, age_band=band))
            if rng.random() < 0.4:
                events.append(UsageEvent(occurred_at=moment + timedelta(seconds=20), received_at=received,
                                         miniapp_id=miniapp_id, kind=UsageEvent.Kind.TAPPED, user_id=user_id,
                                         district_id=district_id, age_band=band))
    return events


def usage_seed(*, days: int, seed: int, today: date | None = None) -> tuple[int, int]:
    """Usage events for each of the last `days` days (yesterday backwards) that has none yet, then
    the daily facts for that range. Returns (days generated, events written)."""
    today = today or timezone.localdate()
    first = today - timedelta(days=days)
    start = timezone.make_aware(datetime.combine(first, time.min))
    seen = {moment.date() for moment in UsageEvent.objects.filter(occurred_at__gte=start).datetimes("occurred_at", "day")}
    missing = [first + timedelta(days=n) for n in range(days) if first + timedelta(days=n) not in seen]
    if not missing:
        return 0, 0
    residents = list(User.objects.filter(kind=User.Kind.RESIDENT, is_active=True)
                     .values_list("id", "district_id", "birth_year"))
    manifests = sorted(registry.ids())
    miniapps = [m for m in manifests if m in WEIGHTS] + [m for m in manifests if m not in WEIGHTS]
    weights = [WEIGHTS.get(m, 1) for m in miniapps]
    rng = random.Random(seed)
    now = timezone.now()
    written = 0
    for day in missing:
        with transaction.atomic():
            events = _day_events(rng, day, residents, miniapps, weights, now)
            UsageEvent.objects.bulk_create(events, batch_size=BATCH)
            written += len(events)
    facts_rebuild(date_from=first, date_to=today - timedelta(days=1), keys=["usage"])
    return len(missing), written
