"""Reads for disaster operations. The two public reads residents hammer during a disaster (shelter
list, active alerts) are served from a per-municipality cached payload: no database query per request."""
from __future__ import annotations

import gzip
import json
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone

from superapp.api.errors import ApiError
from tenants.selectors import current_municipality

from .models import Alert, CheckIn, Disaster, Sex, Shelter, ShelterOpening, SpecialCare
from .services import PUBLIC_ALERTS, PUBLIC_LIST, new_public_version, public_version_key

DEFAULT_THRESHOLDS = (30, 60, 80)  # % of capacity: somewhat_crowded / crowded / full from here
REBUILD_LOCK_SECONDS = 10


@dataclass(frozen=True)
class PublicPayload:
    """A rendered public payload: the JSON, the same gzipped (phones ask for gzip), and the version of
    the data it was built from."""

    version: str
    valid_until: float | None
    body: bytes
    body_gzip: bytes

    def fresh(self, version: str | None, now: float) -> bool:
        return self.version == version and (self.valid_until is None or self.valid_until > now)


@dataclass
class _LocalCopy:
    payload: PublicPayload
    checked_at: float  # time.monotonic() when its version was last compared with Redis


# The last payload each process served, per (schema, name). Within SHELTERS_PUBLIC_RECHECK_SECONDS of
# the last comparison it is served without asking Redis: under a surge that round trip was the
# largest cost of the request. A change made in this process drops its copies at once
# (forget_local_copies), so the writer always reads its own write.
_local_copies: dict[tuple[str, str], _LocalCopy] = {}


def forget_local_copies(schema: str | None = None, name: str | None = None) -> None:
    for key in [key for key in _local_copies if schema in (None, key[0]) and name in (None, key[1])]:
        _local_copies.pop(key, None)


def _render(rows, version: str, valid_until: float | None) -> PublicPayload:
    body = json.dumps(rows, ensure_ascii=False).encode()
    return PublicPayload(version, valid_until, body, gzip.compress(body, compresslevel=6, mtime=0))


def _current_version(name: str) -> str:
    key = public_version_key(name)
    version = cache.get(key)
    if version is None:  # never set, or Redis lost it: every copy anywhere is now suspect
        cache.add(key, new_public_version(), timeout=None)
        version = cache.get(key)
    return version


def cached_public(name: str, build) -> PublicPayload:
    """A public payload, rebuilt at most once per change across all processes.

    Every committed change replaces the payload's version token (services.public_views_changed). A process
    compares its copy's token with Redis at most every SHELTERS_PUBLIC_RECHECK_SECONDS; when they
    differ it fetches the shared copy, and if that is not current either, takes a short lock and
    rebuilds; readers that miss the lock serve the previous copy meanwhile (stale for the few
    milliseconds of a rebuild), so a burst of check-ins never turns into a stampede of identical
    queries. `build()` returns (rows, valid_until or None)."""
    payload_key, lock_key = f"shelters:public:{name}", f"shelters:public:{name}:lock"
    local_key = (connection.schema_name, name)
    now, checked_at = timezone.now().timestamp(), time.monotonic()
    local = _local_copies.get(local_key)
    if local is not None and checked_at - local.checked_at < settings.SHELTERS_PUBLIC_RECHECK_SECONDS and (
            local.payload.valid_until is None or local.payload.valid_until > now):
        return local.payload
    version = _current_version(name)
    if local is not None and local.payload.fresh(version, now):
        local.checked_at = checked_at
        return local.payload
    shared = cache.get(payload_key)
    if isinstance(shared, PublicPayload) and shared.fresh(version, now):
        _local_copies[local_key] = _LocalCopy(shared, checked_at)
        return shared
    stale = shared if isinstance(shared, PublicPayload) else (local.payload if local else None)
    if not cache.add(lock_key, 1, timeout=REBUILD_LOCK_SECONDS):
        if stale is not None:
            # Someone is rebuilding: serve the previous copy, and keep serving it without asking
            # Redis again until the next recheck (while check-ins keep arriving, the version is
            # almost always ahead of the shared copy; three round trips per read cost more than
            # the rest of the request).
            _local_copies[local_key] = _LocalCopy(stale, checked_at)
            return stale
        rows, valid_until = build()  # nobody has a copy yet: answer without caching
        return _render(rows, "", valid_until)
    try:
        version = _current_version(name)  # read before the data: a later change replaces it again
        rows, valid_until = build()
        payload = _render(rows, version, valid_until)
        cache.set(payload_key, payload, timeout=None)
        _local_copies[local_key] = _LocalCopy(payload, checked_at)
        return payload
    finally:
        cache.delete(lock_key)


def crowding_thresholds() -> tuple[int, int, int]:
    municipality = current_municipality()
    configured = municipality.setting("shelter_crowding_thresholds") if municipality else None
    return tuple(configured) if configured else DEFAULT_THRESHOLDS


def vacancy_level(*, is_open: bool, present: int, capacity: int, thresholds=DEFAULT_THRESHOLDS) -> str:
    if not is_open:
        return "closed"
    if capacity <= 0:
        return "available" if present == 0 else "full"
    ratio = 100 * present / capacity
    somewhat, crowded, full = thresholds
    if ratio >= full:
        return "full"
    if ratio >= crowded:
        return "crowded"
    if ratio >= somewhat:
        return "somewhat_crowded"
    return "available"


def _build_public_list() -> list[dict]:
    thresholds = crowding_thresholds()
    openings = {
        o.shelter_id: o
        for o in ShelterOpening.objects.filter(closed_at__isnull=True).select_related("disaster")
        .annotate(present=Count("check_ins", filter=Q(check_ins__checked_out_at__isnull=True)),
                  households=Count("check_ins__household_id", distinct=True,
                                   filter=Q(check_ins__checked_out_at__isnull=True)),
                  last_update=Max("check_ins__created_at"))
    }
    rows = []
    for shelter in Shelter.objects.order_by("id"):
        opening = openings.get(shelter.pk)
        count = opening.present if opening else 0
        rows.append({
            "id": shelter.pk, "name": shelter.name, "kana": shelter.kana, "name_en": shelter.name_en,
            "address": shelter.address, "latitude": shelter.latitude, "longitude": shelter.longitude,
            "capacity": shelter.capacity, "hazards": shelter.hazards,
            "is_designated_shelter": shelter.is_designated_shelter, "is_welfare_shelter": shelter.is_welfare_shelter,
            "pets_allowed": shelter.pets_allowed, "car_stay_allowed": shelter.car_stay_allowed,
            "phone": shelter.phone,
            "status": "open" if opening else "closed",
            "level": vacancy_level(is_open=opening is not None, present=count, capacity=shelter.capacity,
                                   thresholds=thresholds),
            "evacuees": count,
            "households": opening.households if opening else 0,
            "disaster": ({"id": opening.disaster_id, "name": opening.disaster.name, "type": opening.disaster.type}
                         if opening else None),
            "opened_at": opening.opened_at.isoformat() if opening else None,
            "updated_at": (opening.last_update or opening.opened_at).isoformat() if opening else None,
        })
    return rows


def shelter_public_rows() -> list[dict]:
    """The public list as rows (for the console), from the same cached payload."""
    return json.loads(shelter_public_list().body)


def shelter_public_list() -> PublicPayload:
    return cached_public(PUBLIC_LIST, lambda: (_build_public_list(), None))


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine); plenty for "which shelter is nearest"."""
    radius = 6371.0088
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = math.radians(lat2 - lat1), math.radians(lng2 - lng1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(a))


def shelters_near(rows: list[dict], *, lat: float, lng: float) -> list[dict]:
    result = []
    for row in rows:
        row = dict(row)
        if row["latitude"] is not None and row["longitude"] is not None:
            row["distance_km"] = round(distance_km(lat, lng, row["latitude"], row["longitude"]), 3)
        else:
            row["distance_km"] = None
        result.append(row)
    return sorted(result, key=lambda r: (r["distance_km"] is None, r["distance_km"] or 0))


def _build_active_alerts() -> tuple[list[dict], float | None]:
    now = timezone.now()
    alerts = list(Alert.objects.filter(is_active=True).filter(Q(expires__isnull=True) | Q(expires__gt=now)))
    rows = [{
        "id": a.pk, "identifier": a.identifier, "msg_type": a.msg_type, "status": a.status, "event": a.event,
        "urgency": a.urgency, "severity": a.severity, "certainty": a.certainty, "headline": a.headline,
        "description": a.description, "instruction": a.instruction, "area": a.area_desc,
        "district_ids": a.district_ids, "sent": a.sent.isoformat(),
        "expires": a.expires.isoformat() if a.expires else None,
    } for a in alerts]
    # Expiry must take effect even without a new message: the copy is valid until the next expiry.
    expiries = [a.expires.timestamp() for a in alerts if a.expires]
    return rows, (min(expiries) if expiries else None)


def active_alerts() -> PublicPayload:
    return cached_public(PUBLIC_ALERTS, _build_active_alerts)


def access_shelter(*, id: int) -> Shelter:
    shelter = Shelter.objects.filter(pk=id).first()
    if shelter is None:
        raise ApiError("not_found", status_code=404)
    return shelter


def access_disaster(*, id: int) -> Disaster:
    disaster = Disaster.objects.filter(pk=id).first()
    if disaster is None:
        raise ApiError("not_found", status_code=404)
    return disaster


def disaster_list():
    return Disaster.objects.select_related("opened_by", "closed_by").annotate(
        open_shelters=Count("openings", filter=Q(openings__closed_at__isnull=True)))


def current_evacuees(*, shelter: Shelter):
    return (CheckIn.objects.filter(opening__shelter=shelter, opening__closed_at__isnull=True,
                                   checked_out_at__isnull=True)
            .select_related("possible_duplicate_of__opening__shelter").order_by("-checked_in_at", "-id"))


def reception_evacuees(*, shelter: Shelter) -> list[dict]:
    """The reception screen's list of people present, as plain rows of the columns it shows: a full
    shelter lists hundreds of rows on every page load, and model instances cost several times more
    to build and to render than dicts."""
    return list(current_evacuees(shelter=shelter).values(
        "id", "name", "source", "special_care", "checked_in_at",
        duplicate_shelter=F("possible_duplicate_of__opening__shelter__name")))


def uploaded_offline_items(*, shelter: Shelter, client_ids: list[str]) -> dict[str, list[CheckIn]]:
    """Check-ins already uploaded for these offline items (and their household members), by item."""
    prefixes = set(client_ids)
    found: dict[str, list[CheckIn]] = {}
    rows = CheckIn.objects.filter(opening__shelter=shelter, opening__closed_at__isnull=True).filter(
        Q(client_item_id__in=prefixes) | Q(client_item_id__regex=r"#[0-9]+$")).select_related(
        "possible_duplicate_of__opening__shelter").order_by("id")
    for check_in in rows:
        item = check_in.client_item_id.split("#", 1)[0]
        if item in prefixes:
            found.setdefault(item, []).append(check_in)
    return found


def disaster_report(*, disaster: Disaster) -> dict:
    """災害対策本部 report: per shelter opening and in total. One aggregate query over check-ins."""
    present = Q(check_ins__checked_out_at__isnull=True)
    care = {f"care_{code}": Count("check_ins", filter=present & Q(check_ins__special_care__contains=[code]))
            for code in SpecialCare.values}
    openings = (ShelterOpening.objects.filter(disaster=disaster).select_related("shelter")
                .annotate(evacuees=Count("check_ins", filter=present),
                          households=Count("check_ins__household_id", filter=present, distinct=True),
                          men=Count("check_ins", filter=present & Q(check_ins__sex=Sex.MALE)),
                          women=Count("check_ins", filter=present & Q(check_ins__sex=Sex.FEMALE)),
                          sex_other=Count("check_ins", filter=present & Q(check_ins__sex=Sex.OTHER)),
                          special_care_any=Count("check_ins", filter=present & ~Q(check_ins__special_care=[])),
                          pets=Sum("check_ins__pets", filter=present, default=0),
                          total_checked_in=Count("check_ins"),
                          last_update=Max("check_ins__created_at"),
                          **care)
                .order_by("shelter_id", "opened_at"))
    thresholds = crowding_thresholds()
    shelters = []
    fields = ["evacuees", "households", "men", "women", "sex_other", "special_care_any", "pets",
              "total_checked_in", *care]
    totals = {name: 0 for name in fields}
    for o in openings:
        row = {name: getattr(o, name) for name in fields}
        for name in fields:
            totals[name] += row[name]
        row.update(
            shelter_id=o.shelter_id, shelter_name=o.shelter.name, capacity=o.shelter.capacity,
            opened_at=o.opened_at.isoformat(), closed_at=o.closed_at.isoformat() if o.closed_at else None,
            status="open" if o.closed_at is None else "closed",
            level=vacancy_level(is_open=o.closed_at is None, present=o.evacuees, capacity=o.shelter.capacity,
                                thresholds=thresholds),
            infants=row[f"care_{SpecialCare.INFANT}"],
            last_update=(o.last_update or o.opened_at).isoformat(),
        )
        shelters.append(row)
    totals["infants"] = totals[f"care_{SpecialCare.INFANT}"]
    totals["open_shelters"] = sum(1 for s in shelters if s["status"] == "open")
    return {
        "disaster": {"id": disaster.pk, "name": disaster.name, "type": disaster.type,
                     "opened_at": disaster.opened_at.isoformat(),
                     "closed_at": disaster.closed_at.isoformat() if disaster.closed_at else None},
        "generated_at": timezone.now().isoformat(),
        "shelters": shelters,
        "totals": totals,
    }

