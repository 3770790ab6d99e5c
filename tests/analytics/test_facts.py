"""Daily facts: exact aggregates from the sources, idempotent rebuilds (a day is replaced), the
nightly run (late events reach their day), and sources that are not installed."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import time_machine
from django.db import connection
from django.utils import timezone

from analytics import facts, services
from analytics.models import ActiveResidentsFact, FactBuild, FactWatermark, UsageFact
from miniapps.models import UsageEvent
from miniapps.services import UsageEventInput, usage_events_record

from .conftest import MONTH_FROM, MONTH_TO, NOW, TOKYO


def _usage_rows() -> dict[tuple, dict]:
    return {(row["day"], row["miniapp_id"], row["district_id"], row["age_band"]):
            {"opens": row["opens"], "taps": row["taps"], "users": row["users"]}
            for row in UsageFact.objects.values()}


def _active_rows() -> dict[tuple, int]:
    return {(row["day"], row["district_id"], row["age_band"]): row["active_residents"]
            for row in ActiveResidentsFact.objects.values()}


def test_usage_facts_equal_the_aggregates_of_what_residents_sent(saga, usage_month):
    with saga.schema():
        results = services.facts_rebuild(date_from=MONTH_FROM, date_to=MONTH_TO, keys=["usage"])
        assert _usage_rows() == usage_month.usage_cells()
        assert _active_rows() == usage_month.active_cells()
        builds = dict(FactBuild.objects.filter(fact="usage").values_list("day", "rows"))
    assert results[0].rows == len(usage_month.usage_cells())
    # Every day of the range has its build row; May 1 had no events and says so.
    assert len(builds) == 31 and builds[MONTH_FROM] == 0 and builds[date(2026, 5, 2)] > 0


def test_rebuilding_a_day_replaces_it_and_twice_changes_nothing(saga, usage_month):
    with saga.schema():
        services.facts_rebuild(date_from=MONTH_FROM, date_to=MONTH_TO, keys=["usage"])
        first = _usage_rows()
        services.facts_rebuild(date_from=MONTH_FROM, date_to=MONTH_TO, keys=["usage"])
        assert _usage_rows() == first
        # The source changes for one day: rebuilding that day alone brings just that day up to date.
        day = date(2026, 5, 11)  # residents sent feedback that evening
        assert {key for key in first if key[0] == day and key[1] == "feedback"}
        start = datetime(2026, 5, 11, tzinfo=TOKYO)
        UsageEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=start + timedelta(days=1),
                                  miniapp_id="feedback").delete()
        services.facts_rebuild(date_from=day, date_to=day, keys=["usage"])
        after = _usage_rows()
    assert {key for key in after if key[0] == day and key[1] == "feedback"} == set()
    assert {key: value for key, value in after.items() if key[0] != day} == \
        {key: value for key, value in first.items() if key[0] != day}
    assert len(after) < len(first)


def test_nightly_rebuilds_yesterday_and_days_that_received_late_events(saga, usage_month):
    with saga.schema():
        # Events count once they are older than the 2-minute margin (no transaction still inserting):
        # this run's "now" puts the cut-off at this moment.
        first = services.facts_nightly(today=date(2026, 6, 1), now=timezone.now() + services.WATERMARK_MARGIN)
        usage = [r for r in first if r.fact == "usage"]
        # The first run builds every day that has events (no watermark yet), as ranges.
        assert (usage[0].date_from, usage[-1].date_to) == (date(2026, 5, 2), date(2026, 5, 31))
        assert _usage_rows() == usage_month.usage_cells()
        watermark = FactWatermark.objects.get(fact="usage").received_until
        assert watermark is not None
        # An offline phone syncs an event of May 12 after the run: the next night rebuilds May 12
        # (and its own yesterday), nothing else.
        resident = UsageEvent.objects.values_list("user_id", flat=True).first()
        from accounts.models import User

        with time_machine.travel(NOW, tick=False):
            usage_events_record(user=User.objects.get(pk=resident), events=[
                UsageEventInput(miniapp="garbage", kind=1, at=datetime(2026, 5, 12, 22, 0, tzinfo=TOKYO))])
        later = timezone.now() + timedelta(minutes=10)
        second = services.facts_nightly(today=date(2026, 6, 2), now=later)
    rebuilt = sorted((r.date_from, r.date_to) for r in second if r.fact == "usage")
    assert rebuilt == [(date(2026, 5, 12), date(2026, 5, 12)), (date(2026, 6, 1), date(2026, 6, 1))]
    with saga.schema():
        assert sum(row["opens"] for key, row in _usage_rows().items() if key[0] == date(2026, 5, 12)) == \
            sum(row["opens"] for key, row in usage_month.usage_cells().items() if key[0] == date(2026, 5, 12)) + 1


def test_a_fact_whose_source_is_not_installed_is_skipped_and_says_why(saga):
    absent = facts.Fact("absent", "なし", "Absent", (UsageFact,), ("no.such.app",), lambda ctx: ("", {}))
    with saga.schema():
        result = services.fact_rebuild_range(fact=absent, date_from=MONTH_FROM, date_to=MONTH_TO)
        assert not FactBuild.objects.filter(fact="absent").exists()
    assert result.skipped == "source not installed: no.such.app" and result.rows == 0


def test_two_rebuilds_of_one_fact_take_turns_per_municipality(saga):
    """The advisory lock is keyed by schema and fact: the key differs across municipalities."""
    with saga.schema():
        saga_key = facts.schema_lock_key("usage")
    assert saga_key == f"{saga.schema_name}:analytics.fact:usage"
    assert connection.schema_name == "public"


def test_contiguous_ranges():
    days = [date(2026, 5, d) for d in (1, 2, 3, 7, 9, 10)]
    assert facts.contiguous_ranges(days) == [(date(2026, 5, 1), date(2026, 5, 3)), (date(2026, 5, 7), date(2026, 5, 7)),
                                             (date(2026, 5, 9), date(2026, 5, 10))]
    assert facts.contiguous_ranges([]) == []
