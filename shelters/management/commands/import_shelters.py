"""python manage.py import_shelters --schema saga shelters.csv"""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from shelters.services import shelters_import
from tenants.models import Municipality


class Command(BaseCommand):
    help = "Import a 指定緊急避難場所一覧 CSV (current or older standard format) into a municipality. All or nothing."

    def add_arguments(self, parser):
        parser.add_argument("--schema", required=True, help="the municipality's schema name, e.g. saga")
        parser.add_argument("file", type=Path)

    def handle(self, *args, **options):
        schema = options["schema"]
        if not Municipality.objects.filter(schema_name=schema).exists():
            raise CommandError(f"スキーマ {schema} の自治体はありません / no municipality with schema {schema}")
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"ファイルがありません / no such file: {path}")
        with schema_context(schema):
            report = shelters_import(data=path.read_bytes())
        if not report.ok:
            for error in report.errors:
                self.stderr.write(f"{path.name}: {error}")
            raise CommandError(f"{len(report.errors)}件のエラーがあるため、何も取り込みませんでした。"
                               f" / {len(report.errors)} errors: nothing was imported.")
        self.stdout.write(self.style.SUCCESS(
            f"取り込み完了: 新規 {report.created}、更新 {report.updated}、変更なし {report.unchanged}"
            f" / imported: {report.created} created, {report.updated} updated, {report.unchanged} unchanged"))
