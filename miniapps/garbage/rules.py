"""The 5374 day-cell grammar: parse a cell of area_days.csv into a `DayRule` and answer "is there a
collection on this date?".

Tokens are separated by spaces (full-width spaces and digits are accepted, NFKC):
  月 … 日          every such weekday
  火2              the 2nd Tuesday of the month (occurrence counted from the 1st; 1-5)
  20250412         one irregular collection day (YYYYMMDD)
  隔水20150114     every other Wednesday, counting from the week of that date
  *3               attach remark 3 of remarks.csv
A cell may end with `:` and months (`火2 金4:4 6 8 10 12 2`): the recurring tokens apply only in those
calendar months. Explicit YYYYMMDD dates are always collection days. An empty cell means no collection.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta

WEEKDAYS_JA = "月火水木金土日"  # index = date.weekday()
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ORDINALS_EN = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 5: "5th"}

_WEEKLY_RE = re.compile(r"^([月火水木金土日])$")
_NTH_RE = re.compile(r"^([月火水木金土日])(\d)$")
_DATE_RE = re.compile(r"^(\d{8})$")
_BIWEEKLY_RE = re.compile(r"^隔([月火水木金土日])(\d{8})$")
_REMARK_RE = re.compile(r"^\*(\S+)$")


class DayCellError(ValueError):
    """A token the grammar does not know; carries the offending token and bilingual messages."""

    def __init__(self, token: str, message: str, message_en: str) -> None:
        self.token = token
        self.message = message
        self.message_en = message_en
        super().__init__(f"{token!r}: {message_en}")


@dataclass(frozen=True)
class DayRule:
    weekly: frozenset[int] = frozenset()
    nth: frozenset[tuple[int, int]] = frozenset()  # (weekday, n)
    dates: frozenset[date] = frozenset()
    biweekly: tuple[tuple[int, date], ...] = ()  # (weekday, anchor date)
    remarks: tuple[str, ...] = ()
    months: frozenset[int] | None = None  # None: every month
    warnings: tuple[str, ...] = field(default=(), compare=False)

    # --- evaluation ---------------------------------------------------------------------------
    @property
    def is_empty(self) -> bool:
        return not (self.weekly or self.nth or self.dates or self.biweekly)

    def occurs_on(self, day: date) -> bool:
        if day in self.dates:
            return True
        if self.months is not None and day.month not in self.months:
            return False
        weekday = day.weekday()
        if weekday in self.weekly:
            return True
        if self.nth and (weekday, (day.day - 1) // 7 + 1) in self.nth:
            return True
        for rule_weekday, anchor in self.biweekly:
            if weekday == rule_weekday:
                week_start = anchor - timedelta(days=anchor.weekday())
                if ((day - week_start).days // 7) % 2 == 0:
                    return True
        return False

    def dates_between(self, start: date, end: date) -> list[date]:
        """Collection dates in [start, end], before closures and staff changes."""
        if self.is_empty or end < start:
            return []
        days = []
        day = start
        one = timedelta(days=1)
        while day <= end:
            if self.occurs_on(day):
                days.append(day)
            day += one
        return days

    # --- storage ------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "weekly": sorted(self.weekly),
            "nth": sorted([list(item) for item in self.nth]),
            "dates": sorted(d.isoformat() for d in self.dates),
            "biweekly": [[weekday, anchor.isoformat()] for weekday, anchor in self.biweekly],
            "remarks": list(self.remarks),
            "months": sorted(self.months) if self.months is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict) -> DayRule:
        months = data.get("months")
        return cls(
            weekly=frozenset(data.get("weekly", ())),
            nth=frozenset((int(w), int(n)) for w, n in data.get("nth", ())),
            dates=frozenset(date.fromisoformat(d) for d in data.get("dates", ())),
            biweekly=tuple((int(w), date.fromisoformat(a)) for w, a in data.get("biweekly", ())),
            remarks=tuple(data.get("remarks", ())),
            months=frozenset(months) if months is not None else None,
        )

    # --- description, as the 5374 apps print it ------------------------------------------------
    def describe(self) -> tuple[str, str]:
        ja: list[str] = []
        en: list[str] = []
        if self.weekly:
            days = sorted(self.weekly)
            ja.append("毎週" + "・".join(WEEKDAYS_JA[d] for d in days) + "曜日")
            en.append("Every " + ", ".join(WEEKDAYS_EN[d] for d in days))
        by_weekday: dict[int, list[int]] = {}
        for weekday, n in sorted(self.nth):
            by_weekday.setdefault(weekday, []).append(n)
        for weekday, ns in by_weekday.items():
            ja.append("・".join(f"第{n}" for n in ns) + f"{WEEKDAYS_JA[weekday]}曜日")
            en.append(" and ".join(_ORDINALS_EN[n] for n in ns) + f" {WEEKDAYS_EN[weekday]}")
        for weekday, _anchor in self.biweekly:
            ja.append(f"隔週{WEEKDAYS_JA[weekday]}曜日")
            en.append(f"Every other {WEEKDAYS_EN[weekday]}")
        if self.months is not None and (self.weekly or self.nth or self.biweekly):
            months = _fiscal_order(self.months)
            ja.append("（" + "・".join(f"{m}月" for m in months) + "）")
            en.append("(months: " + ", ".join(str(m) for m in months) + ")")
        if self.dates:
            ja.append("不定期（" + "、".join(f"{d.month}/{d.day}" for d in sorted(self.dates)) + "）")
            en.append("On " + ", ".join(d.isoformat() for d in sorted(self.dates)))
        if not ja:
            return "収集なし", "No collection"
        return " ".join(ja), "; ".join(en)


def _fiscal_order(months: frozenset[int]) -> list[int]:
    return sorted(months, key=lambda m: (m - 4) % 12)


def _parse_date(token: str, text: str) -> date:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise DayCellError(token, f"日付 {text} は存在しません（YYYYMMDD）", f"{text} is not a valid date (YYYYMMDD)") from None


def parse_day_cell(cell: str) -> DayRule:
    """Parses one cell; raises DayCellError naming the first offending token."""
    text = unicodedata.normalize("NFKC", cell or "").strip()
    if not text:
        return DayRule()
    months: frozenset[int] | None = None
    if ":" in text:
        body, _, month_text = text.partition(":")
        if ":" in month_text:
            raise DayCellError(month_text, "「:」は1つだけ書けます", "only one ':' is allowed in a cell")
        month_tokens = month_text.split()
        if not month_tokens:
            raise DayCellError(":", "「:」の後に月がありません", "no months after ':'")
        parsed_months = set()
        for token in month_tokens:
            if not token.isdigit() or not 1 <= int(token) <= 12:
                raise DayCellError(token, "「:」の後は1〜12の月を空白区切りで書きます",
                                   "months after ':' must be numbers 1-12 separated by spaces")
            parsed_months.add(int(token))
        months = frozenset(parsed_months)
        text = body.strip()

    weekly: set[int] = set()
    nth: set[tuple[int, int]] = set()
    dates: set[date] = set()
    biweekly: list[tuple[int, date]] = []
    remarks: list[str] = []
    warnings: list[str] = []
    for token in text.split():
        if match := _WEEKLY_RE.match(token):
            weekly.add(WEEKDAYS_JA.index(match[1]))
        elif match := _NTH_RE.match(token):
            n = int(match[2])
            if not 1 <= n <= 5:
                raise DayCellError(token, "第n曜日のnは1〜5です", "the week number of an n-th weekday must be 1-5")
            nth.add((WEEKDAYS_JA.index(match[1]), n))
        elif match := _DATE_RE.match(token):
            dates.add(_parse_date(token, match[1]))
        elif match := _BIWEEKLY_RE.match(token):
            weekday = WEEKDAYS_JA.index(match[1])
            anchor = _parse_date(token, match[2])
            if anchor.weekday() != weekday:
                warnings.append(
                    f"{token}: 基準日 {anchor.isoformat()} は{WEEKDAYS_JA[anchor.weekday()]}曜日です。その週の"
                    f"{match[1]}曜日から数えます / anchor {anchor.isoformat()} is a {WEEKDAYS_EN[anchor.weekday()]}; "
                    f"counting from the {WEEKDAYS_EN[weekday]} of that week")
            if (weekday, anchor) not in biweekly:
                biweekly.append((weekday, anchor))
        elif match := _REMARK_RE.match(token):
            if match[1] not in remarks:
                remarks.append(match[1])
        else:
            raise DayCellError(
                token,
                "曜日（月）、第n曜日（火2）、日付（20250412）、隔週（隔水20250409）、注記（*1）のいずれでもありません",
                "not a weekday (月), n-th weekday (火2), date (20250412), every-other-week rule (隔水20250409) "
                "or remark (*1)",
            )
    if months is not None and not (weekly or nth or biweekly) and dates:
        warnings.append("月の指定は曜日の規則にだけ効きます / months only restrict the weekday rules")
    return DayRule(weekly=frozenset(weekly), nth=frozenset(nth), dates=frozenset(dates), biweekly=tuple(biweekly),
                   remarks=tuple(remarks), months=months, warnings=tuple(warnings))


def format_day_rule(rule: DayRule) -> str:
    """The cell text for a rule (export, console display), in the grammar above."""
    tokens = [WEEKDAYS_JA[d] for d in sorted(rule.weekly)]
    tokens += [f"{WEEKDAYS_JA[w]}{n}" for w, n in sorted(rule.nth)]
    tokens += [f"隔{WEEKDAYS_JA[w]}{a:%Y%m%d}" for w, a in rule.biweekly]
    tokens += [f"{d:%Y%m%d}" for d in sorted(rule.dates)]
    tokens += [f"*{r}" for r in rule.remarks]
    text = " ".join(tokens)
    if rule.months is not None:
        text += ":" + " ".join(str(m) for m in _fiscal_order(rule.months))
    return text
