"""Dates as schools see them: Asia/Tokyo wall-clock time and fiscal (school) years from April."""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.utils import timezone

JST = ZoneInfo("Asia/Tokyo")
FISCAL_YEAR_START_MONTH = 4


def now_local() -> datetime:
    return timezone.now().astimezone(JST)


def today_local() -> date:
    return now_local().date()


def fiscal_year_of(day: date) -> int:
    """The fiscal (school) year a day belongs to: 2027-03-31 is in 2026, 2027-04-01 in 2027."""
    return day.year if day.month >= FISCAL_YEAR_START_MONTH else day.year - 1


def fiscal_year_start(fiscal_year: int) -> date:
    return date(fiscal_year, FISCAL_YEAR_START_MONTH, 1)


def fiscal_year_end(fiscal_year: int) -> date:
    return date(fiscal_year + 1, 3, 31)


def at_local(day: date, clock: time) -> datetime:
    """An aware datetime for a wall-clock time on a day in Asia/Tokyo."""
    return datetime.combine(day, clock, tzinfo=JST)
