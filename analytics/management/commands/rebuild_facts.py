"""`manage.py rebuild_facts --schema saga --from 2026-05-01 --to 2026-05-31 [--facts usage,push]`, or
`--nightly` for what the nightly task does. Rebuilding a day replaces it (idempotent)."""
from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from analytics import services
from superapp.api.errors import ApiError
from tenants.models import Municipality


class Command(BaseCommand):
    help = "Rebuild the data platform's daily fact tables of one municipality."

    def add_arguments(self, parser):
        parser.add_argument("--schema", required=True)
        parser.add_argument("--from", dest="date_from")
        parser.add_argument("--to", dest="date_to")
        parser.add_argument("--facts", default="", help="comma-separated fact keys (default: all)")
        parser.add_argument("--nightly", action="store_true", help="rebuild what the nightly run would")

    def handle(self, *args, **options):
        municipality = Municipality.objects.filter(schema_name=options["schema"]).first()
        if municipality is None:
            raise CommandError(f"no municipality with schema {options['schema']!r}")
        with tenant_context(municipality):
            try:
                if options["nightly"]:
                    results = services.facts_nightly()
                else:
                    if not (options["date_from"] and options["date_to"]):
                        raise CommandError("give --from and --to, or --nightly")
                    try:
                        first, last = date.fromisoformat(options["date_from"]), date.fromisoformat(options["date_to"])
                    except ValueError:
                        raise CommandError("dates are YYYY-MM-DD") from None
                    keys = [key.strip() for key in options["facts"].split(",") if key.strip()]
                    results = services.facts_rebuild(date_from=first, date_to=last, keys=keys or None)
            except ApiError as exc:
                raise CommandError(f"{exc.message_en} {exc.fields}") from None
        for result in results:
            if result.skipped:
                self.stdout.write(f"{result.fact}: skipped ({result.skipped})")
            else:
                self.stdout.write(f"{result.fact}: {result.date_from}..{result.date_to} {result.rows:,} rows "
                                  f"in {result.seconds:.2f} s")
