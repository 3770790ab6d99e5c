"""Residents on the staff dashboard: how many, by school district and by age band.

All of it comes from one aggregate query over the residents (`resident_aggregate`, shared between
the widgets through `ctx.shared`) and the list of districts. The aggregate is one pass over every
resident (about 100 ms for 230,000 on a busy 2-core machine), so it is kept in the municipality's
cache for CONSOLE_DASHBOARD_CACHE_SECONDS (60 s): a dashboard may lag registrations by a minute."""
from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from admin_console.dashboard import Bar, Chart, DashboardContext, Stat, dashboard_chart, dashboard_stat

from . import selectors

AGE_BAND_YEARS = 10
OLDEST_BAND_FROM = 80


AGGREGATE_CACHE_KEY = "console-dashboard:resident-aggregate"  # the cache key function adds the schema


def _cached_aggregate() -> selectors.ResidentAggregate:
    seconds = settings.CONSOLE_DASHBOARD_CACHE_SECONDS
    if seconds <= 0:
        return selectors.resident_aggregate()
    return cache.get_or_set(AGGREGATE_CACHE_KEY, selectors.resident_aggregate, seconds)


def _aggregate(ctx: DashboardContext) -> selectors.ResidentAggregate:
    return ctx.shared("accounts.resident_aggregate", _cached_aggregate)


def _districts(ctx: DashboardContext) -> list:
    return ctx.shared("accounts.districts", lambda: list(selectors.district_list()))


@dashboard_stat("residents", title=_("登録住民"), order=10, description=_("アプリに登録した住民の数"))
def residents(ctx: DashboardContext) -> Stat:
    return Stat(value=_aggregate(ctx).total, unit=_("人"))


@dashboard_stat("districts", title=_("校区"), order=11)
def districts(ctx: DashboardContext) -> Stat:
    return Stat(value=len(_districts(ctx)), unit=_("校区"))


@dashboard_chart("residents_by_district", title=_("校区別の登録住民"), order=100)
def residents_by_district(ctx: DashboardContext) -> Chart:
    counts = _aggregate(ctx).by_district
    bars = [Bar(label=district.name, value=counts.get(district.pk, 0)) for district in _districts(ctx)]
    bars.append(Bar(label=gettext("未設定"), value=counts.get(None, 0)))
    return Chart(bars=bars, unit=gettext("人"), value_label=gettext("住民数"), category_label=gettext("校区"),
                 caption=gettext("住民がアプリで選んだ校区です。"))


def age_band_label(start: int | None) -> str:
    if start is None:
        return gettext("不明")
    if start >= OLDEST_BAND_FROM:
        return gettext("%(start)d歳以上") % {"start": start}
    return gettext("%(start)d〜%(end)d歳") % {"start": start, "end": start + AGE_BAND_YEARS - 1}


@dashboard_chart("residents_by_age", title=_("年代別の登録住民"), order=110)
def residents_by_age(ctx: DashboardContext) -> Chart:
    bands: dict[int | None, int] = {start: 0 for start in range(0, OLDEST_BAND_FROM + 1, AGE_BAND_YEARS)}
    bands[None] = 0
    for birth_year, n in _aggregate(ctx).by_birth_year.items():
        if birth_year is None:
            bands[None] += n
            continue
        age = max(0, ctx.today.year - birth_year)  # the age reached this year: only the year is known
        bands[min(age // AGE_BAND_YEARS * AGE_BAND_YEARS, OLDEST_BAND_FROM)] += n
    bars = [Bar(label=age_band_label(start), value=n) for start, n in bands.items()]
    return Chart(bars=bars, unit=gettext("人"), value_label=gettext("住民数"), category_label=gettext("年代"),
                 caption=gettext("年齢は生まれ年から数えた今年の満年齢です。"))
