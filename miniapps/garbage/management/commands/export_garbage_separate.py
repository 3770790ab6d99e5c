"""`manage.py export_garbage_separate --schema saga [FILE]`: write the sorting dictionary as the
national standard ゴミの分別方法一覧 CSV (UTF-8 with BOM)."""
from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from tenants.models import Municipality

from ...importers.opendata import write_garbage_separate
from ...selectors import item_search


class Command(BaseCommand):
    help = "分別辞典を「ゴミの分別方法一覧」CSVで書き出します / Export the sorting dictionary as the national standard CSV."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, nargs="?", help="output file (default: standard output)")
        parser.add_argument("--schema", required=True)

    def handle(self, *args, file: Path | None, schema: str, **options):
        municipality = Municipality.objects.filter(schema_name=schema).first()
        if municipality is None:
            raise CommandError(f"自治体のスキーマ「{schema}」はありません / no municipality with schema '{schema}'")
        with schema_context(schema):
            data = write_garbage_separate(item_search(), municipality_code=municipality.code,
                                          municipality_name=municipality.name)
        if file is None:
            sys.stdout.buffer.write(data)
        else:
            file.write_bytes(data)
            self.stderr.write(f"{file}: {len(data)} bytes")
