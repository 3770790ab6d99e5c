"""The project's settings plus an app whose mini-app manifest is malformed (start-up test)."""
from superapp.settings import *  # noqa: F401,F403
from superapp.settings import INSTALLED_APPS, TENANT_APPS

TENANT_APPS = [*TENANT_APPS, "tests.miniapps.broken_app"]
INSTALLED_APPS = [*INSTALLED_APPS, "tests.miniapps.broken_app"]
