"""Builders for the data-platform tests: a month of mini-app usage by residents in districts of
different sizes (some groups above the privacy threshold, some below), made through the real
mini-app service, with the expected aggregates computed independently in Python."""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.services import district_create, resident_create
from miniapps.services import UsageEventInput, usage_events_record

TOKYO = ZoneInfo("Asia/Tokyo")
# The usage month: events from May 2 to May 31 (the mini-app service takes events up to 30 days old).
NOW = datetime(2026, 5, 31, 21, 0, tzinfo=TOKYO)
MONTH_FROM = date(2026, 5, 1)
MONTH_TO = date(2026, 5, 31)
THIS_YEAR = 2026

SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR") or Path(__file__).resolve().parents[3] / "shared" / "data")
OPENDATA_HEADERS = SHARED_DATA / "opendata"


def standard_header(name: str) -> list[str]:
    """The standard's header row from ../shared/data/opendata/<name>.header.csv."""
    path = OPENDATA_HEADERS / f"{name}.header.csv"
    assert path.exists(), f"missing {path}; set SHARED_DATA_DIR to the shared data folder"
    import csv

    with open(path, encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle))


@dataclass
class UsageMonth:
    """What was sent, and the aggregates a correct pipeline must produce from it."""

    districts: dict[str, int] = field(default_factory=dict)  # name → id
    events: list[tuple] = field(default_factory=list)  # (local day, miniapp, district_id, age_band, kind, user)

    def usage_cells(self) -> dict[tuple, dict]:
        cells: dict[tuple, dict] = defaultdict(lambda: {"opens": 0, "taps": 0, "users": set()})
        for day, miniapp, district, age_band, kind, user in self.events:
            cell = cells[(day, miniapp, district, age_band)]
            cell["opens" if kind == "opened" else "taps"] += 1
            cell["users"].add(user)
        return {key: {"opens": c["opens"], "taps": c["taps"], "users": len(c["users"])} for key, c in cells.items()}

    def active_cells(self) -> dict[tuple, int]:
        people: dict[tuple, set] = defaultdict(set)
        for day, _miniapp, district, age_band, _kind, user in self.events:
            people[(day, district, age_band)].add(user)
        return {key: len(users) for key, users in people.items()}


# (district name, residents, birth year): 15 and 12 residents are above the default threshold of
# 10; the 3 in 金立 are a small group; 2 residents never chose a district.
GROUPS = [("本庄校区", 15, THIS_YEAR - 35), ("北川副校区", 12, THIS_YEAR - 44), ("金立校区", 3, THIS_YEAR - 72),
          (None, 2, None)]
APPS = ("garbage", "announcements", "feedback")


def build_usage_month(tenant) -> UsageMonth:
    """Every resident opens the garbage calendar every day of May (2-31) at 07:30, reads the
    announcements every third day (open + tap), and sends feedback twice a month."""
    month = UsageMonth()
    with tenant.schema(), time_machine.travel(NOW, tick=False):
        for name, residents, birth_year in GROUPS:
            district = district_create(name=name, kana="こうく") if name else None
            if district:
                month.districts[name] = district.pk
            for _ in range(residents):
                issued = resident_create(district=district, birth_year=birth_year)
                user = issued.token.user
                age_band = None if birth_year is None else min((THIS_YEAR - birth_year) // 10 * 10, 80)
                batch = []
                for offset in range(1, 31):
                    day = MONTH_FROM + timedelta(days=offset)
                    at = datetime(day.year, day.month, day.day, 7, 30, tzinfo=TOKYO)
                    plan = [("garbage", "opened", at)]
                    if offset % 3 == 0:
                        plan += [("announcements", "opened", at + timedelta(minutes=1)),
                                 ("announcements", "tapped", at + timedelta(minutes=2))]
                    if offset in (10, 20):
                        plan.append(("feedback", "opened", at + timedelta(hours=12)))
                    for miniapp, kind, moment in plan:
                        batch.append(UsageEventInput(miniapp=miniapp, kind=1 if kind == "opened" else 2, at=moment))
                        month.events.append((moment.astimezone(TOKYO).date(), miniapp, user.district_id, age_band,
                                             kind, user.pk))
                usage_events_record(user=user, events=batch)
    return month


@pytest.fixture
def usage_month(saga) -> UsageMonth:
    return build_usage_month(saga)


@pytest.fixture
def export_storage(settings, tmp_path):
    """Exports land in a temporary MEDIA_ROOT (tenant-prefixed underneath), and work files in a
    temporary folder; django-tenants caches the storage's location, so it is reset around the test."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ANALYTICS_WORK_DIR = str(tmp_path / "work")
    (tmp_path / "work").mkdir()
    _forget_storage_location()
    yield tmp_path
    _forget_storage_location()


def _forget_storage_location() -> None:
    # django-tenants' storage caches MEDIA_ROOT in `relative_media_root` and keeps it when
    # MEDIA_ROOT changes (the community tests do the same).
    from django.core.files.storage import storages

    storages["default"].__dict__.pop("relative_media_root", None)


@pytest.fixture
def eager_tasks():
    """Celery tasks run in-process when sent (on-commit callbacks included)."""
    from superapp.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = previous


def set_threshold(tenant, value) -> None:
    tenant.municipality.settings["privacy_threshold"] = value
    tenant.municipality.save(update_fields=["settings"])


@pytest.fixture
def threshold(saga):
    """Sets Saga's privacy threshold for one test and puts the default back."""
    original = dict(saga.municipality.settings)

    def apply(value):
        set_threshold(saga, value)

    yield apply
    saga.municipality.settings = original
    saga.municipality.save(update_fields=["settings"])
