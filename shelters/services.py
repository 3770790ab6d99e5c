"""Writes for disaster operations: registry import, disasters, opening/closing shelters, check-in
and check-out, emergency contacts, CAP alerts. Every change to what residents see on the public
shelter list invalidates its cached response after commit."""
from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import District, User
from accounts.services import audit_record
from superapp.api.errors import ApiError
from superapp.celery import enqueue_on_commit

from . import cap as cap_module
from .models import (Alert, CheckIn, Disaster, EmergencyContact, IdempotencyRecord, Shelter, ShelterOpening)
from .opendata import RowError, read_shelters

PUBLIC_LIST, PUBLIC_ALERTS = "list", "alerts"  # the two public payloads (see selectors.cached_public)
MAX_EMERGENCY_CONTACTS = 5


def public_version_key(name: str) -> str:
    return f"shelters:public:{name}:version"


def new_public_version() -> str:
    # Random rather than a counter: after Redis loses the key, no process's old copy can match again.
    return secrets.token_hex(8)


def public_views_changed(name: str) -> None:
    """Replace the version of a public payload (PUBLIC_LIST or PUBLIC_ALERTS) once the change is
    committed; readers then rebuild it (see selectors.cached_public). Each payload has its own
    version, so a burst of check-ins leaves the alerts alone. Cache keys carry the schema, so the
    schema is captured now: the connection may be elsewhere when the transaction commits."""
    schema = connection.schema_name

    def bump() -> None:
        from .selectors import forget_local_copies

        with schema_context(schema):
            cache.set(public_version_key(name), new_public_version(), timeout=None)
        forget_local_copies(schema, name)  # this process reads its own change at once; others within a recheck

    transaction.on_commit(bump)


# --- Registry ----------------------------------------------------------------------------------
@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def shelters_import(*, data: bytes, acting_user: User | None = None) -> ImportReport:
    """Imports a 指定緊急避難場所一覧 CSV (either generation). All or nothing: with any bad row, nothing
    changes and every bad row is reported. Rows match existing shelters by ID, else by name+address."""
    try:
        rows, errors = read_shelters(data)
    except ValueError as exc:
        return ImportReport(errors=[RowError(1, "-", str(exc))])
    report = ImportReport(errors=errors)
    if errors:
        return report
    with transaction.atomic():
        existing = list(Shelter.objects.select_for_update())
        by_id = {s.external_id: s for s in existing if s.external_id}
        by_name = {(s.name, s.address): s for s in existing}
        for row in rows:
            values = row.values
            shelter = by_id.get(values["external_id"]) if values["external_id"] else None
            shelter = shelter or by_name.get((values["name"], values["address"]))
            if shelter is None:
                Shelter.objects.create(**values)
                report.created += 1
                continue
            changed = [name for name, value in values.items() if getattr(shelter, name) != value]
            if not changed:
                report.unchanged += 1
                continue
            for name in changed:
                setattr(shelter, name, values[name])
            shelter.save(update_fields=[*changed, "updated_at"])
            report.updated += 1
        audit_record(actor=acting_user, action="shelters.imported",
                     data={"created": report.created, "updated": report.updated, "unchanged": report.unchanged})
        public_views_changed(PUBLIC_LIST)
    return report


# --- Disasters and openings --------------------------------------------------------------------
@transaction.atomic
def disaster_open(*, name: str, type: str, acting_user: User) -> Disaster:
    disaster = Disaster.objects.create(name=name.strip(), type=type, opened_by=acting_user)
    audit_record(actor=acting_user, action="disaster.opened", target=disaster, data={"name": name, "type": type})
    return disaster


@transaction.atomic
def disaster_close(*, disaster: Disaster, acting_user: User) -> Disaster:
    disaster = Disaster.objects.select_for_update().get(pk=disaster.pk)
    if disaster.closed_at is not None:
        raise ApiError("disaster_closed", status_code=409)
    now = timezone.now()
    for opening in disaster.openings.filter(closed_at__isnull=True).select_for_update():
        opening.closed_at, opening.closed_by = now, acting_user
        opening.save(update_fields=["closed_at", "closed_by"])
    disaster.closed_at, disaster.closed_by = now, acting_user
    disaster.save(update_fields=["closed_at", "closed_by"])
    audit_record(actor=acting_user, action="disaster.closed", target=disaster)
    public_views_changed(PUBLIC_LIST)
    return disaster


@transaction.atomic
def shelter_open(*, disaster: Disaster, shelter: Shelter, acting_user: User) -> ShelterOpening:
    if not disaster.is_open:
        raise ApiError("disaster_closed", status_code=409)
    current = ShelterOpening.objects.filter(shelter=shelter, closed_at__isnull=True).select_related("disaster").first()
    if current is not None:
        if current.disaster_id == disaster.pk:
            return current  # opening an open shelter again is a no-op
        raise ApiError("shelter_open_for_other_disaster", status_code=409, fields={"shelter": [
            f"この避難所は「{current.disaster.name}」で開設中です。 / Open for another disaster: {current.disaster.name}"]})
    try:
        with transaction.atomic():
            opening = ShelterOpening.objects.create(disaster=disaster, shelter=shelter, opened_by=acting_user)
    except IntegrityError:  # opened concurrently by someone else
        raise ApiError("shelter_open_for_other_disaster", status_code=409) from None
    audit_record(actor=acting_user, action="shelter.opened", target=shelter, data={"disaster_id": disaster.pk})
    public_views_changed(PUBLIC_LIST)
    return opening


@transaction.atomic
def shelter_close(*, disaster: Disaster, shelter: Shelter, acting_user: User) -> ShelterOpening:
    opening = (ShelterOpening.objects.select_for_update()
               .filter(disaster=disaster, shelter=shelter, closed_at__isnull=True).first())
    if opening is None:
        raise ApiError("shelter_not_open", status_code=409)
    opening.closed_at, opening.closed_by = timezone.now(), acting_user
    opening.save(update_fields=["closed_at", "closed_by"])
    audit_record(actor=acting_user, action="shelter.closed", target=shelter, data={"disaster_id": disaster.pk})
    public_views_changed(PUBLIC_LIST)
    return opening


# --- Check-in ----------------------------------------------------------------------------------
@dataclass
class Evacuee:
    """One person to check in: from a verified citizen ID QR or typed in by staff."""

    name: str
    kana: str = ""
    address: str = ""
    birth_date: date | None = None
    sex: str = "other"
    special_care: list[str] = field(default_factory=list)
    pets: int = 0
    citizen_ref: str = ""
    resident_id: int | None = None
    source: str = CheckIn.Source.MANUAL
    client_item_id: str = ""
    checked_in_at: datetime | None = None


def _normalized_name(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split())


def open_opening_for(shelter: Shelter, *, lock: bool = False) -> ShelterOpening:
    """The shelter's current opening (409 when closed); with `lock`, row-locked until the transaction
    ends (a concurrent close waits, and a lock that had to wait re-reads the row: still open?)."""
    openings = ShelterOpening.objects.filter(shelter=shelter, closed_at__isnull=True).order_by()
    opening = next(iter(openings.select_for_update() if lock else openings), None)  # at most one is open
    if opening is None:
        raise ApiError("shelter_not_open", status_code=409)
    return opening


def _present_matches(evacuees: list[Evacuee]) -> dict[int, CheckIn]:
    """For each evacuee (by index), the check-in of the same person still present in any open
    shelter: the same citizen ID, or for manual entries the same name and birth date. One query."""
    refs = {e.citizen_ref for e in evacuees if e.citizen_ref}
    births = {e.birth_date for e in evacuees if not e.citizen_ref and e.birth_date is not None}
    if not refs and not births:
        return {}
    same_person = Q()
    if refs:
        same_person |= Q(citizen_ref__in=refs)
    if births:
        same_person |= Q(birth_date__in=births, source=CheckIn.Source.MANUAL)
    present = list(CheckIn.objects.filter(same_person, checked_out_at__isnull=True, opening__closed_at__isnull=True)
                   .order_by())
    matches = {}
    for index, evacuee in enumerate(evacuees):
        for candidate in present:
            if evacuee.citizen_ref:
                same = candidate.citizen_ref == evacuee.citizen_ref
            else:
                same = (candidate.source == CheckIn.Source.MANUAL and candidate.birth_date == evacuee.birth_date
                        and evacuee.birth_date is not None
                        and _normalized_name(candidate.name) == _normalized_name(evacuee.name))
            if same:
                matches[index] = candidate
                break
    return matches


@dataclass
class CheckInResult:
    household_id: str
    check_ins: list[CheckIn]
    already_present: list[CheckIn]  # the same person was already here: not duplicated


@transaction.atomic
def shelter_check_in(*, shelter: Shelter, evacuees: list[Evacuee], acting_user: User) -> CheckInResult:
    """Checks a household in together. Someone already present in this shelter is returned, not
    added twice; someone present in another open shelter is added and flagged for staff."""
    if not evacuees:
        raise ApiError("validation_error", fields={"evacuees": ["避難者がいません。 / No evacuee given."]})
    opening = open_opening_for(shelter, lock=True)  # check-ins at one shelter are serialised
    now = timezone.now()
    household_id = None
    created: list[CheckIn] = []
    already: list[CheckIn] = []
    uploaded = {c.client_item_id: c for c in CheckIn.objects.filter(
        opening=opening, client_item_id__in=[e.client_item_id for e in evacuees if e.client_item_id])} \
        if any(e.client_item_id for e in evacuees) else {}
    present = _present_matches(evacuees)
    for index, evacuee in enumerate(evacuees):
        previous = uploaded.get(evacuee.client_item_id) if evacuee.client_item_id else None
        if previous is not None:
            already.append(previous)
            household_id = household_id or previous.household_id
            continue
        elsewhere = present.get(index)
        if elsewhere is not None and elsewhere.opening_id == opening.pk:
            already.append(elsewhere)
            household_id = household_id or elsewhere.household_id
            continue
        check_in = CheckIn(
            opening=opening, source=evacuee.source, citizen_ref=evacuee.citizen_ref, resident_id=evacuee.resident_id,
            name=evacuee.name.strip(), kana=evacuee.kana.strip(), address=evacuee.address.strip(),
            birth_date=evacuee.birth_date, sex=evacuee.sex, special_care=sorted(set(evacuee.special_care)),
            pets=evacuee.pets, checked_in_at=evacuee.checked_in_at or now, checked_in_by=acting_user,
            possible_duplicate_of=elsewhere, client_item_id=evacuee.client_item_id,
        )
        created.append(check_in)
    household_id = household_id or (created[0].household_id if created else None)
    for check_in in created:
        check_in.household_id = household_id
    CheckIn.objects.bulk_create(created)
    if created:
        audit_record(actor=acting_user, action="shelter.check_in", target=shelter,
                     data={"check_in_ids": [c.pk for c in created], "household_id": str(household_id),
                           "sources": sorted({c.source for c in created})})
        public_views_changed(PUBLIC_LIST)
        residents = {c.resident_id for c in created if c.resident_id}
        # A task only for residents with someone to tell: during a surge most evacuees have no
        # confirmed contact, and one EXISTS is far cheaper than a broker message and a worker run.
        if residents and EmergencyContact.objects.filter(user_id__in=residents, confirmed_at__isnull=False).exists():
            from .tasks import send_family_notices

            enqueue_on_commit(send_family_notices, [c.pk for c in created if c.resident_id])
    return CheckInResult(str(household_id), created, already)


@transaction.atomic
def shelter_check_out(*, shelter: Shelter, check_in_ids: list[int], acting_user: User) -> list[CheckIn]:
    opening = open_opening_for(shelter)
    check_ins = list(CheckIn.objects.select_for_update().filter(opening=opening, pk__in=check_in_ids))
    found = {c.pk for c in check_ins}
    missing = [pk for pk in check_in_ids if pk not in found]
    if missing:
        raise ApiError("not_found", status_code=404, fields={"check_in_ids": [
            f"この避難所の受付ではありません: {missing} / Not check-ins of this shelter: {missing}"]})
    now = timezone.now()
    changed = [c for c in check_ins if c.checked_out_at is None]
    for check_in in changed:
        check_in.checked_out_at = now
    CheckIn.objects.bulk_update(changed, ["checked_out_at"])
    if changed:
        audit_record(actor=acting_user, action="shelter.check_out", target=shelter,
                     data={"check_in_ids": [c.pk for c in changed]})
        public_views_changed(PUBLIC_LIST)
    return check_ins


# --- Idempotency --------------------------------------------------------------------------------
def idempotent_response(*, scope: str, key: str, payload: bytes, compute) -> tuple[int, dict]:
    """Runs `compute()` (→ (status, body)) once per (scope, key); a retry with the same key and body
    gets the stored answer, a different body under the same key is a 422."""
    if not key or len(key) > 200:
        raise ApiError("idempotency_key_required", status_code=400)
    request_hash = hashlib.sha256(payload).hexdigest()
    with transaction.atomic():
        record = IdempotencyRecord.objects.select_for_update().filter(scope=scope, key=key).first()
        if record is None:
            status, body = compute()
            try:  # no savepoint: on a conflict the whole transaction is rolled back anyway
                IdempotencyRecord.objects.create(scope=scope, key=key, request_hash=request_hash,
                                                 status_code=status, response=body)
            except IntegrityError:  # a concurrent retry won: this transaction's work is rolled back
                raise ApiError("idempotency_conflict", status_code=409) from None
            return status, body
    if record.request_hash != request_hash:
        raise ApiError("idempotency_key_reused", status_code=422)
    return record.status_code, record.response


# --- Emergency contacts -------------------------------------------------------------------------
@transaction.atomic
def emergency_contacts_set(*, user: User, contacts: list[dict]) -> list[EmergencyContact]:
    """Replaces the resident's contacts. New addresses get a confirmation link; an address already
    confirmed stays confirmed."""
    emails = [c["email"].strip().lower() for c in contacts]
    if len(set(emails)) != len(emails):
        raise ApiError("validation_error", fields={"contacts": ["同じメールアドレスが重複しています。 / Duplicate address."]})
    if len(emails) > MAX_EMERGENCY_CONTACTS:
        raise ApiError("validation_error", fields={"contacts": [
            f"連絡先は{MAX_EMERGENCY_CONTACTS}件までです。 / At most {MAX_EMERGENCY_CONTACTS} contacts."]})
    existing = {c.email: c for c in EmergencyContact.objects.filter(user=user)}
    EmergencyContact.objects.filter(user=user).exclude(email__in=emails).delete()
    result, to_confirm = [], []
    for contact, email in zip(contacts, emails):
        current = existing.get(email)
        if current is None:
            raw = secrets.token_urlsafe(24)
            current = EmergencyContact.objects.create(user=user, email=email, name=contact.get("name", "").strip(),
                                                      confirm_token_hash=hashlib.sha256(raw.encode()).hexdigest())
            to_confirm.append((current.pk, raw))
        elif current.name != contact.get("name", "").strip():
            current.name = contact.get("name", "").strip()
            current.save(update_fields=["name"])
        result.append(current)
    if to_confirm:
        from .tasks import send_contact_confirmations

        enqueue_on_commit(send_contact_confirmations, to_confirm)
    return result


@transaction.atomic
def emergency_contact_confirm(*, token: str) -> EmergencyContact:
    digest = hashlib.sha256(token.encode()).hexdigest()
    contact = EmergencyContact.objects.select_for_update().filter(confirm_token_hash=digest).first()
    if contact is None:
        raise ApiError("not_found", status_code=404)
    if contact.confirmed_at is None:
        contact.confirmed_at = timezone.now()
        contact.save(update_fields=["confirmed_at"])
    return contact


# --- CAP alerts ---------------------------------------------------------------------------------
def _districts_for(message: cap_module.CapMessage) -> list[int]:
    """Districts named in <areaDesc> or a <geocode> value; none named means the whole municipality."""
    names = set(message.area_descs) | {value for _, value in message.geocodes}
    if not names:
        return []
    tokens = {part.strip() for name in names for part in name.replace("、", ",").replace(" ", ",").split(",")}
    matched = District.objects.filter(Q(name__in=tokens) | Q(name__in=[t.removesuffix("校区") for t in tokens]))
    return sorted(matched.values_list("pk", flat=True))


@dataclass
class AlertResult:
    alert: Alert
    created: bool


@transaction.atomic
def alert_receive(*, document: bytes, acting_user: User | None) -> AlertResult:
    """Stores a CAP 1.2 message. The same identifier again changes nothing and pushes nothing;
    Update and Cancel withdraw the alerts they reference."""
    try:
        message = cap_module.parse_cap(document)
    except cap_module.CapError as exc:
        raise ApiError("invalid_cap", status_code=400, fields=exc.problems) from None
    existing = Alert.objects.filter(identifier=message.identifier).first()
    if existing is not None:
        return AlertResult(existing, False)
    referenced = list(Alert.objects.select_for_update().filter(
        identifier__in=[identifier for _, identifier, _ in message.references]))
    if message.msg_type in {"Update", "Cancel"} and not referenced:
        raise ApiError("unknown_cap_reference", status_code=400, fields={"references": [
            "参照先のアラートが見つかりません。 / The referenced alert is unknown."]})
    alert = Alert.objects.create(
        identifier=message.identifier, sender=message.sender, sent=message.sent, status=message.status,
        msg_type=message.msg_type, scope=message.scope, references=[list(r) for r in message.references],
        event=message.event, urgency=message.urgency, severity=message.severity, certainty=message.certainty,
        headline=message.headline, description=message.description, instruction=message.instruction,
        area_desc="、".join(message.area_descs), effective=message.effective, expires=message.expires,
        district_ids=_districts_for(message), is_active=message.msg_type in {"Alert", "Update"},
        raw_xml=document.decode("utf-8", errors="replace"), received_by=acting_user,
    )
    for old in referenced:
        old.is_active, old.superseded_by = False, alert
        old.save(update_fields=["is_active", "superseded_by"])
    audit_record(actor=acting_user, action="alert.received", target=alert,
                 data={"identifier": alert.identifier, "msg_type": alert.msg_type})
    public_views_changed(PUBLIC_ALERTS)
    if alert.is_active and alert.status == "Actual" and alert.scope == "Public":
        from .tasks import push_alert

        enqueue_on_commit(push_alert, alert.pk)
    return AlertResult(alert, True)
