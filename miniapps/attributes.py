"""Resident attributes an external mini-app may receive (with consent), and the age band used both
there and in usage aggregates.

`verified_resident` is true when a registered check says so. With the digital citizen ID app
installed, a resident holding an active citizen ID (verified with the My Number Card) is verified;
another source of verification registers its own check:

    from miniapps.attributes import register_verified_resident_check
    register_verified_resident_check(lambda user: ...)

With none registered, every resident is reported as not verified.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

from django.utils import timezone

from accounts.models import User
from miniapps.catalog.models import ResidentAttribute

ATTRIBUTE_NAMES = tuple(ResidentAttribute.values)
ATTRIBUTE_LABELS = {choice.value: choice.label for choice in ResidentAttribute}
OLDEST_BAND = 80

_verified_resident_checks: list[Callable[[User], bool]] = []


def register_verified_resident_check(check: Callable[[User], bool]) -> None:
    if check not in _verified_resident_checks:
        _verified_resident_checks.append(check)


def unregister_verified_resident_check(check: Callable[[User], bool]) -> None:
    if check in _verified_resident_checks:
        _verified_resident_checks.remove(check)


def citizen_id_is_active(user: User) -> bool:
    """The resident holds an active digital citizen ID (市民証), i.e. proved residence with the card."""
    from citizen_id.models import CitizenId

    return CitizenId.objects.filter(user=user, status=CitizenId.Status.ACTIVE).exists()


def is_verified_resident(user: User) -> bool:
    return any(check(user) for check in _verified_resident_checks)


def age_band_lower(birth_year: int | None, today: date | None = None) -> int | None:
    """Lower bound of the resident's decade (0, 10, ... 80 meaning 80 and over). Only the birth year
    is known, so the age is the one reached this calendar year."""
    if birth_year is None:
        return None
    age = (today or timezone.localdate()).year - birth_year
    if age < 0:
        return None
    return min(age // 10 * 10, OLDEST_BAND)


def age_band_label(lower: int | None) -> str | None:
    if lower is None:
        return None
    return f"{OLDEST_BAND}+" if lower >= OLDEST_BAND else f"{lower}-{lower + 9}"


AGE_BAND_LABELS = tuple(age_band_label(lower) for lower in range(0, OLDEST_BAND + 1, 10))


def age_band_from_label(label: str) -> int | None:
    for lower in range(0, OLDEST_BAND + 1, 10):
        if age_band_label(lower) == label:
            return lower
    return None


def resident_attribute_values(user: User, names: list[str] | tuple[str, ...]) -> dict[str, object]:
    """The claims for the attributes in `names`; an attribute the resident has not filled in is omitted."""
    claims: dict[str, object] = {}
    for name in names:
        if name == ResidentAttribute.NICKNAME:
            if user.nickname:
                claims["nickname"] = user.nickname
        elif name == ResidentAttribute.DISTRICT:
            if user.district_id is not None:
                claims["district"] = {"id": user.district_id, "name": user.district.name}
        elif name == ResidentAttribute.AGE_BAND:
            band = age_band_label(age_band_lower(user.birth_year))
            if band is not None:
                claims["age_band"] = band
        elif name == ResidentAttribute.VERIFIED_RESIDENT:
            claims["verified_resident"] = is_verified_resident(user)
    return claims
