"""`manage.py export_dataset --schema saga usage_daily --format hyper --from 2026-05-01 --to 2026-05-31 --out may.hyper`

Exports one dataset of one municipality, the same way as the console (an export job is recorded,
the same engine and privacy rules run, the file is also kept in the municipality's storage for the
console's 7-day download). Runs here and now and copies the file to --out; with --enqueue it hands
the job to a Celery worker instead and prints its id. Named lists (personal data) need --purpose."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from analytics import services
from analytics.datasets import all_datasets
from analytics.engine import FORMATS
from analytics.models import ExportJob
from superapp.api.errors import ApiError
from tenants.models import Municipality


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _parameter(value: str) -> tuple[str, str]:
    name, sep, raw = value.partition("=")
    if not sep or not name:
        raise CommandError(f"--param takes name=value, not {value!r}")
    return name, raw


class Command(BaseCommand):
    help = "Export a dataset of one municipality as CSV (UTF-8 BOM), Parquet or Tableau Hyper."

    def add_arguments(self, parser):
        parser.add_argument("dataset", choices=sorted(d.key for d in all_datasets()))
        parser.add_argument("--schema", required=True, help="the municipality's schema, e.g. saga")
        parser.add_argument("--format", required=True, choices=FORMATS)
        parser.add_argument("--from", dest="date_from", help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", help="last day, YYYY-MM-DD")
        parser.add_argument("--out", help="file to write (required unless --enqueue)")
        parser.add_argument("--param", action="append", default=[], help="dataset parameter, name=value (repeatable)")
        parser.add_argument("--purpose", default="", help="why a named list (personal data) is exported; audited")
        parser.add_argument("--enqueue", action="store_true", help="hand the job to a Celery worker and return")

    def handle(self, *args, **options):
        municipality = Municipality.objects.filter(schema_name=options["schema"]).first()
        if municipality is None:
            raise CommandError(f"no municipality with schema {options['schema']!r}")
        out = Path(options["out"]) if options["out"] else None
        if out is None and not options["enqueue"]:
            raise CommandError("--out FILE is required (or --enqueue to let a worker make it)")
        if out is not None and not out.parent.is_dir():
            raise CommandError(f"the folder of --out does not exist: {out.parent}")
        parameters = dict(_parameter(value) for value in options["param"])
        with tenant_context(municipality):
            try:
                job = services.export_job_create(
                    dataset=options["dataset"], fmt=options["format"],
                    date_from=_date(options["date_from"]) if options["date_from"] else None,
                    date_to=_date(options["date_to"]) if options["date_to"] else None,
                    parameters=parameters, purpose=options["purpose"], acting_user=None,
                    origin=ExportJob.Origin.COMMAND, enqueue=options["enqueue"])
            except ApiError as exc:
                details = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.fields.items())
                raise CommandError(f"{exc.message_en}{' (' + details + ')' if details else ''}") from None
            if options["enqueue"]:
                self.stdout.write(f"queued export job {job.pk}")
                return

            def progress(rows: int, estimated: int | None) -> None:
                total = f"/{estimated:,}" if estimated else ""
                sys.stderr.write(f"\r{rows:,}{total} rows")
                sys.stderr.flush()

            job = services.export_job_run(job_id=job.pk, out=out, on_progress=progress if options["verbosity"] else None)
        if options["verbosity"]:
            sys.stderr.write("\n")
        if job.status != ExportJob.Status.SUCCEEDED:
            raise CommandError(f"export failed ({job.error_code}): {job.error_message_en} / {job.error_message}")
        self.stdout.write(f"{job.rows_done:,} rows → {out} ({job.file_size:,} bytes; job {job.pk}, "
                          f"privacy threshold {job.privacy_threshold})")
