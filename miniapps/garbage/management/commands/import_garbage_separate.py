"""`manage.py import_garbage_separate --schema saga FILE`: import the national standard
ゴミの分別方法一覧 CSV into the sorting dictionary."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from tenants.models import Municipality

from ...importers.csvfiles import ImportFailed
from ...services import sorting_import_opendata


class Command(BaseCommand):
    help = ("自治体標準オープンデータセット「ゴミの分別方法一覧」CSVを分別辞典に取り込みます / Import the national standard "
            "garbage sorting CSV into the sorting dictionary (replaces earlier items from this format).")

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--schema", required=True)
        parser.add_argument("--replace-all", action="store_true",
                            help="also remove dictionary items that came from 5374 target.csv")

    def handle(self, *args, file: Path, schema: str, replace_all: bool, **options):
        municipality = Municipality.objects.filter(schema_name=schema).first()
        if municipality is None:
            raise CommandError(f"自治体のスキーマ「{schema}」はありません / no municipality with schema '{schema}'")
        if not file.is_file():
            raise CommandError(f"ファイルがありません / no such file: {file}")
        with schema_context(schema):
            try:
                report = sorting_import_opendata(raw=file.read_bytes(), name=file.name, municipality_code=municipality.code,
                                                 replace_all=replace_all)
            except ImportFailed as exc:
                for issue in exc.issues:
                    self.stderr.write(f"  {issue}")
                raise CommandError("取り込みを中止しました（変更はありません） / import aborted, nothing changed") from None
        self.stdout.write(self.style.SUCCESS(f"{file} → {schema}: 取り込みました / imported"))
        for line in report.lines():
            self.stdout.write(line)
