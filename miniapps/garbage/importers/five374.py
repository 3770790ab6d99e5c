"""Parsing a directory of 5374 files (any city's) into an import plan, without touching the database.

Files: area_days.csv and description.csv are required; target.csv, center.csv, remarks.csv and
area_master.csv (a Saga extension) are optional. Columns are found by header name, so extra or
missing optional columns are fine:
- area_days.csv: 地名 (required), センター…, マスター (group), a reading column (よみ/ふりがな/カナ…),
  one column per category named as in description.csv; any other column is kept as an area attribute
  (or taken as a category when all its cells are day cells).
- description.csv: label (required), sublabel, description, styles, bgcolor.
- target.csv: label, name (required), notice, furigana.
- center.csv: 名称, 休止開始日, 休止終了日.  remarks.csv: ID, 注意事項.  area_master.csv: マスター, 区名.

Every problem is collected with file, line, column and token; if there is any, `ImportFailed` is
raised with all of them and nothing is written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ..rules import DayCellError, DayRule, parse_day_cell
from ..text import fold, reading
from .csvfiles import CsvFile, ImportFailed, ImportIssue, normalize_header, read_csv

REQUIRED_FILES = ("area_days.csv", "description.csv")
OPTIONAL_FILES = ("target.csv", "center.csv", "remarks.csv", "area_master.csv")

AREA_NAME_HEADERS = ("地名", "地区名", "町名", "地区")
GROUP_HEADERS = ("マスター",)
READING_HEADERS = ("よみ", "読み", "ふりがな", "フリガナ", "かな", "カナ", "地名よみ", "地名カナ", "地名ふりがな", "furigana", "kana")
DEFAULT_COLORS = ("#ea3b13", "#733b96", "#77ae1f", "#2dc7aa", "#1e6fbf", "#c9a100", "#d0487e", "#6b6b6b")
_HEX_COLOR_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_DATE_RE = re.compile(r"^(\d{4})[/\-.](\d{1,2})[/\-.](\d{1,2})$|^(\d{4})(\d{2})(\d{2})$")
_KANA_WORD_RE = re.compile(r"^[ぁ-ゖー]+$")


@dataclass
class PlannedCategory:
    name: str
    sublabel: str = ""
    description: str = ""
    color: str = ""
    icon: str = ""


@dataclass
class PlannedArea:
    key: str
    name: str
    kana: str
    kana_generated: bool
    group_code: str | None
    center: str | None
    extra: dict[str, str]
    rules: dict[str, tuple[str, DayRule]]  # category name → (cell, rule)


@dataclass
class PlannedItem:
    name: str
    kana: str
    kana_generated: bool
    category_label: str
    notice: str
    index_label: str


@dataclass
class Plan:
    files: dict[str, str] = field(default_factory=dict)  # file name → encoding ("absent" if missing)
    groups: dict[str, str] = field(default_factory=dict)  # code → name, in file order
    centers: dict[str, list[tuple[date, date]]] = field(default_factory=dict)
    categories: list[PlannedCategory] = field(default_factory=list)
    remarks: dict[str, str] = field(default_factory=dict)
    areas: list[PlannedArea] = field(default_factory=list)
    items: list[PlannedItem] | None = None  # None: no target.csv, leave the dictionary alone
    warnings: list[str] = field(default_factory=list)


class _Collector:
    def __init__(self) -> None:
        self.issues: list[ImportIssue] = []

    def error(self, file: str, line: int | None, column: str | None, token: str | None, ja: str, en: str) -> None:
        self.issues.append(ImportIssue(file, line, column, token, ja, en))


def _parse_date(text: str) -> date | None:
    match = _DATE_RE.match(text.strip())
    if not match:
        return None
    year, month, day = (match[1], match[2], match[3]) if match[1] else (match[4], match[5], match[6])
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _column_label(csv_file: CsvFile, index: int) -> str:
    header = csv_file.header[index] if index < len(csv_file.header) else ""
    return f"{index + 1}列目「{header}」" if header else f"{index + 1}列目"


def parse_directory(directory: Path) -> Plan:
    directory = Path(directory)
    problems = _Collector()
    if not directory.is_dir():
        raise ImportFailed([ImportIssue(str(directory), None, None, None, "ディレクトリがありません", "no such directory")])
    files: dict[str, CsvFile | None] = {}
    plan = Plan()
    for name in REQUIRED_FILES + OPTIONAL_FILES:
        path = directory / name
        if not path.exists():
            if name in REQUIRED_FILES:
                problems.error(name, None, None, None, "必須のファイルがありません", "required file is missing")
            files[name] = None
            plan.files[name] = "absent"
            continue
        try:
            files[name] = read_csv(path)
            plan.files[name] = files[name].encoding
        except ImportFailed as exc:
            problems.issues.extend(exc.issues)
            files[name] = None
    if problems.issues:
        raise ImportFailed(problems.issues)
    return build_plan(files, plan, problems)


def build_plan(files: dict[str, CsvFile | None], plan: Plan, problems: _Collector) -> Plan:
    _read_remarks(files.get("remarks.csv"), plan, problems)
    _read_groups(files.get("area_master.csv"), plan, problems)
    _read_centers(files.get("center.csv"), plan, problems)
    _read_categories(files["description.csv"], plan, problems)
    _read_areas(files["area_days.csv"], plan, problems)
    if files.get("target.csv") is not None:
        _read_items(files["target.csv"], plan, problems)
    if problems.issues:
        raise ImportFailed(problems.issues)
    return plan


def _required_column(csv_file: CsvFile, problems: _Collector, *names: str) -> int | None:
    index = csv_file.column(*names)
    if index is None:
        problems.error(csv_file.name, 1, names[0], None, f"見出し「{names[0]}」の列がありません",
                       f"no column with the header '{names[0]}'")
    return index


def _read_remarks(csv_file: CsvFile | None, plan: Plan, problems: _Collector) -> None:
    if csv_file is None:
        return
    id_col = _required_column(csv_file, problems, "ID", "id")
    text_col = _required_column(csv_file, problems, "注意事項", "remark", "text")
    if id_col is None or text_col is None:
        return
    for row in csv_file.rows:
        code = normalize_header(row.get(id_col))
        if not code:
            problems.error(csv_file.name, row.line, "ID", "", "IDが空です", "empty ID")
        elif code in plan.remarks:
            problems.error(csv_file.name, row.line, "ID", code, "IDが重複しています", "duplicate ID")
        else:
            plan.remarks[code] = row.get(text_col)


def _read_groups(csv_file: CsvFile | None, plan: Plan, problems: _Collector) -> None:
    if csv_file is None:
        return
    code_col = _required_column(csv_file, problems, "マスター")
    name_col = _required_column(csv_file, problems, "区名")
    if code_col is None or name_col is None:
        return
    for row in csv_file.rows:
        code = normalize_header(row.get(code_col))
        name = row.get(name_col)
        if not code:
            problems.error(csv_file.name, row.line, "マスター", "", "コードが空です", "empty group code")
        elif code in plan.groups:
            problems.error(csv_file.name, row.line, "マスター", code, "コードが重複しています", "duplicate group code")
        else:
            plan.groups[code] = name or code


def _read_centers(csv_file: CsvFile | None, plan: Plan, problems: _Collector) -> None:
    if csv_file is None:
        return
    name_col = _required_column(csv_file, problems, "名称")
    start_col = _required_column(csv_file, problems, "休止開始日")
    end_col = _required_column(csv_file, problems, "休止終了日")
    if None in (name_col, start_col, end_col):
        return
    for row in csv_file.rows:
        name = row.get(name_col)
        if not name:
            problems.error(csv_file.name, row.line, "名称", "", "名称が空です", "empty centre name")
            continue
        periods = plan.centers.setdefault(name, [])
        start_text, end_text = row.get(start_col), row.get(end_col)
        if not start_text and not end_text:
            continue  # a centre without closures
        start, end = _parse_date(start_text), _parse_date(end_text)
        if start is None:
            problems.error(csv_file.name, row.line, "休止開始日", start_text, "日付は YYYY/MM/DD で書きます",
                           "dates must look like YYYY/MM/DD")
        if end is None:
            problems.error(csv_file.name, row.line, "休止終了日", end_text, "日付は YYYY/MM/DD で書きます",
                           "dates must look like YYYY/MM/DD")
        if start and end:
            if end < start:
                problems.error(csv_file.name, row.line, "休止終了日", end_text, "終了日が開始日より前です",
                               "the end date is before the start date")
            else:
                periods.append((start, end))


def _read_categories(csv_file: CsvFile, plan: Plan, problems: _Collector) -> None:
    label_col = _required_column(csv_file, problems, "label")
    if label_col is None:
        return
    sub_col = csv_file.column("sublabel")
    desc_col = csv_file.column("description")
    style_col = csv_file.column("styles")
    color_col = csv_file.column("bgcolor")
    seen: set[str] = set()
    for row in csv_file.rows:
        name = row.get(label_col).replace("\ufeff", "")
        if not name:
            problems.error(csv_file.name, row.line, "label", "", "labelが空です", "empty label")
            continue
        if normalize_header(name) in seen:
            problems.error(csv_file.name, row.line, "label", name, "labelが重複しています", "duplicate label")
            continue
        seen.add(normalize_header(name))
        color = row.get(color_col)
        if color and not _HEX_COLOR_RE.match(color):
            plan.warnings.append(f"description.csv:{row.line} bgcolor「{color}」は #rrggbb ではないため既定の色にします / "
                                 f"bgcolor '{color}' is not #rrggbb; using a default colour")
            color = ""
        if color and len(color) == 4:
            color = "#" + "".join(ch * 2 for ch in color[1:])
        plan.categories.append(PlannedCategory(
            name=name, sublabel=row.get(sub_col), description=row.get(desc_col),
            color=(color or DEFAULT_COLORS[len(plan.categories) % len(DEFAULT_COLORS)]).lower(),
            icon=row.get(style_col),
        ))


def _looks_like_day_cells(csv_file: CsvFile, index: int) -> bool:
    values = [row.get(index) for row in csv_file.rows if row.get(index)]
    if not values:
        return False
    for value in values:
        try:
            parse_day_cell(value)
        except DayCellError:
            return False
    return True


def _read_areas(csv_file: CsvFile, plan: Plan, problems: _Collector) -> None:
    name_col = _required_column(csv_file, problems, *AREA_NAME_HEADERS)
    if name_col is None:
        return
    center_col = next((i for i, h in enumerate(csv_file.header) if h.startswith("センター")), None)
    group_col = csv_file.column(*GROUP_HEADERS)
    reading_col = csv_file.column(*READING_HEADERS)
    # Headers are compared NFKC-normalised (（ and ( match); categories keep description.csv's spelling.
    known = {normalize_header(c.name): c.name for c in plan.categories}
    category_cols: dict[int, str] = {}
    extra_cols: dict[int, str] = {}
    for index, header in enumerate(csv_file.header):
        if index in (name_col, center_col, group_col, reading_col):
            continue
        if header in known:
            if known[header] in category_cols.values():
                problems.error(csv_file.name, 1, _column_label(csv_file, index), header,
                               "同じ分別区分の列が2つあります", "two columns for the same category")
            category_cols[index] = known[header]
        elif header and _looks_like_day_cells(csv_file, index):
            plan.warnings.append(f"area_days.csv: 列「{header}」は description.csv にないため、色と説明なしの分別区分として取り込みます / "
                                 f"column '{header}' is not in description.csv; imported as a category without colour or description")
            plan.categories.append(PlannedCategory(name=header, color=DEFAULT_COLORS[len(plan.categories) % len(DEFAULT_COLORS)]))
            category_cols[index] = header
        else:
            key = header or f"{index + 1}列目"
            extra_cols[index] = key
            plan.warnings.append(f"area_days.csv: 列「{key}」は分別区分ではないため、地区の属性として保存します / "
                                 f"column '{key}' is not a category; kept as an area attribute")
    if not category_cols:
        problems.error(csv_file.name, 1, None, None, "description.csv の label と一致する分別区分の列がありません",
                       "no column matches a label of description.csv")
    for category in plan.categories:
        if category.name not in category_cols.values():
            plan.warnings.append(f"description.csv: 「{category.name}」の列が area_days.csv にありません（収集日なし） / "
                                 f"no column for '{category.name}' in area_days.csv (no collection days)")
    seen_keys: set[str] = set()
    unknown_groups: set[str] = set()
    for row in csv_file.rows:
        name = row.get(name_col)
        if not name:
            problems.error(csv_file.name, row.line, _column_label(csv_file, name_col), "", "地名が空です", "empty area name")
            continue
        group_code = normalize_header(row.get(group_col)) or None if group_col is not None else None
        key = f"{group_code}:{name}" if group_code else name
        if key in seen_keys:
            problems.error(csv_file.name, row.line, _column_label(csv_file, name_col), name,
                           "地名が重複しています" + ("（同じマスター内）" if group_code else ""),
                           "duplicate area name" + (" within its group" if group_code else ""))
            continue
        seen_keys.add(key)
        if group_code and group_code not in plan.groups:
            if group_code not in unknown_groups:
                unknown_groups.add(group_code)
                plan.warnings.append(f"area_days.csv:{row.line} マスター「{group_code}」は area_master.csv にありません / "
                                     f"group '{group_code}' is not in area_master.csv")
        center = row.get(center_col) or None if center_col is not None else None
        if center:
            plan.centers.setdefault(center, [])
        rules: dict[str, tuple[str, DayRule]] = {}
        for index, category_name in category_cols.items():
            cell = row.get(index)
            try:
                rule = parse_day_cell(cell)
            except DayCellError as exc:
                problems.error(csv_file.name, row.line, _column_label(csv_file, index), exc.token, exc.message, exc.message_en)
                continue
            for remark in rule.remarks:
                if remark not in plan.remarks:
                    problems.error(csv_file.name, row.line, _column_label(csv_file, index), f"*{remark}",
                                   f"注記 {remark} は remarks.csv にありません", f"remark {remark} is not in remarks.csv")
            for warning in rule.warnings:
                plan.warnings.append(f"area_days.csv:{row.line} {_column_label(csv_file, index)}: {warning}")
            rules[category_name] = (cell, rule)
        given_reading = row.get(reading_col) if reading_col is not None else ""
        kana = given_reading or reading(name)
        plan.areas.append(PlannedArea(
            key=key, name=name, kana=kana, kana_generated=not given_reading and bool(kana), group_code=group_code,
            center=center, extra={key: row.get(i) for i, key in extra_cols.items() if row.get(i)}, rules=rules,
        ))
    for code in unknown_groups:
        plan.groups.setdefault(code, code)


def _read_items(csv_file: CsvFile, plan: Plan, problems: _Collector) -> None:
    label_col = _required_column(csv_file, problems, "label")
    name_col = _required_column(csv_file, problems, "name")
    if label_col is None or name_col is None:
        return
    notice_col = csv_file.column("notice")
    furigana_col = csv_file.column("furigana")
    known = {normalize_header(c.name): c.name for c in plan.categories}
    unknown: set[str] = set()
    plan.items = []
    for row in csv_file.rows:
        label = row.get(label_col)
        label = known.get(normalize_header(label), label)
        name = row.get(name_col)
        if not label:
            problems.error(csv_file.name, row.line, "label", "", "labelが空です", "empty label")
            continue
        if not name:
            problems.error(csv_file.name, row.line, "name", "", "品目名が空です", "empty item name")
            continue
        if normalize_header(label) not in known and label not in unknown:
            unknown.add(label)
            plan.warnings.append(f"target.csv:{row.line} 分別区分「{label}」は description.csv にありません（区分名のみ表示） / "
                                 f"category '{label}' is not in description.csv (shown by name only)")
        furigana = row.get(furigana_col)
        # 5374 files use furigana either for the item's reading or, like Saga's, for an index heading
        # (あ, か（紙・布類）, 主な物): only a kana word longer than one letter is a reading.
        folded = fold(furigana)
        is_reading = len(folded) > 1 and bool(_KANA_WORD_RE.match(folded))
        kana = furigana if is_reading else reading(name)
        plan.items.append(PlannedItem(
            name=name, kana=kana, kana_generated=not is_reading and bool(kana), category_label=label,
            notice=row.get(notice_col), index_label="" if is_reading else furigana,
        ))
