"""The project's settings with the constant floor view as the only URL and a chosen middleware stack.

BENCH_FLOOR_MIDDLEWARE:
  none     no middleware at all: plain Django, the database is never touched (the floor)
  tenant   only the project's MunicipalityMiddleware (host → municipality, schema selected)
  project  the project's full MIDDLEWARE list (tenant routing, sessions, CSRF, auth, ...)
"""
import os

from superapp.settings import *  # noqa: F401,F403  (reuse everything: database, cache, apps)
from superapp.settings import MIDDLEWARE as PROJECT_MIDDLEWARE

_STACKS = {
    "none": [],
    "tenant": ["superapp.middleware.MunicipalityMiddleware"],
    "project": list(PROJECT_MIDDLEWARE),
}
_choice = os.environ.get("BENCH_FLOOR_MIDDLEWARE", "none")
if _choice not in _STACKS:
    raise RuntimeError(f"BENCH_FLOOR_MIDDLEWARE must be one of {sorted(_STACKS)}, not {_choice!r}")
MIDDLEWARE = _STACKS[_choice]

# The tenant middleware routes municipality hosts to ROOT_URLCONF and the bare platform host to
# PUBLIC_SCHEMA_URLCONF: both serve the floor view here.
ROOT_URLCONF = "bench.floor.urls"
PUBLIC_SCHEMA_URLCONF = "bench.floor.urls"
DEBUG = False
