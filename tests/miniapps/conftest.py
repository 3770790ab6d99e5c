"""Mini-app tests count queries across requests that may run for more than the host cache's 30 s on
a loaded machine: keep the host → municipality entry for the whole test, so a count never includes
a re-lookup of the domain that the test did not cause."""
from __future__ import annotations

import pytest

from tenants import hostcache


@pytest.fixture(autouse=True)
def _host_cache_lasts_the_test(settings):
    settings.TENANT_HOST_CACHE_SECONDS = 3600
    hostcache.clear()
    yield
    hostcache.clear()
