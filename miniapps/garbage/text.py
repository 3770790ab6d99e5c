"""Text folding for search: one key for ひらがな, カタカナ, half-width ｶﾀｶﾅ, full-width ＡＢＣ and kanji
readings, so a resident finds 「アルミホイル」 by typing あるみ, ｱﾙﾐ or アルミ."""
from __future__ import annotations

import functools
import re
import threading
import unicodedata

_KATAKANA_START, _KATAKANA_END = 0x30A1, 0x30F6  # ァ..ヶ; hiragana is 0x60 lower
_SPACES_RE = re.compile(r"[\s\u3000・･]+")
_HAS_KANJI_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ヶ]")

_kakasi = None
_kakasi_lock = threading.Lock()


def to_hiragana(text: str) -> str:
    return "".join(
        chr(ord(ch) - 0x60) if _KATAKANA_START <= ord(ch) <= _KATAKANA_END else ch for ch in text
    )


def to_katakana(text: str) -> str:
    return "".join(
        chr(ord(ch) + 0x60) if _KATAKANA_START - 0x60 <= ord(ch) <= _KATAKANA_END - 0x60 else ch for ch in text
    )


def fold(text: str | None) -> str:
    """NFKC (half-width kana → full-width, full-width latin/digits → ASCII), lower case, katakana →
    hiragana, spaces and middle dots removed."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _SPACES_RE.sub("", to_hiragana(text))


def has_kanji(text: str) -> bool:
    return bool(_HAS_KANJI_RE.search(text or ""))


@functools.lru_cache(maxsize=50_000)
def reading(text: str) -> str:
    """A best-effort hiragana reading of a name with kanji (pykakasi's dictionary), used only as an
    extra search key when the data carries no reading. Place names are irregular: the kanji name
    always stays searchable as written."""
    global _kakasi
    if not has_kanji(text):
        return ""
    with _kakasi_lock:
        if _kakasi is None:
            import pykakasi

            _kakasi = pykakasi.kakasi()
        parts = _kakasi.convert(text)
    return "".join(part["hira"] for part in parts)


def search_key(*texts: str | None) -> str:
    """The stored key a folded query is matched against with `contains`; parts are separated by a
    newline so a query never matches across two of them."""
    seen: list[str] = []
    for text in texts:
        folded = fold(text)
        if folded and folded not in seen:
            seen.append(folded)
    return "\n".join(seen)
