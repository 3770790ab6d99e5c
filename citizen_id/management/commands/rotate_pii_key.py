"""Re-wrap every citizen-ID data key under CITIZEN_ID_PII_ACTIVE_KEY, in batches; safe to interrupt and
run again (it resumes with the rows still under older keys)."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from citizen_id.crypto import keyring
from citizen_id.services import pii_keys_in_use, pii_rewrap_batch
from tenants.models import Municipality


class Command(BaseCommand):
    help = "Re-wrap citizen-ID PII and QR signing keys under the active key (CITIZEN_ID_PII_ACTIVE_KEY)."

    def add_arguments(self, parser):
        parser.add_argument("--schema", action="append", help="only these municipality schemas (default: all)")
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--max-batches", type=int, default=0, help="stop after this many batches per schema")

    def handle(self, *args, schema, batch_size, max_batches, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        ring = keyring()
        schemas = schema or list(Municipality.objects.values_list("schema_name", flat=True))
        self.stdout.write(f"active key: {ring.active_id}; keys available: {', '.join(ring.keys)}")
        for name in schemas:
            with schema_context(name):
                missing = sorted(set(pii_keys_in_use()) - set(ring.keys))
                if missing:
                    raise CommandError(f"{name}: rows are encrypted under keys not in CITIZEN_ID_PII_KEYS: "
                                       f"{', '.join(missing)}")
                total, batches = 0, 0
                while True:
                    done = pii_rewrap_batch(batch_size=batch_size)
                    total += done
                    batches += 1
                    if not done or (max_batches and batches >= max_batches):
                        break
                remaining = {k: v for k, v in pii_keys_in_use().items() if k != ring.active_id}
                self.stdout.write(f"{name}: re-wrapped {total}; still under older keys: {remaining or 'none'}")
