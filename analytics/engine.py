"""The export engine: one dataset's rows from PostgreSQL into a CSV, Parquet or Tableau Hyper file,
in constant memory whatever the number of rows.

Every format starts from the same stream: `COPY (<dataset query>) TO STDOUT (FORMAT csv)`, which
PostgreSQL produces at its own speed without a result set in either process.

- CSV: the COPY output goes to the file as it arrives, after a BOM and a header row (Excel opens
  UTF-8 with a BOM correctly; without it, Japanese turns into mojibake). Text cells starting with
  = + - @ are prefixed with ' so Excel never evaluates them as formulas.
- Parquet: pyarrow's streaming CSV reader turns the COPY stream into typed Arrow record batches,
  which ParquetWriter writes as row groups of ANALYTICS_PARQUET_ROW_GROUP rows.
- Hyper: the same record batches are written to a small Arrow IPC file in a work directory, which
  Hyper loads with `COPY ... FROM ... (FORMAT ARROWSTREAM)` every ANALYTICS_HYPER_CHUNK_ROWS rows.
  (Hyper cannot read a pipe, and its Python Inserter converted 40,000 rows/s on this machine
  against about 500,000 rows/s for COPY from Arrow; the chunk bounds both memory and disk.)

NULL stays NULL in every format (CSV: an empty unquoted cell; an empty string is `""`).
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from .datasets import Column, Dataset, QueryContext

FORMATS = ("csv", "parquet", "hyper")
EXTENSIONS = {"csv": "csv", "parquet": "parquet", "hyper": "hyper"}
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "hyper": "application/vnd.tableau.hyper",
}
BOM = "\ufeff".encode()
# Tableau's name for the one table of a single-table extract.
HYPER_SCHEMA = "Extract"
HYPER_TABLE = "Extract"

Progress = Callable[[int], None]


class ExportFailure(Exception):
    """An export that cannot be made, with a message for the analyst (Japanese and English)."""

    def __init__(self, code: str, message: str, message_en: str) -> None:
        super().__init__(f"{code}: {message_en}")
        self.code = code
        self.message = message
        self.message_en = message_en


@dataclass(frozen=True)
class ExportResult:
    rows: int
    size: int


# --- SELECT lists per format ------------------------------------------------------------------
def _ref(column: Column) -> str:
    return f'q."{column.name}"'


def csv_select(dataset: Dataset, sql: str) -> str:
    """The dataset's query with each column written the way Excel and pandas read it (dates and
    times in ISO order, whole seconds; booleans TRUE/FALSE)."""
    exprs = []
    for column in dataset.columns:
        ref = _ref(column)
        if column.type == "text":
            # Formula injection: Excel evaluates a cell starting with = + - @ (or a tab/CR).
            expr = f"CASE WHEN ascii({ref}) IN (61, 43, 45, 64, 9, 13) THEN chr(39) || {ref} ELSE {ref} END"
        elif column.type == "bool":
            expr = f"CASE WHEN {ref} THEN 'TRUE' WHEN NOT {ref} THEN 'FALSE' END"
        elif column.type == "timestamp":
            expr = f"date_trunc('second', {ref})"
        else:
            expr = ref
        exprs.append(f'{expr} AS "{column.name}"')
    return f"SELECT {', '.join(exprs)} FROM ({sql}) AS q"


def typed_select(dataset: Dataset, sql: str) -> str:
    """The dataset's query with values spelled the way pyarrow's CSV reader parses them exactly
    (the session's DateStyle is ISO: dates 2026-05-01, timestamps 2026-05-01 09:00:00.123456)."""
    exprs = []
    for column in dataset.columns:
        ref = _ref(column)
        if column.type == "float":
            expr = f"{ref}::float8"
        elif column.type == "int":
            expr = f"{ref}::int8"
        else:
            expr = ref
        exprs.append(f'{expr} AS "{column.name}"')
    return f"SELECT {', '.join(exprs)} FROM ({sql}) AS q"


# Session settings for the length of one export, in a transaction of its own (a savepoint inside an
# enclosing one) so they are put back whatever happens: ISO dates whatever the server's default, no
# JIT (compiling the plan cost 1.5 s of a 1M-row export and saved nothing), room for the hash
# aggregates of the privacy pre-pass, and a time limit (ANALYTICS_EXPORT_TIMEOUT_SECONDS).
EXPORT_SESSION = {"DateStyle": "ISO, YMD", "jit": "off", "work_mem": "64MB", "statement_timeout": None}


@contextmanager
def export_session():
    wanted = dict(EXPORT_SESSION, statement_timeout=str(max(1, int(settings.ANALYTICS_EXPORT_TIMEOUT_SECONDS * 1000))))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(f"current_setting('{name}')" for name in wanted))
            previous = dict(zip(wanted, cursor.fetchone()))
            for name, value in wanted.items():
                cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
        yield
        # Committing puts them back; inside an enclosing transaction (tests) they would outlive us.
        with connection.cursor() as cursor:
            for name, value in previous.items():
                cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def copy_statement(select: str) -> str:
    return f"COPY ({select}) TO STDOUT WITH (FORMAT csv)"


# --- Reading COPY ----------------------------------------------------------------------------
def copy_rows(copy, pgconn):
    """The rows of a COPY TO STDOUT, as bytes. Rows already received are taken straight from libpq
    (`PGconn.get_copy_data`, psycopg's documented low-level API): psycopg's own `Copy.read()` costs
    about 3.5 µs per row in its wait machinery, 3.5 s of a million-row export, against 0.9 s this
    way. Waiting for the network is still left to `Copy.read()`; the end of the COPY is collected
    here, and a server error raised as psycopg would."""
    from psycopg import errors, pq

    get = pgconn.get_copy_data
    while True:
        nbytes, data = get(1)
        if nbytes > 0:
            yield data
        elif nbytes == 0:  # nothing buffered: let psycopg wait for the socket
            data = copy.read()
            if not data:
                return
            yield data
        else:  # -1: the COPY is over; its final result says whether it succeeded
            error = None
            while (result := pgconn.get_result()) is not None:
                if result.status != pq.ExecStatus.COMMAND_OK and error is None:
                    error = errors.error_from_result(result, encoding="utf-8")  # the database is UTF8
            if error is not None:
                raise error
            return


class CopyStream(io.RawIOBase):
    """A COPY TO STDOUT read as a binary file (for pyarrow's CSV reader)."""

    def __init__(self, copy, pgconn) -> None:
        super().__init__()
        self._rows = copy_rows(copy, pgconn)
        self._buffer = bytearray()
        self._eof = False

    def readable(self) -> bool:
        return True

    def is_empty(self) -> bool:
        """True when the COPY has no rows at all (pyarrow refuses to open an empty CSV)."""
        if not self._buffer and not self._eof:
            data = next(self._rows, None)
            if data is None:
                self._eof = True
            else:
                self._buffer += data
        return not self._buffer and self._eof

    def readinto(self, target) -> int:
        wanted = len(target)
        buffer = self._buffer
        while len(buffer) < wanted and not self._eof:
            data = next(self._rows, None)
            if data is None:
                self._eof = True
                break
            buffer += data
        count = min(wanted, len(buffer))
        target[:count] = buffer[:count]
        del buffer[:count]
        return count


# --- Writers ----------------------------------------------------------------------------------
def _arrow_schema(dataset: Dataset, metadata: dict[str, str] | None = None):
    import pyarrow as pa

    types = {"text": pa.string(), "int": pa.int64(), "float": pa.float64(), "date": pa.date32(),
             "timestamp": pa.timestamp("us"), "bool": pa.bool_()}
    return pa.schema([pa.field(column.name, types[column.type], nullable=True) for column in dataset.columns],
                     metadata=metadata)


def _arrow_batches(dataset: Dataset, copy, pgconn, schema):
    """Typed record batches from the COPY stream (constant memory: one block at a time)."""
    import pyarrow.csv as pacsv

    stream = CopyStream(copy, pgconn)
    if stream.is_empty():
        return
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(column_names=dataset.column_names, use_threads=False,
                                       block_size=settings.ANALYTICS_CSV_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=schema, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False,
            true_values=["t"], false_values=["f"]),
    )
    yield from reader


def _metadata(dataset: Dataset, ctx: QueryContext, municipality) -> dict[str, str]:
    return {
        "dataset": dataset.key,
        "title": dataset.title_ja,
        "municipality_code": getattr(municipality, "code", ""),
        "municipality": getattr(municipality, "name", ""),
        "date_from": ctx.date_from.isoformat() if ctx.date_from else "",
        "date_to": ctx.date_to.isoformat() if ctx.date_to else "",
        "privacy_threshold": str(ctx.threshold),
        "columns": json.dumps({c.name: {"ja": c.label_ja, "en": c.label_en} for c in dataset.columns},
                              ensure_ascii=False),
    }


def _write_csv(dataset: Dataset, sql: str, params: dict, path: Path, progress: Progress) -> int:
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(dataset.column_names)
    rows = 0
    step = settings.ANALYTICS_PROGRESS_ROWS
    with open(path, "wb", buffering=1 << 20) as out, connection.cursor() as cursor:
        out.write(BOM + header.getvalue().encode())
        with cursor.cursor.copy(copy_statement(csv_select(dataset, sql)), params) as copy:
            write = out.write
            for data in copy_rows(copy, cursor.cursor.connection.pgconn):
                write(data)
                rows += 1
                if rows % step == 0:
                    progress(rows)
    return rows


def _write_parquet(dataset: Dataset, sql: str, params: dict, path: Path, progress: Progress,
                   metadata: dict[str, str]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _arrow_schema(dataset, metadata)
    pool = pa.default_memory_pool()
    target = settings.ANALYTICS_PARQUET_ROW_GROUP
    rows = 0
    pending: list = []
    pending_rows = 0
    with connection.cursor() as cursor, pq.ParquetWriter(str(path), schema, compression="snappy") as writer:
        with cursor.cursor.copy(copy_statement(typed_select(dataset, sql)), params) as copy:
            for batch in _arrow_batches(dataset, copy, cursor.cursor.connection.pgconn, schema):
                pending.append(batch)
                pending_rows += batch.num_rows
                rows += batch.num_rows
                if pending_rows >= target:
                    writer.write_table(pa.Table.from_batches(pending, schema=schema), row_group_size=pending_rows)
                    pending, pending_rows = [], 0
                    pool.release_unused()  # hand freed buffers back, so the peak stays one row group
                    progress(rows)
            if pending_rows:
                writer.write_table(pa.Table.from_batches(pending, schema=schema), row_group_size=pending_rows)
        if rows == 0:
            writer.write_table(schema.empty_table())
    return rows


def hyper_sql_type(column: Column):
    from tableauhyperapi import SqlType

    return {"text": SqlType.text(), "int": SqlType.big_int(), "float": SqlType.double(), "date": SqlType.date(),
            "timestamp": SqlType.timestamp(), "bool": SqlType.bool()}[column.type]


def _write_hyper(dataset: Dataset, sql: str, params: dict, path: Path, progress: Progress, workdir: Path) -> int:
    import pyarrow as pa
    from tableauhyperapi import (
        NULLABLE,
        Connection,
        CreateMode,
        HyperProcess,
        SchemaName,
        TableDefinition,
        TableName,
        Telemetry,
        escape_string_literal,
    )

    schema = _arrow_schema(dataset)
    table = TableDefinition(TableName(HYPER_SCHEMA, HYPER_TABLE), [
        TableDefinition.Column(column.name, hyper_sql_type(column), NULLABLE) for column in dataset.columns])
    chunk_path = workdir / "chunk.arrows"
    chunk_target = settings.ANALYTICS_HYPER_CHUNK_ROWS
    log_dir = workdir / "hyper-logs"
    log_dir.mkdir()
    rows = 0
    # Hyper's database cache may grow to 27 % of the machine's memory by default: a bigger file
    # would mean a bigger server process. Bounded, the server's peak stays flat (measured).
    parameters = {"log_dir": str(log_dir), "log_file_max_count": "1", "log_file_size_limit": "10M",
                  "dbcache_memory_limit": settings.ANALYTICS_HYPER_CACHE_LIMIT}
    with HyperProcess(telemetry=Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters=parameters) as hyper, \
            Connection(hyper.endpoint, str(path), CreateMode.CREATE_AND_REPLACE) as hyper_db:
        hyper_db.catalog.create_schema(SchemaName(HYPER_SCHEMA))
        hyper_db.catalog.create_table(table)
        copy_in = (f"COPY {table.table_name} FROM {escape_string_literal(str(chunk_path))} "
                   "WITH (FORMAT ARROWSTREAM)")

        def load(writer, sink) -> None:
            writer.close()
            sink.close()
            hyper_db.execute_command(copy_in)
            chunk_path.unlink()

        with connection.cursor() as cursor:
            with cursor.cursor.copy(copy_statement(typed_select(dataset, sql)), params) as copy:
                sink = writer = None
                chunk_rows = 0
                for batch in _arrow_batches(dataset, copy, cursor.cursor.connection.pgconn, schema):
                    if writer is None:
                        sink = pa.OSFile(str(chunk_path), "wb")
                        writer = pa.ipc.new_stream(sink, schema)
                    writer.write_batch(batch)
                    chunk_rows += batch.num_rows
                    rows += batch.num_rows
                    if chunk_rows >= chunk_target:
                        load(writer, sink)
                        sink = writer = None
                        chunk_rows = 0
                        progress(rows)
                if writer is not None:
                    load(writer, sink)
    return rows


# --- Entry point ------------------------------------------------------------------------------
def export_to_file(*, dataset: Dataset, ctx: QueryContext, fmt: str, path: Path,
                   progress: Progress | None = None, municipality=None) -> ExportResult:
    """Writes the dataset for `ctx` to `path` in `fmt`. Runs in the current schema."""
    if fmt not in FORMATS:
        raise ExportFailure("export_bad_format", f"形式「{fmt}」には対応していません。",
                            f"The format {fmt!r} is not supported.")
    progress = progress or (lambda rows: None)
    if municipality is None:
        from tenants.selectors import current_municipality

        municipality = current_municipality()
    sql, params = dataset.query(ctx)
    workdir = Path(tempfile.mkdtemp(prefix="export-", dir=settings.ANALYTICS_WORK_DIR or None))
    try:
        with export_session():
            if fmt == "csv":
                rows = _write_csv(dataset, sql, params, path, progress)
            elif fmt == "parquet":
                rows = _write_parquet(dataset, sql, params, path, progress, _metadata(dataset, ctx, municipality))
            else:
                rows = _write_hyper(dataset, sql, params, path, progress, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    progress(rows)
    return ExportResult(rows=rows, size=os.path.getsize(path))


def estimate_rows(*, dataset: Dataset, ctx: QueryContext) -> int:
    sql, params = dataset.count(ctx)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])
