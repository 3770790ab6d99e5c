"""The 5374 day-cell grammar and its evaluation (pure functions, no database)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miniapps.garbage.rules import WEEKDAYS_JA, DayCellError, DayRule, format_day_rule, parse_day_cell


def days(rule: DayRule, start: str, end: str) -> list[str]:
    return [d.isoformat() for d in rule.dates_between(date.fromisoformat(start), date.fromisoformat(end))]


def test_weekly_tokens():
    rule = parse_day_cell("月 木")
    assert days(rule, "2025-04-01", "2025-04-10") == ["2025-04-03", "2025-04-07", "2025-04-10"]
    assert rule.describe() == ("毎週月・木曜日", "Every Mon, Thu")


def test_nth_weekday_counts_occurrences_from_the_first_of_the_month():
    rule = parse_day_cell("火1 火3")
    # April 2025: Tuesdays are 1, 8, 15, 22, 29 → 1st and 3rd are the 1st and the 15th.
    assert days(rule, "2025-04-01", "2025-04-30") == ["2025-04-01", "2025-04-15"]
    # The 5th Tuesday exists only in some months.
    assert days(parse_day_cell("火5"), "2025-04-01", "2025-06-30") == ["2025-04-29"]


def test_explicit_dates():
    rule = parse_day_cell("20250423 20250625")
    assert days(rule, "2025-04-01", "2025-12-31") == ["2025-04-23", "2025-06-25"]
    assert rule.describe()[0] == "不定期（4/23、6/25）"


def test_every_other_week_counts_from_the_anchor_in_both_directions():
    rule = parse_day_cell("隔水20250409")
    assert days(rule, "2025-03-20", "2025-05-10") == ["2025-03-26", "2025-04-09", "2025-04-23", "2025-05-07"]
    assert rule.describe() == ("隔週水曜日", "Every other Wed")


def test_every_other_week_anchor_off_its_weekday_counts_from_that_week_with_a_warning():
    rule = parse_day_cell("隔木20250409")  # the 9th is a Wednesday
    assert days(rule, "2025-04-07", "2025-04-30") == ["2025-04-10", "2025-04-24"]
    assert rule.warnings and "2025-04-09" in rule.warnings[0]


def test_month_restriction_applies_to_recurring_tokens_not_explicit_dates():
    rule = parse_day_cell("火2 20250520:4 7 10 1")
    assert days(rule, "2025-04-01", "2026-03-31") == [
        "2025-04-08", "2025-05-20", "2025-07-08", "2025-10-14", "2026-01-13"]
    assert rule.describe()[0] == "第2火曜日 （4月・7月・10月・1月） 不定期（5/20）"


def test_remarks_are_collected_and_do_not_add_days():
    rule = parse_day_cell("*1 月 *2")
    assert rule.remarks == ("1", "2")
    assert parse_day_cell("*1").is_empty


def test_full_width_digits_spaces_and_colon_are_accepted():
    assert parse_day_cell("金２　金４") == parse_day_cell("金2 金4")
    assert parse_day_cell("火２：４ ７") == parse_day_cell("火2:4 7")


def test_empty_cell_is_no_collection():
    assert parse_day_cell("").is_empty and parse_day_cell("   ").is_empty
    assert parse_day_cell("").describe() == ("収集なし", "No collection")


@pytest.mark.parametrize(("cell", "token"), [
    ("月 毎週", "毎週"),
    ("火6", "火6"),
    ("火0", "火0"),
    ("20250230", "20250230"),
    ("隔水2025040", "隔水2025040"),
    ("隔水20251340", "隔水20251340"),
    ("Mon", "Mon"),
    ("月:13", "13"),
    ("月:", ":"),
    ("月:4:5", "4:5"),
    ("火2:6 12 *2", "*2"),
])
def test_malformed_cells_name_the_offending_token(cell, token):
    with pytest.raises(DayCellError) as caught:
        parse_day_cell(cell)
    assert caught.value.token == token
    assert caught.value.message and caught.value.message_en


def test_json_round_trip():
    rule = parse_day_cell("月 火2 隔水20250409 20250501 *3:4 5 6")
    assert DayRule.from_json(rule.to_json()) == rule


weekday = st.sampled_from(WEEKDAYS_JA)
anchors = st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 12, 31))
tokens = st.one_of(
    weekday,
    st.builds(lambda w, n: f"{w}{n}", weekday, st.integers(1, 5)),
    anchors.map(lambda d: f"{d:%Y%m%d}"),
    st.builds(lambda d: f"隔{WEEKDAYS_JA[d.weekday()]}{d:%Y%m%d}", anchors),
    st.integers(1, 9).map(lambda n: f"*{n}"),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(tokens, min_size=1, max_size=6), st.one_of(st.none(), st.sets(st.integers(1, 12), min_size=1)))
def test_format_and_parse_agree(token_list, months):
    cell = " ".join(token_list) + (":" + " ".join(map(str, sorted(months))) if months else "")
    rule = parse_day_cell(cell)
    assert parse_day_cell(format_day_rule(rule)) == rule


@settings(max_examples=100, deadline=None)
@given(anchors, st.integers(-400, 400))
def test_every_other_week_is_a_14_day_lattice(anchor, offset):
    rule = parse_day_cell(f"隔{WEEKDAYS_JA[anchor.weekday()]}{anchor:%Y%m%d}")
    day = anchor + timedelta(days=offset)
    assert rule.occurs_on(day) == (offset % 14 == 0)
