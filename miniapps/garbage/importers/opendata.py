"""The national standard ゴミの分別方法一覧 (自治体標準オープンデータセット 28) for the sorting dictionary:
parse a city's CSV (UTF-8 with or without a BOM, or Shift_JIS) and write ours in the same columns."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from ..text import reading, to_katakana
from .csvfiles import ImportFailed, ImportIssue, normalize_header, read_csv_bytes

# The standard's columns, in order (../shared/data/opendata/garbage_separate.header.csv).
COLUMNS = ("全国地方公共団体コード", "ID", "地方公共団体名", "地区名", "ゴミの品目", "ゴミの品目_カナ", "ゴミの品目_英字",
           "分別区分", "注意点", "備考", "粗大ごみ回収料金")
# Older 推奨データセット files start with one of these instead of 全国地方公共団体コード.
CODE_HEADERS = ("全国地方公共団体コード", "都道府県コード又は市区町村コード", "市区町村コード")


@dataclass
class OpendataItem:
    external_id: str
    district_name: str
    name: str
    kana: str
    kana_generated: bool
    name_en: str
    category_label: str
    notice: str
    remarks: str
    fee: str


@dataclass
class OpendataPlan:
    encoding: str
    items: list[OpendataItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _code_matches(code: str, municipality_code: str) -> bool:
    digits = code.strip()
    if not digits.isdigit():
        return False
    return digits.zfill(6) == municipality_code or (len(digits) == 5 and digits == municipality_code[:5])


def parse_garbage_separate(raw: bytes, *, name: str, municipality_code: str) -> OpendataPlan:
    csv_file = read_csv_bytes(raw, name)
    issues: list[ImportIssue] = []
    columns = {column: csv_file.column(column) for column in COLUMNS}
    code_col = csv_file.column(*CODE_HEADERS)
    for required in ("ゴミの品目", "分別区分"):
        if columns[required] is None:
            issues.append(ImportIssue(name, 1, required, None, f"見出し「{required}」の列がありません",
                                      f"no column with the header '{required}'"))
    if issues:
        raise ImportFailed(issues)
    plan = OpendataPlan(encoding=csv_file.encoding)
    missing = [c for c in COLUMNS if columns[c] is None and c not in CODE_HEADERS]
    if missing:
        plan.warnings.append(f"{name}: 列がありません（空として扱います）: {', '.join(missing)} / missing columns (taken as empty)")
    for row in csv_file.rows:
        code = row.get(code_col) if code_col is not None else ""
        if code and not _code_matches(code, municipality_code):
            issues.append(ImportIssue(name, row.line, "全国地方公共団体コード", code,
                                      f"この自治体のコード（{municipality_code}）と一致しません",
                                      f"does not match this municipality's code ({municipality_code})"))
            continue
        item_name = row.get(columns["ゴミの品目"])
        label = normalize_header(row.get(columns["分別区分"]))
        if not item_name:
            issues.append(ImportIssue(name, row.line, "ゴミの品目", "", "品目が空です", "empty item name"))
            continue
        if not label:
            issues.append(ImportIssue(name, row.line, "分別区分", "", "分別区分が空です", "empty category"))
            continue
        given_kana = row.get(columns["ゴミの品目_カナ"])
        kana = given_kana or reading(item_name)
        plan.items.append(OpendataItem(
            external_id=row.get(columns["ID"]), district_name=row.get(columns["地区名"]), name=item_name,
            kana=kana, kana_generated=not given_kana and bool(kana), name_en=row.get(columns["ゴミの品目_英字"]),
            category_label=label, notice=row.get(columns["注意点"]), remarks=row.get(columns["備考"]),
            fee=row.get(columns["粗大ごみ回収料金"]),
        ))
    if issues:
        raise ImportFailed(issues)
    return plan


def write_garbage_separate(items, *, municipality_code: str, municipality_name: str) -> bytes:
    """UTF-8 with a BOM (what Excel opens correctly), CRLF line ends, the standard's columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for index, item in enumerate(items, start=1):
        writer.writerow([
            municipality_code, item.external_id or str(index), municipality_name, item.district_name, item.name,
            "" if item.kana_generated else to_katakana(item.kana), item.name_en,
            item.category.name if item.category_id else item.category_label, item.notice, item.remarks, item.fee,
        ])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")
