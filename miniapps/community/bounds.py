"""The municipality's map bounds: map posts must lie inside them, map queries are checked against them.

Stored on `Municipality.settings["community_map_bounds"]` (set from the staff API or console). Until a
municipality sets its own, known municipalities fall back to the rectangles below (generous boxes
around the city limits, WGS84 decimal degrees)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal

from django.db import connection

SETTINGS_KEY = "community_map_bounds"

# 全国地方公共団体コード → bounds. Saga City spans the Ariake Sea shore to the Sefuri mountains.
KNOWN_BOUNDS = {
    "412015": {"min_lat": 33.15, "max_lat": 33.50, "min_lng": 130.15, "max_lng": 130.45},  # 佐賀市
    "412104": {"min_lat": 33.27, "max_lat": 33.48, "min_lng": 130.30, "max_lng": 130.42},  # 神埼市
}
# A map query may not cover more than this many degrees per side (a box around a whole city is fine).
MAX_BBOX_SPAN_DEGREES = 0.6


@dataclass(frozen=True)
class Bounds:
    min_lat: float
    max_lat: float
    min_lng: float
    max_lng: float

    def contains(self, lat: float | Decimal, lng: float | Decimal) -> bool:
        return self.min_lat <= float(lat) <= self.max_lat and self.min_lng <= float(lng) <= self.max_lng

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def bounds_from_dict(raw: dict | None) -> Bounds | None:
    if not isinstance(raw, dict):
        return None
    try:
        bounds = Bounds(**{key: float(raw[key]) for key in ("min_lat", "max_lat", "min_lng", "max_lng")})
    except (KeyError, TypeError, ValueError):
        return None
    if not (-90 <= bounds.min_lat < bounds.max_lat <= 90 and -180 <= bounds.min_lng < bounds.max_lng <= 180):
        return None
    return bounds


def municipality_map_bounds(municipality=None) -> Bounds | None:
    """The current municipality's bounds, or None when it has none (then no location can be posted)."""
    municipality = municipality if municipality is not None else getattr(connection, "tenant", None)
    if municipality is None or not hasattr(municipality, "settings"):
        return None
    configured = bounds_from_dict((municipality.settings or {}).get(SETTINGS_KEY))
    return configured or bounds_from_dict(KNOWN_BOUNDS.get(getattr(municipality, "code", "")))
