"""Create and migrate the template schema new municipalities are cloned from. Part of every deploy."""
from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from tenants.services import tenant_template_prepare


class Command(BaseCommand):
    help = "Create (if missing) and migrate the tenant template schema (TENANT_BASE_SCHEMA)."

    def handle(self, *args, **options):
        started = time.perf_counter()
        changed = tenant_template_prepare(verbosity=max(0, options["verbosity"] - 1))
        state = "migrated" if changed else "already current"
        self.stdout.write(self.style.SUCCESS(
            f"template schema {settings.TENANT_BASE_SCHEMA}: {state} ({time.perf_counter() - started:.2f} s)"))
