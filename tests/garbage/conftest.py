"""Garbage calendar fixtures: Saga's real 5374 data in Saga's schema and the invented Wakaba City
(Shift_JIS, every-other-week rules) in Kanzaki's, imported once per session through the service."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from miniapps.garbage.datasets import saga_5374_dir
from miniapps.garbage.models import Area
from miniapps.garbage.services import calendar_import_5374

WAKABA_DIR = Path(__file__).parent / "data" / "5374-wakaba"


@pytest.fixture(scope="session")
def garbage_calendars(tenants_pair, django_db_blocker):
    saga, kanzaki = tenants_pair
    saga_dir = saga_5374_dir()
    assert (saga_dir / "area_days.csv").exists(), (
        f"Saga's 5374 data is missing at {saga_dir}; set SHARED_DATA_DIR to the shared data folder")
    with django_db_blocker.unblock():
        with schema_context(saga.schema_name):
            saga_report = calendar_import_5374(directory=saga_dir)
        with schema_context(kanzaki.schema_name):
            wakaba_report = calendar_import_5374(directory=WAKABA_DIR)
        connection.set_schema_to_public()
    return {"saga": saga_report, "wakaba": wakaba_report}


def area_id(tenant, name: str, group_name: str | None = None) -> int:
    with tenant.schema():
        areas = Area.objects.filter(name=name)
        if group_name is not None:
            areas = areas.filter(group__name=group_name)
        return areas.get().id


# The notifications tests' fake FCM server (real HTTP; firebase-admin talks to it via FCM_ENDPOINT).
from tests.notifications.conftest import _fake_fcm_server, fake_fcm  # noqa: E402,F401
