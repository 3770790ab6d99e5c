"""Import a school roster CSV into one municipality (each April):

    python manage.py import_school_roster --schema saga roster.csv [--dry-run]

Nothing is imported when any row is bad; every problem is printed with its line number."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context, schema_exists

from tenants.models import Municipality

from ...roster import RosterError, roster_import


class Command(BaseCommand):
    help = "Import a school roster CSV (UTF-8 or Shift_JIS) into one municipality; nothing is imported on any error."

    def add_arguments(self, parser):
        parser.add_argument("--schema", required=True, help="the municipality's schema name, e.g. saga")
        parser.add_argument("file", help="roster CSV file")
        parser.add_argument("--dry-run", action="store_true", help="check the file without importing")

    def handle(self, *args, schema: str, file: str, dry_run: bool, **options):
        if not Municipality.objects.filter(schema_name=schema).exists() or not schema_exists(schema):
            raise CommandError(f"no municipality with schema {schema!r}")
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        with schema_context(schema):
            try:
                result = roster_import(data=data, dry_run=dry_run)
            except RosterError as exc:
                for error in exc.errors:
                    self.stderr.write(str(error))
                raise CommandError(f"{exc.message} / {exc.message_en} ({len(exc.errors)}件 / problems)") from None
        ja, en = result.summary()
        self.stdout.write(self.style.SUCCESS(f"{ja}\n{en}"))
