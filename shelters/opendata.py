"""指定緊急避難場所一覧 (national standard open data) CSV: reading both generations, writing the current one.

Current format: first column 全国地方公共団体コード (39 columns). Older 推奨データセット format: first
column NO (26 columns). Files are UTF-8 with or without a BOM (Shift_JIS is accepted too); flags are
`1` or empty.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

CURRENT_HEADER = [
    "全国地方公共団体コード", "ID", "名称", "名称_カナ", "名称_英字", "所在地_全国地方公共団体コード", "町字ID",
    "所在地_連結表記", "所在地_都道府県", "所在地_市区町村", "所在地_町字", "所在地_番地以下", "建物名等(方書)",
    "緯度", "経度", "標高", "電話番号", "内線番号", "連絡先メールアドレス", "連絡先FormURL",
    "連絡先備考（その他、SNSなど）", "郵便番号", "市区町村コード", "地方公共団体名", "災害種別_洪水",
    "災害種別_崖崩れ、土石流及び地滑り", "災害種別_高潮", "災害種別_地震", "災害種別_津波", "災害種別_大規模な火事",
    "災害種別_内水氾濫", "災害種別_火山現象", "指定避難所との重複", "想定収容人数", "対象となる町会・自治会", "URL",
    "画像", "画像_ライセンス", "備考",
]
HAZARD_COLUMNS = {
    "災害種別_洪水": "flood",
    "災害種別_崖崩れ、土石流及び地滑り": "landslide",
    "災害種別_高潮": "storm_surge",
    "災害種別_地震": "earthquake",
    "災害種別_津波": "tsunami",
    "災害種別_大規模な火事": "fire",
    "災害種別_内水氾濫": "inland_flood",
    "災害種別_火山現象": "volcano",
}


@dataclass
class ShelterRow:
    line: int
    values: dict = field(default_factory=dict)


@dataclass
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.line}行目 {self.column}: {self.message}"


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("文字コードを判別できません（UTF-8またはShift_JIS） / Unknown encoding (use UTF-8 or Shift_JIS)")


def _flag(value: str) -> bool:
    return value.strip() in {"1", "○", "〇", "true", "TRUE", "有", "可"}


def _float(value: str, column: str, line: int, errors: list[RowError], low: float, high: float) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        errors.append(RowError(line, column, f"数値ではありません: {value!r} / not a number"))
        return None
    if not low <= number <= high:
        errors.append(RowError(line, column, f"範囲外です: {value} / out of range {low}..{high}"))
        return None
    return number


def read_shelters(data: bytes) -> tuple[list[ShelterRow], list[RowError]]:
    """Parses a whole file; returns rows and every error found (the caller imports nothing if any)."""
    text = decode(data)
    reader = csv.reader(io.StringIO(text))
    try:
        header = [column.strip() for column in next(reader)]
    except StopIteration:
        return [], [RowError(1, "-", "空のファイルです / empty file")]
    first = header[0] if header else ""
    if first not in {"全国地方公共団体コード", "NO", "都道府県コード又は市区町村コード"}:
        return [], [RowError(1, first or "-", "指定緊急避難場所一覧のヘッダーではありません / not a 指定緊急避難場所一覧 header")]
    current = first == "全国地方公共団体コード"
    required = ["名称", "所在地_連結表記" if current else "住所", *HAZARD_COLUMNS]
    missing = [column for column in required if column not in header]
    if missing:
        return [], [RowError(1, ", ".join(missing), "必須の列がありません / required columns missing")]

    rows: list[ShelterRow] = []
    errors: list[RowError] = []
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            errors.append(RowError(line, "-", f"列が多すぎます（{len(cells)} > {len(header)}） / too many columns"))
            continue
        record = {column: (cells[i].strip() if i < len(cells) else "") for i, column in enumerate(header)}
        name = record.get("名称", "")
        address = record.get("所在地_連結表記" if current else "住所", "")
        if not name:
            errors.append(RowError(line, "名称", "名称は必須です / name is required"))
        if not address:
            errors.append(RowError(line, "所在地_連結表記" if current else "住所", "所在地は必須です / address is required"))
        capacity_raw = record.get("想定収容人数", "").replace(",", "")
        capacity = 0
        if capacity_raw:
            if capacity_raw.isdigit():
                capacity = int(capacity_raw)
            else:
                errors.append(RowError(line, "想定収容人数", f"整数ではありません: {capacity_raw!r} / not an integer"))
        values = {
            "external_id": record.get("ID", "") or record.get("NO", ""),
            "name": name,
            "kana": record.get("名称_カナ", ""),
            "name_en": record.get("名称_英字", ""),
            "address": address,
            "building": record.get("建物名等(方書)", "") or record.get("方書", ""),
            "postal_code": record.get("郵便番号", ""),
            "latitude": _float(record.get("緯度", ""), "緯度", line, errors, -90, 90),
            "longitude": _float(record.get("経度", ""), "経度", line, errors, -180, 180),
            "elevation": _float(record.get("標高", ""), "標高", line, errors, -500, 9000),
            "phone": record.get("電話番号", ""),
            "extension": record.get("内線番号", ""),
            "email": record.get("連絡先メールアドレス", ""),
            "capacity": capacity,
            "hazards": [code for column, code in HAZARD_COLUMNS.items() if _flag(record.get(column, ""))],
            "is_designated_shelter": _flag(record.get("指定避難所との重複", "")),
            "neighbourhoods": record.get("対象となる町会・自治会", ""),
            "url": record.get("URL", ""),
            "notes": record.get("備考", ""),
        }
        rows.append(ShelterRow(line=line, values=values))
    return rows, errors


def write_shelters(shelters, *, lg_code: str, municipality_name: str, prefecture: str) -> str:
    """The registry in the current standard format, UTF-8 with a BOM (Excel opens it correctly)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CURRENT_HEADER)
    for shelter in shelters:
        hazard_flags = ["1" if code in shelter.hazards else "" for code in HAZARD_COLUMNS.values()]
        writer.writerow([
            lg_code, shelter.external_id or shelter.pk, shelter.name, shelter.kana, shelter.name_en, lg_code, "",
            shelter.address, prefecture, municipality_name, "", "", shelter.building,
            "" if shelter.latitude is None else f"{shelter.latitude:.6f}",
            "" if shelter.longitude is None else f"{shelter.longitude:.6f}",
            "" if shelter.elevation is None else f"{shelter.elevation:g}",
            shelter.phone, shelter.extension, shelter.email, "", "", shelter.postal_code, lg_code, municipality_name,
            *hazard_flags, "1" if shelter.is_designated_shelter else "", shelter.capacity or "",
            shelter.neighbourhoods, shelter.url, "", "", shelter.notes,
        ])
    return buffer.getvalue()
