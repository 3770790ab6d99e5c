"""The export engine and jobs: the issue's done-when (a month of usage as .hyper read back with the
same rows and sums; CSV that Excel opens with Japanese intact; no cell under the threshold), the
three formats agreeing, progress, failures that say what went wrong, expiry, idempotency."""
from __future__ import annotations

import csv
import io
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.utils import timezone
from tableauhyperapi import Connection, HyperProcess, Telemetry

from accounts.models import AuditEvent
from analytics import engine, services
from analytics.datasets import QueryContext, all_datasets, get_dataset
from analytics.models import ExportJob
from analytics.privacy import privacy_threshold, suppress

from .conftest import MONTH_FROM, MONTH_TO


def hyper_query(path: Path, sql: str) -> list[list]:
    """Reads a .hyper file back with Tableau's own Hyper API."""
    with HyperProcess(telemetry=Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU,
                      parameters={"log_dir": str(path.parent)}) as hyper, \
            Connection(hyper.endpoint, str(path)) as connection:
        return connection.execute_list_query(sql)


def read_csv(path: Path) -> tuple[bytes, list[dict]]:
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig")
    return raw, list(csv.DictReader(io.StringIO(text)))


def export(saga, dataset: str, fmt: str, tmp_path: Path, *, date_from=MONTH_FROM, date_to=MONTH_TO,
           parameters=None) -> tuple[Path, int]:
    with saga.schema():
        ctx = QueryContext(date_from, date_to, privacy_threshold(), parameters or {})
        path = tmp_path / f"{dataset}.{fmt}"
        result = engine.export_to_file(dataset=get_dataset(dataset), ctx=ctx, fmt=fmt, path=path)
    return path, result.rows


def expected_usage_daily(usage_month, threshold: int) -> list[dict]:
    """The usage_daily rows a correct pipeline shows: gated by the number of residents."""
    rows = []
    for (day, _miniapp, _district, _age), cell in usage_month.usage_cells().items():
        if MONTH_FROM <= day <= MONTH_TO:
            small = 0 < cell["users"] < threshold
            rows.append({"opens": None if small else suppress(cell["opens"], threshold),
                         "taps": None if small else suppress(cell["taps"], threshold),
                         "users": suppress(cell["users"], threshold)})
    return rows


def _sum(rows, key) -> int:
    return sum(row[key] or 0 for row in rows)


@pytest.fixture
def built(saga, usage_month):
    with saga.schema():
        services.facts_rebuild(date_from=MONTH_FROM, date_to=MONTH_TO)
    return usage_month


# --- Done when --------------------------------------------------------------------------------
def test_a_month_of_usage_as_hyper_reads_back_with_the_same_rows_and_sums(saga, built, tmp_path):
    expected = expected_usage_daily(built, 10)
    path, rows = export(saga, "usage_daily", "hyper", tmp_path)
    [[count, opens, taps, users]] = hyper_query(
        path, 'SELECT count(*), sum("opens"), sum("taps"), sum("users") FROM "Extract"."Extract"')
    assert rows == count == len(expected) > 100
    assert (opens, taps, users) == (_sum(expected, "opens"), _sum(expected, "taps"), _sum(expected, "users"))
    # Types Tableau sees: a date, text, integers, a boolean.
    [[day, name, suppressed]] = hyper_query(
        path, 'SELECT "day", "miniapp_name", "suppressed" FROM "Extract"."Extract" ORDER BY "day", "miniapp_id" LIMIT 1')
    assert day.to_date() == date(2026, 5, 2) and name == "ごみカレンダー" and suppressed in (True, False)


def test_the_raw_events_of_a_month_as_hyper_keep_every_event(saga, built, tmp_path):
    path, rows = export(saga, "usage_events", "hyper", tmp_path)
    [[count, opened, generalized]] = hyper_query(
        path, """SELECT count(*), count(*) FILTER (WHERE "event" = 'opened'), count(*) FILTER (WHERE "generalized")
                 FROM "Extract"."Extract" """)
    assert rows == count == len(built.events)
    assert opened == sum(1 for event in built.events if event[4] == "opened")
    # The 3 residents of 金立 and the 2 without a district are fewer than 10: their district and
    # age band are blanked, everyone else's kept.
    small = sum(1 for event in built.events if event[2] in (built.districts["金立校区"], None))
    assert generalized == small
    [[shown]] = hyper_query(path, """SELECT count(*) FROM "Extract"."Extract" WHERE "district" = '金立校区'""")
    assert shown == 0


def test_the_csv_opens_in_excel_with_japanese_intact(saga, built, tmp_path):
    path, rows = export(saga, "usage_daily", "csv", tmp_path)
    raw, records = read_csv(path)
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    raw.decode("utf-8")  # strictly valid UTF-8
    header = raw[3:].split(b"\n", 1)[0].decode()
    assert header == ",".join(get_dataset("usage_daily").column_names)
    assert len(records) == rows
    districts = {record["district"] for record in records}
    assert {"本庄校区", "北川副校区"} <= districts
    assert {record["miniapp_name"] for record in records} >= {"ごみカレンダー", "お知らせ"}
    assert {record["suppressed"] for record in records} == {"TRUE", "FALSE"}
    assert all(len(record["day"]) == 10 and record["day"].startswith("2026-05-") for record in records)
    expected = expected_usage_daily(built, 10)
    assert sum(int(r["opens"]) for r in records if r["opens"]) == _sum(expected, "opens")


def test_csv_parquet_and_hyper_hold_the_same_rows(saga, built, tmp_path):
    csv_path, _ = export(saga, "usage_daily", "csv", tmp_path)
    parquet_path, _ = export(saga, "usage_daily", "parquet", tmp_path)
    hyper_path, _ = export(saga, "usage_daily", "hyper", tmp_path)
    _, records = read_csv(csv_path)
    from_csv = [(r["day"], r["miniapp_id"], r["district"] or None, r["age_band"] or None,
                 int(r["opens"]) if r["opens"] else None, int(r["users"]) if r["users"] else None) for r in records]
    table = pq.read_table(parquet_path).to_pylist()
    from_parquet = [(r["day"].isoformat(), r["miniapp_id"], r["district"], r["age_band"], r["opens"], r["users"])
                    for r in table]
    hyper_rows = hyper_query(hyper_path, 'SELECT "day", "miniapp_id", "district", "age_band", "opens", "users" '
                                         'FROM "Extract"."Extract"')
    from_hyper = [(str(r[0]), *r[1:]) for r in hyper_rows]
    assert from_csv == from_parquet
    assert sorted(from_hyper, key=repr) == sorted(from_parquet, key=repr)
    metadata = pq.read_schema(parquet_path).metadata
    assert metadata[b"dataset"] == b"usage_daily" and metadata[b"privacy_threshold"] == b"10"


AGGREGATES = [dataset.key for dataset in all_datasets() if not dataset.named_list and dataset.key != "usage_events"]


@pytest.mark.parametrize("limit", [10, 4])
@pytest.mark.parametrize("dataset", AGGREGATES)
def test_no_exported_cell_is_under_the_threshold(saga, built, tmp_path, threshold, dataset, limit):
    """Every person-derived count in every aggregate dataset is blank, zero or at least the
    municipality's threshold, in CSV and Parquet alike (Hyper reads the same stream)."""
    threshold(limit)
    from .test_sources import build_every_source

    build_every_source(saga)
    with saga.schema():
        services.facts_rebuild(date_from=MONTH_FROM, date_to=MONTH_TO)
    person_columns = [c.name for c in get_dataset(dataset).columns if c.person_count]
    csv_path, rows = export(saga, dataset, "csv", tmp_path)
    parquet_path, _ = export(saga, dataset, "parquet", tmp_path)
    _, records = read_csv(csv_path)
    values = [int(r[c]) for r in records for c in person_columns if r[c]]
    values += [r[c] for r in pq.read_table(parquet_path).to_pylist() for c in person_columns if r[c] is not None]
    assert rows > 0, f"{dataset} has no rows to check"
    assert all(value == 0 or value >= limit for value in values), (dataset, sorted(set(values))[:10])
    blanks = [r for r in records if any(r[c] == "" for c in person_columns)]
    assert all(r["suppressed"] == "TRUE" for r in blanks)


def test_a_lower_threshold_shows_the_small_group(saga, built, tmp_path, threshold):
    threshold(3)
    path, _ = export(saga, "usage_daily", "csv", tmp_path)
    _, records = read_csv(path)
    assert {int(r["users"]) for r in records if r["district"] == "金立校区"} == {3}


def test_csv_cells_that_excel_would_evaluate_are_quoted(saga):
    from dataclasses import replace

    from django.db import connection

    from accounts.services import district_create
    from analytics.datasets import Column

    names = ["=HYPERLINK(\"http://evil\")", "+1", "-2", "@SUM(A1)", "普通の校区"]
    dataset = replace(get_dataset("usage_daily"), columns=(Column("district", "text", "校区", "District"),))
    with saga.schema():
        for name in names:
            district_create(name=name)
        with connection.cursor() as cursor:
            cursor.execute(engine.csv_select(dataset, "SELECT name AS district FROM accounts_district ORDER BY id"))
            shown = [row[0] for row in cursor.fetchall()]
    assert shown == ["'=HYPERLINK(\"http://evil\")", "'+1", "'-2", "'@SUM(A1)", "普通の校区"]


def test_null_and_empty_text_stay_apart_in_parquet(saga, built, tmp_path):
    path, _ = export(saga, "usage_daily", "parquet", tmp_path)
    table = pq.read_table(path).to_pylist()
    assert any(row["district"] is None for row in table)  # residents without a district
    assert all(row["district"] != "" for row in table)


# --- Jobs ---------------------------------------------------------------------------------------
def _job(saga, dataset="usage_daily", fmt="csv", **kwargs) -> ExportJob:
    with saga.schema():
        return services.export_job_create(dataset=dataset, fmt=fmt, date_from=kwargs.pop("date_from", MONTH_FROM),
                                          date_to=kwargs.pop("date_to", MONTH_TO),
                                          acting_user=kwargs.pop("acting_user", saga.staff["analyst"]),
                                          origin=ExportJob.Origin.API, enqueue=False, **kwargs)


def test_a_job_reports_progress_and_stores_the_file_for_seven_days(saga, built, export_storage, settings):
    settings.ANALYTICS_PROGRESS_ROWS = 1
    job = _job(saga, "usage_events")
    seen = []
    with saga.schema():
        done = services.export_job_run(job_id=job.pk, on_progress=lambda rows, estimated: seen.append((rows, estimated)))
        assert done.status == ExportJob.Status.SUCCEEDED
        assert done.rows_done == done.rows_estimated == len(built.events)
        assert done.expires_at - done.finished_at == timedelta(days=7)
        stored = Path(default_storage.path(done.file_name))
    assert stored.is_relative_to(export_storage / "media" / saga.schema_name / "exports")
    assert stored.read_bytes().startswith(b"\xef\xbb\xbf")
    assert seen and all(estimated == len(built.events) for _, estimated in seen)
    assert [rows for rows, _ in seen] == sorted(rows for rows, _ in seen)
    # Nothing left behind in the work folder.
    assert list((export_storage / "work").iterdir()) == []


def test_running_a_job_twice_runs_it_once(saga, built, export_storage):
    job = _job(saga)
    with saga.schema():
        first = services.export_job_run(job_id=job.pk)
        again = services.export_job_run(job_id=job.pk)
        assert (again.status, again.file_name, again.attempts) == (first.status, first.file_name, 1)


def test_a_job_a_worker_is_running_is_left_alone_and_a_stale_one_is_taken_over(saga, built, export_storage, settings):
    job = _job(saga)
    with saga.schema():
        ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, started_at=timezone.now())
        services._heartbeat(job.pk, 5)
        assert services.export_job_run(job_id=job.pk).status == ExportJob.Status.RUNNING  # someone has it
        cache.delete(services.progress_key(job.pk))
        ExportJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=1))
        taken = services.export_job_run(job_id=job.pk)
    assert taken.status == ExportJob.Status.SUCCEEDED and taken.attempts == 1


def test_a_job_whose_worker_died_is_failed_with_a_message_saying_so(saga, export_storage):
    job = _job(saga)
    with saga.schema():
        ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING,
                                                   started_at=timezone.now() - timedelta(hours=2))
        assert services.exports_fail_stale() == 1
        job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED and job.error_code == "export_worker_lost"
    assert "もう一度出力してください" in job.error_message and "start it again" in job.error_message_en


def test_a_query_over_the_time_limit_fails_with_a_message_that_says_so(saga, built, export_storage, settings):
    settings.ANALYTICS_EXPORT_TIMEOUT_SECONDS = 0.001
    job = _job(saga, "usage_events")
    with saga.schema():
        done = services.export_job_run(job_id=job.pk)
    assert done.status == ExportJob.Status.FAILED and done.error_code == "export_timeout"
    assert "期間を短くしてください" in done.error_message and "Shorten the period" in done.error_message_en


def test_an_unwritable_work_folder_fails_with_a_message_that_says_so(saga, built, export_storage, settings):
    settings.ANALYTICS_WORK_DIR = str(export_storage / "no-such-folder")
    job = _job(saga)
    with saga.schema():
        done = services.export_job_run(job_id=job.pk)
    assert done.status == ExportJob.Status.FAILED and done.error_code == "export_storage_error"
    assert "ファイルの保存に失敗しました" in done.error_message and "Saving the file failed" in done.error_message_en


def test_a_dataset_whose_source_was_removed_fails_with_a_message(saga, export_storage, monkeypatch):
    job = _job(saga)
    monkeypatch.setattr(type(get_dataset("usage_daily")), "available", lambda self: False)
    with saga.schema():
        done = services.export_job_run(job_id=job.pk)
    assert done.status == ExportJob.Status.FAILED and done.error_code == "dataset_unavailable"
    assert "usage_daily" in done.error_message_en


def test_expired_files_are_deleted_and_no_longer_downloadable(saga, built, export_storage):
    job = _job(saga)
    with saga.schema():
        done = services.export_job_run(job_id=job.pk)
        path = Path(default_storage.path(done.file_name))
        handle = services.export_job_open(job=done, user=saga.staff["analyst"])
        handle.close()
        assert services.exports_purge_expired(now=timezone.now()) == 0
        ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        done.refresh_from_db()
        from superapp.api.errors import ApiError

        with pytest.raises(ApiError) as refused:
            services.export_job_open(job=done, user=saga.staff["analyst"])
        assert refused.value.code == "export_expired" and refused.value.status_code == 410
        assert path.exists()  # expiry is enforced before the hourly task deletes the file
        assert services.exports_purge_expired() == 1
        done.refresh_from_db()
        assert done.status == ExportJob.Status.EXPIRED and done.file_name == ""
        assert AuditEvent.objects.filter(action="analytics.export_downloaded", target_id=str(job.pk)).count() == 1
    assert not path.exists() and not path.parent.exists()


def test_the_command_writes_the_file_and_records_the_job(saga, built, export_storage, tmp_path):
    from django.core.management import call_command

    out = tmp_path / "may.hyper"
    stdout = io.StringIO()
    call_command("export_dataset", "usage_daily", schema=saga.schema_name, format="hyper", date_from="2026-05-01",
                 date_to="2026-05-31", out=str(out), stdout=stdout, verbosity=0)
    [[count]] = hyper_query(out, 'SELECT count(*) FROM "Extract"."Extract"')
    with saga.schema():
        job = ExportJob.objects.get()
        assert job.origin == ExportJob.Origin.COMMAND and job.status == ExportJob.Status.SUCCEEDED
        assert job.rows_done == count > 0
    assert f"{count:,} rows" in stdout.getvalue()


@pytest.mark.parametrize("arguments, message", [
    (["usage_daily", "--schema", "nowhere", "--format", "csv", "--out", "/tmp/x.csv"], "no municipality"),
    (["usage_daily", "--schema", "saga", "--format", "csv"], "--out FILE is required"),
    (["usage_daily", "--schema", "saga", "--format", "csv", "--from", "2026-05-31", "--to", "2026-05-01",
      "--out", "/tmp/x.csv"], "must not be before"),
    (["usage_daily", "--schema", "saga", "--format", "csv", "--from", "2026-13-01", "--to", "2026-05-01",
      "--out", "/tmp/x.csv"], "not a date"),
    (["shelter_evacuees", "--schema", "saga", "--format", "csv", "--param", "disaster_id=1",
      "--out", "/tmp/x.csv"], "purpose"),
    (["usage_daily", "--schema", "saga", "--format", "csv", "--from", "2026-05-01", "--to", "2026-05-31",
      "--out", "/no/such/folder/x.csv"], "does not exist"),
])
def test_the_command_refuses_bad_arguments_with_a_reason(saga, arguments, message):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError) as refused:
        call_command("export_dataset", *arguments)
    assert message in str(refused.value)


def test_the_command_can_hand_the_job_to_a_worker(saga, export_storage):
    from django.core.management import call_command

    stdout = io.StringIO()
    call_command("export_dataset", "usage_daily", schema="saga", format="parquet", date_from="2026-05-01",
                 date_to="2026-05-31", enqueue=True, stdout=stdout)
    with saga.schema():
        job = ExportJob.objects.get()
    assert stdout.getvalue().strip() == f"queued export job {job.pk}" and job.status == ExportJob.Status.QUEUED


def test_progress_heartbeats_are_throttled_to_one_a_second(saga, built, export_storage, settings, monkeypatch):
    settings.ANALYTICS_PROGRESS_ROWS = 1
    beats = []
    monkeypatch.setattr(services, "_heartbeat", lambda job_id, rows: beats.append((time.monotonic(), rows)))
    job = _job(saga, "usage_events")
    with saga.schema():
        services.export_job_run(job_id=job.pk)
    gaps = [later - earlier for (earlier, _), (later, _) in zip(beats[1:], beats[2:])]
    assert all(gap >= 0.99 for gap in gaps)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "hyper"])
def test_an_empty_period_gives_a_valid_empty_file(saga, tmp_path, fmt):
    path, rows = export(saga, "usage_daily", fmt, tmp_path, date_from=date(2020, 1, 1), date_to=date(2020, 1, 31))
    assert rows == 0
    if fmt == "csv":
        assert path.read_bytes() == b"\xef\xbb\xbf" + ",".join(get_dataset("usage_daily").column_names).encode() + b"\n"
    elif fmt == "parquet":
        table = pq.read_table(path)
        assert table.num_rows == 0 and table.schema.names == get_dataset("usage_daily").column_names
    else:
        assert hyper_query(path, 'SELECT count(*) FROM "Extract"."Extract"') == [[0]]
