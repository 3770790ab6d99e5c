"""Reading municipal CSV files: UTF-8 with or without a BOM, Shift_JIS (as Windows writes it, cp932),
UTF-16 with a BOM; header names normalised; every row keeps its line number for error reports."""
from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class ImportIssue:
    """One problem found in an input file; `line` is 1-based as an editor shows it."""

    file: str
    line: int | None
    column: str | None
    token: str | None
    message: str
    message_en: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.column:
            where += f" [{self.column}]"
        token = f" 「{self.token}」" if self.token is not None else ""
        return f"{where}{token}: {self.message} / {self.message_en}"

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "column": self.column, "token": self.token,
                "message": self.message, "message_en": self.message_en}


class ImportFailed(Exception):
    """Nothing was written; `issues` says why, each with file, line, column and token."""

    def __init__(self, issues: list[ImportIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues[:20]))


@dataclass
class CsvRow:
    line: int
    cells: list[str]

    def get(self, index: int | None) -> str:
        if index is None or index >= len(self.cells):
            return ""
        return self.cells[index].strip()


@dataclass
class CsvFile:
    name: str
    encoding: str
    header: list[str]
    rows: list[CsvRow] = field(default_factory=list)

    def column(self, *names: str) -> int | None:
        """Index of the first header equal to one of `names` (normalised), or None."""
        wanted = {normalize_header(n) for n in names}
        for index, header in enumerate(self.header):
            if header in wanted:
                return index
        return None


def normalize_header(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").replace("\ufeff", "").strip()


def decode(raw: bytes, name: str) -> tuple[str, str]:
    """Returns (text, encoding label). Order: BOMs, strict UTF-8, then cp932 (Shift_JIS with the
    NEC/IBM extensions Windows uses, e.g. ①②③)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8 (BOM)"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16 (BOM)"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return raw.decode("cp932"), "shift_jis (cp932)"
    except UnicodeDecodeError as exc:
        # Report where the decoding that got further failed: that is most likely the damaged spot.
        error = exc if exc.start > utf8_error.start else utf8_error
        line = raw[: error.start].count(b"\n") + 1
        raise ImportFailed([ImportIssue(
            name, line, None, raw[error.start:error.end + 1].hex(" "),
            "文字コードを判別できません（UTF-8 または Shift_JIS で保存してください）",
            "cannot decode the file: save it as UTF-8 or Shift_JIS",
        )]) from None


def read_csv_bytes(raw: bytes, name: str) -> CsvFile:
    if len(raw) > MAX_FILE_BYTES:
        raise ImportFailed([ImportIssue(name, None, None, None, f"ファイルが大きすぎます（上限 {MAX_FILE_BYTES // 1024 // 1024} MB）",
                                        f"file too large (limit {MAX_FILE_BYTES // 1024 // 1024} MB)")])
    text, encoding = decode(raw, name)
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[CsvRow] = []
    previous_end = 0
    try:
        for cells in reader:
            start_line = previous_end + 1
            previous_end = reader.line_num
            if header is None:
                if not any(cell.strip() for cell in cells):
                    continue
                header = [normalize_header(cell) for cell in cells]
                continue
            if not any(cell.strip() for cell in cells):
                continue
            rows.append(CsvRow(start_line, [unicodedata.normalize("NFC", cell) for cell in cells]))
    except csv.Error as exc:
        raise ImportFailed([ImportIssue(name, reader.line_num, None, None, f"CSVの形式が不正です: {exc}",
                                        f"malformed CSV: {exc}")]) from None
    if header is None:
        raise ImportFailed([ImportIssue(name, 1, None, None, "見出し行がありません", "the file has no header row")])
    return CsvFile(name=name, encoding=encoding, header=header, rows=rows)


def read_csv(path: Path) -> CsvFile:
    return read_csv_bytes(path.read_bytes(), path.name)
