"""The demo's usage data: residents topped up, a few days of events, facts built, idempotent."""
from __future__ import annotations

from datetime import date, timedelta

from accounts.models import User
from analytics.demo import POPULATION_PREFIX, population_ensure, usage_seed
from analytics.models import ActiveResidentsFact, UsageFact
from miniapps.models import UsageEvent


def test_demo_usage_is_generated_once_per_day_and_aggregated(saga, kanzaki):
    today = date(2026, 11, 20)
    with saga.schema():
        assert population_ensure(count=40, seed=1) == 40
        assert population_ensure(count=40, seed=1) == 0
        days, events = usage_seed(days=3, seed=1, today=today)
        assert days == 3 and events == UsageEvent.objects.count() > 0
        assert {e.date() for e in UsageEvent.objects.datetimes("occurred_at", "day")} == {
            today - timedelta(days=n) for n in (1, 2, 3)}
        assert sum(UsageFact.objects.values_list("opens", flat=True)) == UsageEvent.objects.filter(
            kind=UsageEvent.Kind.OPENED).count()
        assert ActiveResidentsFact.objects.exists()
        assert usage_seed(days=3, seed=1, today=today) == (0, 0)
        assert usage_seed(days=4, seed=1, today=today)[0] == 1  # only the missing day
    with kanzaki.schema():
        assert not User.objects.filter(username__startswith=POPULATION_PREFIX).exists()
        assert not UsageEvent.objects.exists()
