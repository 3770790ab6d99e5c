"""Working days of a Japanese city office: Monday to Friday, except national holidays (jpholiday)
and the New Year closure (12/29-1/3). Booking cut-offs count these days."""
from __future__ import annotations

from datetime import date, timedelta

import jpholiday

CUTOFF_WORKING_DAYS = 2


def is_working_day(day: date) -> bool:
    if day.weekday() >= 5:
        return False
    if (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3):
        return False
    return not jpholiday.is_holiday(day)


def working_days_before(day: date, count: int) -> date:
    """The `count`-th working day before `day` (day itself not counted)."""
    current = day
    found = 0
    while found < count:
        current -= timedelta(days=1)
        if is_working_day(current):
            found += 1
    return current


def booking_cutoff(pickup_date: date) -> date:
    """The last day (Asia/Tokyo) on which a booking for `pickup_date` can be made or cancelled:
    two working days before it. Pickup on a Wednesday → until Monday; on a Monday → until Thursday."""
    return working_days_before(pickup_date, CUTOFF_WORKING_DAYS)
