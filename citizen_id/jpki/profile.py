"""The JPKI signature certificate profile (署名用電子証明書): 基本4情報 in subjectAltName otherName
entries, each a DER UTF8String.

    1.2.392.200149.8.5.5.1  氏名 (name)
    1.2.392.200149.8.5.5.2  氏名代替文字 (name with substitute characters, when present)
    1.2.392.200149.8.5.5.3  性別 (sex: 1 male, 2 female, 3 other/unknown)
    1.2.392.200149.8.5.5.4  生年月日 (EYYYYMMDD: an era digit, then the Gregorian date)
    1.2.392.200149.8.5.5.5  住所 (address)
    1.2.392.200149.8.5.5.6  住所代替文字 (address with substitute characters, when present)
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import asdict, dataclass

from cryptography import x509
from pyasn1.codec.der import decoder as der_decoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import char

OID_NAME = "1.2.392.200149.8.5.5.1"
OID_NAME_ALT = "1.2.392.200149.8.5.5.2"
OID_SEX = "1.2.392.200149.8.5.5.3"
OID_BIRTH = "1.2.392.200149.8.5.5.4"
OID_ADDRESS = "1.2.392.200149.8.5.5.5"
OID_ADDRESS_ALT = "1.2.392.200149.8.5.5.6"
_KNOWN = {OID_NAME, OID_NAME_ALT, OID_SEX, OID_BIRTH, OID_ADDRESS, OID_ADDRESS_ALT}
_REQUIRED = (OID_NAME, OID_SEX, OID_BIRTH, OID_ADDRESS)
MAX_VALUE_CHARS = 400

# The era digit of the date of birth (元号). The Gregorian date after it is authoritative.
ERA_DIGITS = {"1": "明治", "2": "大正", "3": "昭和", "4": "平成", "5": "令和"}
SEX_LABELS = {1: ("男性", "male"), 2: ("女性", "female"), 3: ("その他・不明", "other or unknown")}
# First day of each era, for rendering a date the way Japanese staff read it (和暦).
_ERA_STARTS = [
    (dt.date(2019, 5, 1), "令和"),
    (dt.date(1989, 1, 8), "平成"),
    (dt.date(1926, 12, 25), "昭和"),
    (dt.date(1912, 7, 30), "大正"),
    (dt.date(1868, 10, 23), "明治"),
]
_BIRTH_RE = re.compile(r"^([0-9])([0-9]{4})([0-9]{2})([0-9]{2})$")


class ProfileError(ValueError):
    """The certificate does not carry the 基本4情報 as the JPKI profile says."""


@dataclass(frozen=True)
class BasicInfo:
    """基本4情報 as read from the certificate, plus the substitute-character variants."""

    name: str
    address: str
    birth_date: dt.date
    birth_era: str  # the era digit as written in the certificate
    sex: int
    name_alt: str = ""
    address_alt: str = ""

    def to_json(self) -> dict:
        data = asdict(self)
        data["birth_date"] = self.birth_date.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict) -> BasicInfo:
        return cls(**{**data, "birth_date": dt.date.fromisoformat(data["birth_date"])})


def _utf8_string(der: bytes, oid: str) -> str:
    try:
        value, rest = der_decoder.decode(der, asn1Spec=char.UTF8String())
    except (PyAsn1Error, UnicodeDecodeError, ValueError) as exc:
        raise ProfileError(f"otherName {oid} is not a DER UTF8String") from exc
    if rest:
        raise ProfileError(f"otherName {oid} has trailing bytes")
    text = str(value)
    if len(text) > MAX_VALUE_CHARS or any(unicodedata.category(c) == "Cc" for c in text):
        raise ProfileError(f"otherName {oid} is too long or holds control characters")
    return text


def parse_birth_date(value: str, *, today: dt.date | None = None) -> tuple[dt.date, str]:
    """`EYYYYMMDD` → (date, era digit). A partial date (month or day 00) or an unknown era fails."""
    match = _BIRTH_RE.match(value)
    if not match:
        raise ProfileError("the date of birth is not EYYYYMMDD")
    era, year, month, day = match.groups()
    if era not in ERA_DIGITS:
        raise ProfileError(f"unknown era digit {era}")
    if month == "00" or day == "00":
        raise ProfileError("the date of birth is partial")
    try:
        date = dt.date(int(year), int(month), int(day))
    except ValueError:
        raise ProfileError("the date of birth is not a calendar date") from None
    if date > (today or dt.date.today()) or date.year < 1868:
        raise ProfileError("the date of birth is out of range")
    return date, era


def wareki(date: dt.date) -> str:
    """`1980-01-02` → `昭和55年1月2日` (元年 for the first year of an era)."""
    for start, era in _ERA_STARTS:
        if date >= start:
            year = date.year - start.year + 1
            return f"{era}{'元' if year == 1 else year}年{date.month}月{date.day}日"
    return f"{date.year}年{date.month}月{date.day}日"


def read_basic_info(certificate: x509.Certificate, *, today: dt.date | None = None) -> BasicInfo:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise ProfileError("no subjectAltName: not a JPKI signature certificate") from None
    except ValueError as exc:  # a malformed extension surfaces when it is first read
        raise ProfileError("the subjectAltName cannot be parsed") from exc
    values: dict[str, str] = {}
    for general_name in san:
        if not isinstance(general_name, x509.OtherName):
            continue
        oid = general_name.type_id.dotted_string
        if oid not in _KNOWN:
            continue
        if oid in values:
            raise ProfileError(f"otherName {oid} appears twice")
        values[oid] = _utf8_string(general_name.value, oid)
    missing = [oid for oid in _REQUIRED if not values.get(oid, "").strip()]
    if missing:
        raise ProfileError(f"missing 基本4情報 entries: {', '.join(missing)}")
    birth_date, era = parse_birth_date(values[OID_BIRTH], today=today)
    sex_text = values[OID_SEX]
    if sex_text not in {"1", "2", "3"}:
        raise ProfileError("sex must be 1, 2 or 3")
    return BasicInfo(
        name=values[OID_NAME].strip(), address=values[OID_ADDRESS].strip(), birth_date=birth_date,
        birth_era=era, sex=int(sex_text), name_alt=values.get(OID_NAME_ALT, "").strip(),
        address_alt=values.get(OID_ADDRESS_ALT, "").strip(),
    )


def normalise_address(text: str) -> str:
    """For the residence check: NFKC (full-width digits and letters), no spaces, ヶ and ケ as one."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", "", text).replace("ヶ", "ケ").replace("ヵ", "カ")


def address_in(info: BasicInfo, prefixes: list[str]) -> bool:
    """True when the address (or its substitute-character form) starts with one of `prefixes`."""
    wanted = [normalise_address(prefix) for prefix in prefixes if prefix.strip()]
    candidates = [normalise_address(a) for a in (info.address, info.address_alt) if a]
    return any(address.startswith(prefix) for address in candidates for prefix in wanted)
