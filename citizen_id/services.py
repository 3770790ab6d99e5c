"""Writes for the digital citizen ID: challenges, enrolment, revocation, QR tokens and scans, card
QRs, key rotation and maintenance. Every read of 基本4情報 writes an audit row."""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import secrets
import time
from dataclasses import dataclass

from cryptography import x509
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from superapp.api.errors import ApiError
from tenants.models import Municipality

from . import crypto, qr, signing
from .jpki.models import JpkiRevokedCertificate
from .jpki.profile import BasicInfo, ProfileError, address_in, read_basic_info
from .jpki.services import card_index, check_not_revoked
from .jpki.verification import TrustAnchor, load_certificate, reject, serial_hex, verify_certificate, verify_signature
from .models import CardQr, CitizenCard, CitizenId, EnrollmentChallenge, QrSigningKey

CHALLENGE_BYTES = 32
REFERENCE_BYTES = 10
CLOCK_SKEW_SECONDS = 5
PURPOSES = ("shelter", "event", "counter")
PURPOSE_LABELS = {"shelter": ("避難所", "shelter"), "event": ("イベント", "event"), "counter": ("窓口", "counter")}


def current_municipality() -> Municipality:
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Municipality):
        return tenant
    return Municipality.objects.get(schema_name=connection.schema_name)


def _pii_aad(reference: str) -> bytes:
    return b"superapp/citizen_id/pii/v1\x00" + connection.schema_name.encode() + b"\x00" + reference.encode()


def _seal_info(citizen: CitizenId, info: BasicInfo) -> None:
    sealed = crypto.seal(json.dumps(info.to_json(), ensure_ascii=False).encode(), aad=_pii_aad(citizen.reference))
    citizen.pii_ciphertext, citizen.pii_wrapped_key, citizen.pii_key_id = sealed.ciphertext, sealed.wrapped_key, sealed.key_id


def _open_info(citizen: CitizenId) -> BasicInfo:
    plaintext = crypto.open_sealed(ciphertext=citizen.pii_ciphertext, wrapped_key=citizen.pii_wrapped_key,
                                   key_id=citizen.pii_key_id, aad=_pii_aad(citizen.reference))
    return BasicInfo.from_json(json.loads(plaintext))


def _wipe(citizen: CitizenId) -> None:
    citizen.pii_ciphertext, citizen.pii_wrapped_key, citizen.pii_key_id = b"", b"", ""
    citizen.card_index = citizen.card_issuer_key_id = ""
    citizen.card_not_after = None


def _new_reference() -> str:
    while True:
        reference = qr.reference_from_bytes(secrets.token_bytes(REFERENCE_BYTES))
        if not CitizenId.objects.filter(reference=reference).exists():
            return reference


# --- Enrolment ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IssuedChallenge:
    nonce: str
    expires_at: dt.datetime


def _nonce_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def enrollment_challenge_issue(*, user: User) -> IssuedChallenge:
    raw = secrets.token_bytes(CHALLENGE_BYTES)
    expires_at = timezone.now() + dt.timedelta(seconds=settings.CITIZEN_ID_CHALLENGE_TTL_SECONDS)
    EnrollmentChallenge.objects.create(nonce_hash=_nonce_hash(raw), user=user, expires_at=expires_at)
    return IssuedChallenge(base64.b64encode(raw).decode("ascii"), expires_at)


def _consume_challenge(*, user: User, nonce: str) -> bytes:
    """Deletes the challenge in its own statement (committed before any verification runs), so a
    nonce is spent by the first attempt whatever its outcome."""
    try:
        raw = base64.b64decode(nonce.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != CHALLENGE_BYTES:
        raise reject("nonce_invalid", "チャレンジの形式が不正です", "the nonce is not a challenge", field="nonce")
    with connection.cursor() as cursor:
        # One statement: of two concurrent attempts with the same nonce, exactly one deletes the row.
        cursor.execute(f'DELETE FROM "{EnrollmentChallenge._meta.db_table}" '
                       "WHERE nonce_hash = %s AND user_id = %s AND expires_at > %s RETURNING id",
                       [_nonce_hash(raw), user.pk, timezone.now()])
        spent = cursor.fetchone()
    if spent is None:
        raise reject("nonce_invalid", "チャレンジが無効です（期限切れ・使用済み・別の端末のもの）",
                     "the nonce is unknown, expired, already used or another resident's", field="nonce")
    return raw


def _residence_prefixes(municipality: Municipality) -> list[str]:
    configured = municipality.setting("citizen_id_address_prefixes")
    if configured:
        return list(configured)
    if not municipality.prefecture or not municipality.name:
        raise ApiError("service_unavailable", status_code=503, message="自治体の所在地（都道府県）が未設定です。",
                       message_en="The municipality's prefecture is not configured.")
    return [municipality.prefecture + municipality.name]


@dataclass(frozen=True)
class VerifiedCard:
    certificate: x509.Certificate
    anchor: TrustAnchor
    info: BasicInfo


def _verify_card(*, nonce: bytes, certificate_b64: str, signature_b64: str) -> VerifiedCard:
    now = timezone.now()
    certificate = load_certificate(certificate_b64)
    verify_signature(certificate, message=nonce, signature_b64=signature_b64)
    anchor = verify_certificate(certificate, now=now)
    check_not_revoked(anchor=anchor, certificate=certificate, now=now)
    try:
        info = read_basic_info(certificate, today=timezone.localdate())
    except ProfileError as exc:
        raise reject("certificate_malformed", "証明書から基本4情報を読み取れません", str(exc)) from None
    municipality = current_municipality()
    if not address_in(info, _residence_prefixes(municipality)):
        raise reject("not_resident", f"住所が{municipality.name}ではありません",
                     f"the address is not in {municipality.name_en or municipality.name}", status_code=403)
    return VerifiedCard(certificate, anchor, info)


@dataclass(frozen=True)
class EnrollResult:
    citizen: CitizenId
    info: BasicInfo
    action: str  # issued | renewed | reverified | transferred


def citizen_id_enroll(*, user: User, certificate: str, signature: str, nonce: str,
                      client_ip: str | None = None) -> EnrollResult:
    """本人確認: verifies the card's signature over our challenge and its certificate, then issues
    the citizen ID (or keeps the same one for a renewed card or a new phone)."""
    try:
        raw_nonce = _consume_challenge(user=user, nonce=nonce)
        card = _verify_card(nonce=raw_nonce, certificate_b64=certificate, signature_b64=signature)
        return _bind_card(user=user, card=card, client_ip=client_ip)
    except ApiError as exc:
        audit_record(actor=user, action="citizen_id.enroll_refused", data={"code": exc.code}, ip_address=client_ip)
        raise


@transaction.atomic
def _bind_card(*, user: User, card: VerifiedCard, client_ip: str | None) -> EnrollResult:
    now = timezone.now()
    index = card_index(card.anchor.key_id, serial_hex(card.certificate))
    bound = CitizenCard.objects.select_for_update().select_related("citizen").filter(card_index=index).first()
    own = CitizenId.objects.select_for_update().filter(user=user).exclude(status=CitizenId.Status.REVOKED).first()
    if bound is not None:
        citizen = bound.citizen
        if citizen.user_id == user.pk:
            action = "reverified"
        elif own is not None:
            raise ApiError("citizen_id_conflict", status_code=409)
        else:
            action = "transferred"  # the same card on a new phone: the citizen ID moves with it
            previous_user_id = citizen.user_id
            citizen.user = user
    elif own is not None:
        # A card this account has not used: the same person's renewed certificate keeps the citizen
        # ID; someone else's card (another family member on a shared phone) does not take it over.
        if _open_info(own).birth_date != card.info.birth_date:
            raise ApiError("citizen_id_conflict", status_code=409)
        citizen, action = own, "renewed"
    else:
        citizen, action = CitizenId(reference=_new_reference(), user=user), "issued"
    if citizen.status != CitizenId.Status.ACTIVE:
        citizen.status_changed_at = now
    citizen.status, citizen.status_reason = CitizenId.Status.ACTIVE, ""
    citizen.card_index, citizen.card_issuer_key_id = index, card.anchor.key_id
    citizen.card_not_after = card.certificate.not_valid_after_utc
    citizen.verified_at = now
    _seal_info(citizen, card.info)
    citizen.save()
    CitizenCard.objects.update_or_create(card_index=index, defaults={
        "citizen": citizen, "issuer_key_id": card.anchor.key_id, "not_after": card.certificate.not_valid_after_utc})
    data = {"reference": citizen.reference, "issuer": card.anchor.name[:200]}
    if action == "transferred":
        data["previous_user_id"] = previous_user_id
    audit_record(actor=user, action=f"citizen_id.{action}", target=citizen, data=data, ip_address=client_ip)
    return EnrollResult(citizen, card.info, action)


# --- The resident's own citizen ID --------------------------------------------------------------------
def citizen_id_read_own(*, citizen: CitizenId, user: User, client_ip: str | None = None) -> BasicInfo | None:
    """The resident's own 基本4情報 (audited like any other read); None once wiped."""
    if not citizen.pii_ciphertext:
        return None
    info = _open_info(citizen)
    audit_record(actor=user, action="citizen_id.pii_read", target=citizen,
                 data={"purpose": "self", "reference": citizen.reference}, ip_address=client_ip)
    return info


@transaction.atomic
def citizen_id_revoke(*, citizen: CitizenId, acting_user: User | None, reason: str,
                      client_ip: str | None = None) -> CitizenId:
    """Final: the 基本4情報 and card bindings are erased, card QRs revoked; enrolling again issues a
    new citizen ID."""
    now = timezone.now()
    if citizen.status == CitizenId.Status.REVOKED:
        return citizen
    citizen.status, citizen.status_reason, citizen.status_changed_at, citizen.revoked_at = (
        CitizenId.Status.REVOKED, reason[:32], now, now)
    _wipe(citizen)
    citizen.save()
    CitizenCard.objects.filter(citizen=citizen).delete()
    CardQr.objects.filter(citizen=citizen, revoked_at__isnull=True).update(revoked_at=now, revoked_by=acting_user)
    audit_record(actor=acting_user, action="citizen_id.revoked", target=citizen,
                 data={"reference": citizen.reference, "reason": reason[:32]}, ip_address=client_ip)
    return citizen


# --- QR tokens --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IssuedQr:
    token: str
    expires_at: dt.datetime
    reference: str


def citizen_qr_issue(*, citizen: CitizenId) -> IssuedQr:
    """A fresh app QR token (about 60 s). Holds no PII, so issuing it is not audited."""
    if citizen.status != CitizenId.Status.ACTIVE:
        raise ApiError("citizen_id_suspended", status_code=409)
    key = signing.signing_key()
    iat = int(time.time())
    exp = iat + settings.CITIZEN_ID_QR_TTL_SECONDS
    claims = qr.QrClaims(prefix=qr.APP_PREFIX, kid=key.kid, municipality_code=current_municipality().code,
                         reference=citizen.reference, iat=iat, exp=exp, nonce=secrets.token_hex(8))
    return IssuedQr(qr.encode(claims, key.private_key), dt.datetime.fromtimestamp(exp, dt.timezone.utc),
                    citizen.reference)


@dataclass(frozen=True)
class ScanResult:
    citizen: CitizenId
    info: BasicInfo
    claims: qr.QrClaims
    purpose: str

    @property
    def via(self) -> str:
        return "card" if self.claims.is_card else "app"

    @property
    def token_expires_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.claims.exp, dt.timezone.utc)


def _qr_error(code: str, ja: str, en: str, status_code: int = 400) -> ApiError:
    return ApiError(code, status_code=status_code, fields={"token": [f"{ja} / {en}"]})


def citizen_qr_verify(*, token: str, purpose: str, staff: User, client_ip: str | None = None,
                      scanned_at: dt.datetime | None = None) -> ScanResult:
    """Staff scan: signature, municipality, expiry, single use (app QRs), revocation; then the
    基本4情報 and an audit row. Two queries when the key is cached: the lookup and the audit row.

    `scanned_at` is for a device that verified the QR offline and uploads the scan later: the QR
    must have been valid at that moment, at most CITIZEN_ID_OFFLINE_UPLOAD_HOURS ago."""
    try:
        parsed = qr.parse(token)
    except qr.TokenFormatError:
        raise _qr_error("qr_invalid", "市民証のQRコードではありません", "not a citizen-ID QR code") from None
    claims = parsed.claims
    if claims.municipality_code != current_municipality().code:
        raise _qr_error("qr_wrong_municipality", "他の自治体の市民証です", "this QR belongs to another municipality")
    public_key = signing.verification_key(claims.kid)
    if public_key is None or not parsed.verify(public_key):
        raise _qr_error("qr_invalid", "署名を検証できません", "the signature does not verify")
    now = int(time.time())
    at = now
    if scanned_at is not None:
        at = int(scanned_at.timestamp())
        if at > now + CLOCK_SKEW_SECONDS or now - at > settings.CITIZEN_ID_OFFLINE_UPLOAD_HOURS * 3600:
            raise _qr_error("qr_expired", "読み取り日時が未来か、オフライン受付の送信期限を過ぎています",
                            "the scan time is in the future or too long ago for an offline upload")
    if claims.iat > at + CLOCK_SKEW_SECONDS or claims.exp <= claims.iat or (
            not claims.is_card and claims.exp - claims.iat > settings.CITIZEN_ID_QR_TTL_SECONDS):
        raise _qr_error("qr_invalid", "QRコードの時刻が不正です", "the QR's times are inconsistent")
    if claims.exp <= at:
        raise _qr_error("qr_expired", "QRコードの有効期限が切れています。新しいQRコードを表示してもらってください",
                        "the QR has expired; ask for a fresh one")
    if claims.is_card:
        card = CardQr.objects.select_related("citizen").filter(serial=claims.nonce).first()
        if card is None or card.citizen.reference != claims.reference:
            raise _qr_error("qr_invalid", "発行記録のないカードQRです", "no such card QR was issued")
        if card.revoked_at is not None:
            raise _qr_error("qr_revoked", "このカードQRは失効しています", "this card QR has been revoked", 410)
        citizen = card.citizen
    else:
        # Remember the nonce for as long as the QR could still be presented, offline uploads included.
        remember = max(claims.exp - now, 0) + CLOCK_SKEW_SECONDS + (
            settings.CITIZEN_ID_OFFLINE_UPLOAD_HOURS * 3600 if scanned_at is not None else 0)
        if not cache.add(f"citizen-id:qr-used:{claims.nonce}", 1, timeout=remember):
            raise _qr_error("qr_replayed", "このQRコードは読み取り済みです。新しいQRコードを表示してもらってください",
                            "this QR was already scanned; ask for a fresh one", 409)
        citizen = next(iter(CitizenId.objects.filter(reference=claims.reference)[:1]), None)  # unique: no ORDER BY
    if citizen is None or citizen.status != CitizenId.Status.ACTIVE or (
            citizen.card_not_after is not None and citizen.card_not_after <= timezone.now()):
        raise _qr_error("citizen_id_revoked", "この市民証は失効しているか、本人確認のやり直しが必要です",
                        "this citizen ID is revoked or needs re-verification", 410)
    info = _open_info(citizen)
    audit_record(actor=staff, action="citizen_id.scanned", target=citizen,
                 data={"purpose": purpose, "via": "card" if claims.is_card else "app", "reference": citizen.reference,
                       "nonce": claims.nonce}, ip_address=client_ip)
    return ScanResult(citizen, info, claims, purpose)


# --- Printed card QRs -----------------------------------------------------------------------------
@dataclass(frozen=True)
class IssuedCardQr:
    card: CardQr
    token: str


def _card_claims(card: CardQr, kid: str, reference: str) -> qr.QrClaims:
    return qr.QrClaims(prefix=qr.CARD_PREFIX, kid=kid, municipality_code=current_municipality().code,
                       reference=reference, iat=int(card.issued_at.timestamp()), exp=int(card.expires_at.timestamp()),
                       nonce=card.serial)


@transaction.atomic
def card_qr_issue(*, citizen: CitizenId, acting_user: User, client_ip: str | None = None) -> IssuedCardQr:
    if citizen.status != CitizenId.Status.ACTIVE:
        raise ApiError("citizen_id_revoked", status_code=410)
    days = current_municipality().setting("citizen_id_card_qr_days") or settings.CITIZEN_ID_CARD_QR_DAYS
    key = signing.signing_key()
    issued_at = timezone.now().replace(microsecond=0)
    card = CardQr.objects.create(citizen=citizen, serial=secrets.token_hex(8), kid=key.kid, issued_at=issued_at,
                                 expires_at=issued_at + dt.timedelta(days=int(days)), issued_by=acting_user)
    audit_record(actor=acting_user, action="citizen_id.card_qr_issued", target=citizen,
                 data={"reference": citizen.reference, "card_qr": card.pk, "expires_at": card.expires_at.isoformat()},
                 ip_address=client_ip)
    return IssuedCardQr(card, qr.encode(_card_claims(card, key.kid, citizen.reference), key.private_key))


def card_qr_token(*, card: CardQr) -> str:
    """The card's token again (for reprinting): Ed25519 is deterministic, so it is the same string."""
    key = signing.signing_key_by_kid(card.kid)
    if card.revoked_at is not None or key is None or card.citizen.status != CitizenId.Status.ACTIVE:
        raise ApiError("qr_revoked", status_code=410)
    return qr.encode(_card_claims(card, key.kid, card.citizen.reference), key.private_key)


@transaction.atomic
def card_qr_revoke(*, card: CardQr, acting_user: User, client_ip: str | None = None) -> CardQr:
    if card.revoked_at is None:
        card.revoked_at, card.revoked_by = timezone.now(), acting_user
        card.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(actor=acting_user, action="citizen_id.card_qr_revoked", target=card.citizen,
                     data={"reference": card.citizen.reference, "card_qr": card.pk}, ip_address=client_ip)
    return card


# --- Key rotation and maintenance -------------------------------------------------------------------
def pii_rewrap_batch(*, batch_size: int = 500) -> int:
    """Re-wraps up to `batch_size` data keys not under the active key; 0 when done. Each batch
    commits on its own, so an interrupted rotation resumes where it stopped."""
    active = crypto.keyring().active_id
    done = 0
    with transaction.atomic():
        rows = list(CitizenId.objects.select_for_update(skip_locked=True)
                    .exclude(pii_key_id__in=["", active]).order_by("pk")
                    .only("pk", "reference", "pii_wrapped_key", "pii_key_id")[:batch_size])
        for row in rows:
            row.pii_wrapped_key, row.pii_key_id = crypto.rewrap(
                wrapped_key=row.pii_wrapped_key, key_id=row.pii_key_id, aad=_pii_aad(row.reference))
        CitizenId.objects.bulk_update(rows, ["pii_wrapped_key", "pii_key_id"])
        done += len(rows)
        keys = list(QrSigningKey.objects.select_for_update(skip_locked=True).exclude(private_key_id=active)
                    .order_by("pk")[:batch_size])
        for key in keys:
            key.private_wrapped_key, key.private_key_id = crypto.rewrap(
                wrapped_key=key.private_wrapped_key, key_id=key.private_key_id, aad=signing._aad(key.kid))
        QrSigningKey.objects.bulk_update(keys, ["private_wrapped_key", "private_key_id"])
        done += len(keys)
    return done


def pii_keys_in_use() -> dict[str, int]:
    counts: dict[str, int] = {}
    for key_id in CitizenId.objects.exclude(pii_key_id="").values_list("pii_key_id", flat=True):
        counts[key_id] = counts.get(key_id, 0) + 1
    for key_id in QrSigningKey.objects.values_list("private_key_id", flat=True):
        counts[key_id] = counts.get(key_id, 0) + 1
    return counts


@transaction.atomic
def citizen_ids_maintain() -> dict[str, int]:
    """Daily, per municipality: drop expired challenges; suspend citizen IDs whose card was revoked
    (on a loaded CRL) or expired; erase IDs suspended for longer than the retention period."""
    now = timezone.now()
    challenges, _ = EnrollmentChallenge.objects.filter(expires_at__lte=now).delete()
    live = CitizenId.objects.filter(status=CitizenId.Status.ACTIVE)
    revoked_cards = JpkiRevokedCertificate.objects.values("card_index")
    suspended = {"card_revoked": list(live.filter(card_index__in=revoked_cards)),
                 "card_expired": list(live.filter(card_not_after__lte=now).exclude(card_index__in=revoked_cards))}
    for reason, citizens in suspended.items():
        for citizen in citizens:
            CitizenId.objects.filter(pk=citizen.pk).update(status=CitizenId.Status.SUSPENDED, status_reason=reason,
                                                           status_changed_at=now)
            audit_record(actor=None, action="citizen_id.suspended", target=citizen,
                         data={"reference": citizen.reference, "reason": reason})
    cutoff = now - dt.timedelta(days=settings.CITIZEN_ID_SUSPENDED_RETENTION_DAYS)
    erased = 0
    for citizen in CitizenId.objects.filter(status=CitizenId.Status.SUSPENDED).filter(
            Q(status_changed_at__lte=cutoff) | Q(status_changed_at__isnull=True)):
        citizen_id_revoke(citizen=citizen, acting_user=None, reason="suspension_expired")
        erased += 1
    return {"challenges_purged": challenges, "suspended_card_revoked": len(suspended["card_revoked"]),
            "suspended_card_expired": len(suspended["card_expired"]), "erased": erased}
