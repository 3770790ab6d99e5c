from __future__ import annotations

from pathlib import Path

import pytest

from shelters.services import disaster_open, shelter_open, shelters_import

DEMO_CSV = Path(__file__).resolve().parents[2] / "shelters" / "demo" / "saga_shelters.csv"


@pytest.fixture
def saga_shelters(saga):
    with saga.schema():
        report = shelters_import(data=DEMO_CSV.read_bytes())
        assert report.ok, report.errors
        from shelters.models import Shelter

        return list(Shelter.objects.order_by("id"))


@pytest.fixture
def flood(saga, saga_shelters):
    """A flood with the first two shelters open."""
    with saga.schema():
        disaster = disaster_open(name="令和8年7月豪雨", type="flood", acting_user=saga.staff["disaster_staff"])
        for shelter in saga_shelters[:2]:
            shelter_open(disaster=disaster, shelter=shelter, acting_user=saga.staff["disaster_staff"])
        return disaster


@pytest.fixture
def eager_celery():
    from superapp.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


# The citizen ID's test J-LIS (trust anchors, CRLs) for QR check-ins.
from tests.citizen_id.conftest import _fresh_signing_key_cache, jpki, jpki_session  # noqa: E402,F401
