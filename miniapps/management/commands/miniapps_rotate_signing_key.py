"""Rotate a municipality's launch-token signing key now (e.g. after a suspected leak).

    manage.py miniapps_rotate_signing_key saga        # one municipality (schema name)
    manage.py miniapps_rotate_signing_key --all
"""
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from miniapps import sso
from tenants.models import Municipality


class Command(BaseCommand):
    help = "Rotate launch-token signing keys (the old key stays published until purged)."

    def add_arguments(self, parser):
        parser.add_argument("schemas", nargs="*", help="schema names of the municipalities")
        parser.add_argument("--all", action="store_true", help="every municipality")

    def handle(self, *args, schemas, all, **options):
        if all == bool(schemas):
            raise CommandError("name the municipalities' schemas, or pass --all (not both)")
        municipalities = Municipality.objects.exclude(schema_name="public")
        if not all:
            municipalities = municipalities.filter(schema_name__in=schemas)
            missing = set(schemas) - set(municipalities.values_list("schema_name", flat=True))
            if missing:
                raise CommandError(f"no municipality with schema {', '.join(sorted(missing))}")
        for municipality in municipalities:
            with schema_context(municipality.schema_name):
                key = sso.signing_key_rotate()
            self.stdout.write(f"{municipality.schema_name}: new signing key {key.kid}")
