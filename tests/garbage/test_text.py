"""Search folding: hiragana, katakana, half-width katakana and full-width latin meet in one key."""
from __future__ import annotations

import pytest

from miniapps.garbage.text import fold, reading, search_key, to_katakana


@pytest.mark.parametrize("spelling", ["ペットボトル", "ぺっとぼとる", "ﾍﾟｯﾄﾎﾞﾄﾙ", "ペット ボトル", "ペット・ボトル"])
def test_kana_spellings_fold_to_one_key(spelling):
    assert fold(spelling) == "ぺっとぼとる"


def test_full_width_latin_and_digits_fold_to_ascii():
    assert fold("ＰＥＴ１２") == "pet12"


def test_kanji_stays_kanji_and_reading_adds_kana():
    assert fold("生ごみ") == "生ごみ"
    assert reading("生ごみ") == "なまごみ"
    assert reading("アルミホイル") == ""  # no kanji: nothing to read
    key = search_key("生ごみ", reading("生ごみ"))
    assert fold("なまごみ") in key and fold("ﾅﾏｺﾞﾐ") in key and "生ごみ" in key


def test_to_katakana():
    assert to_katakana("ぺっとぼとる") == "ペットボトル"
