"""`manage.py import_5374 --schema saga DIR`: import a city's 5374 garbage calendar files."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from tenants.models import Municipality

from ...importers.csvfiles import ImportFailed
from ...services import calendar_import_5374


class Command(BaseCommand):
    help = ("5374形式のごみカレンダー（area_days.csv, description.csv, target.csv, center.csv, remarks.csv, "
            "area_master.csv）を自治体に取り込みます。既存のカレンダーは一括で置き換えます。 / Import a directory of "
            "5374 files into a municipality, replacing its calendar atomically.")

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument("--schema", required=True, help="municipality schema, e.g. saga")
        parser.add_argument("--dry-run", action="store_true", help="parse and report only; write nothing")

    def handle(self, *args, directory: Path, schema: str, dry_run: bool, **options):
        if not Municipality.objects.filter(schema_name=schema).exists():
            raise CommandError(f"自治体のスキーマ「{schema}」はありません / no municipality with schema '{schema}'")
        with schema_context(schema):
            try:
                report = calendar_import_5374(directory=directory, dry_run=dry_run)
            except ImportFailed as exc:
                for issue in exc.issues:
                    self.stderr.write(f"  {issue}")
                raise CommandError(
                    f"取り込みを中止しました（{len(exc.issues)}件の誤り、変更はありません） / "
                    f"import aborted: {len(exc.issues)} problem(s), nothing was changed") from None
        verb = "確認しました（書き込みなし） / checked (dry run, nothing written)" if dry_run else "取り込みました / imported"
        self.stdout.write(self.style.SUCCESS(f"{directory} → {schema}: {verb} ({report.seconds:.2f} s)"))
        for line in report.lines():
            self.stdout.write(line)
