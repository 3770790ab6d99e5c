"""The project's settings, with the bare DRF floor endpoints added to the tenant URL conf."""
from superapp.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.miniapps_floor.urls"
DEBUG = False
