"""The JPKI profile: the era-coded date of birth, 和暦 rendering and the residence rule."""
from __future__ import annotations

import datetime as dt

import pytest

from citizen_id.jpki.profile import BasicInfo, ProfileError, address_in, parse_birth_date, wareki


@pytest.mark.parametrize(("value", "expected"), [
    ("319800102", (dt.date(1980, 1, 2), "3")),
    ("419890108", (dt.date(1989, 1, 8), "4")),
    ("520190501", (dt.date(2019, 5, 1), "5")),
    ("119000101", (dt.date(1900, 1, 1), "1")),
    ("420000229", (dt.date(2000, 2, 29), "4")),
])
def test_birth_dates(value, expected):
    assert parse_birth_date(value, today=dt.date(2026, 1, 1)) == expected


@pytest.mark.parametrize("value", [
    "319800100", "319800002", "319800000", "3198001", "31980010203", "S19800102", "019800102", "619800102",
    "319800230", "320991231", "318000101", " 319800102", "３19800102", "",
])
def test_bad_birth_dates(value):
    with pytest.raises(ProfileError):
        parse_birth_date(value, today=dt.date(2026, 1, 1))


@pytest.mark.parametrize(("date", "text"), [
    (dt.date(1989, 1, 7), "昭和64年1月7日"), (dt.date(1989, 1, 8), "平成元年1月8日"),
    (dt.date(2019, 4, 30), "平成31年4月30日"), (dt.date(2019, 5, 1), "令和元年5月1日"),
    (dt.date(1926, 12, 25), "昭和元年12月25日"), (dt.date(1912, 7, 30), "大正元年7月30日"),
    (dt.date(1900, 1, 1), "明治33年1月1日"),
])
def test_wareki(date, text):
    assert wareki(date) == text


def _info(address: str, address_alt: str = "") -> BasicInfo:
    return BasicInfo(name="n", address=address, address_alt=address_alt, birth_date=dt.date(1980, 1, 1),
                     birth_era="3", sex=1)


@pytest.mark.parametrize(("address", "alt", "inside"), [
    ("佐賀県佐賀市栄町1番1号", "", True),
    ("佐賀県佐賀市栄町１番１号", "", True),
    ("佐賀県 佐賀市栄町1番1号", "", True),
    ("佐賀県佐賀郡1", "", False),
    ("東京都佐賀市1", "", False),
    ("佐賀市栄町1", "", False),
    ("佐賀県鳥栖市1", "佐賀県佐賀市1", True),  # the substitute-character form may carry the match
])
def test_residence(address, alt, inside):
    assert address_in(_info(address, alt), ["佐賀県佐賀市"]) is inside


def test_ke_variants():
    assert address_in(_info("佐賀県三養基郡みやき町ヶ里1"), ["佐賀県三養基郡みやき町ケ里"])
