"""Reads for disaster operations. The two public reads residents hammer during a disaster (shelter
list, active alerts) are served from a per-municipality cached payload: no database query per request."""
from __future__ import annotations

import math

from django.core.cache import cache
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from superapp.api.errors import ApiError
from tenants.selectors import current_municipality

from .models import Alert, CheckIn, Disaster, Sex, Shelter, ShelterOpening, SpecialCare
from .services import ACTIVE_ALERTS_CACHE_KEY, PUBLIC_LIST_CACHE_KEY

DEFAULT_THRESHOLDS = (30, 60, 80)  # % of capacity: somewhat_crowded / crowded / full from here
PUBLIC_CACHE_SECONDS = 300  # a safety net; changes invalidate at once


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


def shelter_public_list() -> list[dict]:
    rows = cache.get(PUBLIC_LIST_CACHE_KEY)
    if rows is None:
        rows = _build_public_list()
        cache.set(PUBLIC_LIST_CACHE_KEY, rows, PUBLIC_CACHE_SECONDS)
    return rows


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


def active_alerts() -> list[dict]:
    rows = cache.get(ACTIVE_ALERTS_CACHE_KEY)
    if rows is None:
        now = timezone.now()
        alerts = Alert.objects.filter(is_active=True).filter(Q(expires__isnull=True) | Q(expires__gt=now))
        rows = [{
            "id": a.pk, "identifier": a.identifier, "msg_type": a.msg_type, "status": a.status, "event": a.event,
            "urgency": a.urgency, "severity": a.severity, "certainty": a.certainty, "headline": a.headline,
            "description": a.description, "instruction": a.instruction, "area": a.area_desc,
            "district_ids": a.district_ids, "sent": a.sent.isoformat(),
            "expires": a.expires.isoformat() if a.expires else None,
        } for a in alerts]
        # Expiry must take effect even without a new message: cache no longer than the next expiry.
        timeout = PUBLIC_CACHE_SECONDS
        expiries = [a.expires for a in alerts if a.expires]
        if expiries:
            timeout = max(1, min(timeout, int((min(expiries) - now).total_seconds())))
        cache.set(ACTIVE_ALERTS_CACHE_KEY, rows, timeout)
    return rows


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

