"""Loading J-LIS certificate revocation lists and checking a certificate against them.

A CRL is accepted only when its signature verifies under a configured trust anchor with the CRL's
issuer name; an older CRL (lower CRL number or earlier thisUpdate) never replaces a newer one, so a
replayed old list cannot un-revoke a card.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import CRLEntryExtensionOID
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from citizen_id.crypto import blind_index
from superapp.api.errors import ApiError

from .models import JpkiCrl, JpkiRevokedCertificate
from .verification import TrustAnchor, reject, serial_hex, trust_anchors

BATCH = 5000


class CrlError(ValueError):
    """The file is not a CRL we can trust; the message says why (operators read it)."""


@dataclass(frozen=True)
class CrlLoadResult:
    crl: JpkiCrl
    loaded: bool  # False when this exact CRL (or a newer one) is already loaded
    message: str


def card_index(issuer_key_id: str, serial: str) -> str:
    return blind_index("jpki-card", issuer_key_id, serial)


def _parse(data: bytes) -> x509.CertificateRevocationList:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError:
        raise CrlError("not a DER or PEM X.509 CRL") from None


def _crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None


def _issuing_anchor(crl: x509.CertificateRevocationList) -> TrustAnchor:
    for anchor in trust_anchors():
        if anchor.certificate.subject == crl.issuer and crl.is_signature_valid(anchor.certificate.public_key()):
            return anchor
    raise CrlError(f"the CRL of {crl.issuer.rfc4514_string()} is not signed by any JPKI_TRUST_ANCHORS certificate")


def _revocation_time(entry: x509.RevokedCertificate) -> dt.datetime:
    try:
        return entry.extensions.get_extension_for_oid(CRLEntryExtensionOID.INVALIDITY_DATE).value.invalidity_date_utc
    except (x509.ExtensionNotFound, AttributeError):
        return entry.revocation_date_utc


@transaction.atomic
def jpki_crl_load(*, data: bytes) -> CrlLoadResult:
    """Verifies and stores a CRL, replacing the issuer's previous one in one transaction."""
    crl = _parse(data)
    anchor = _issuing_anchor(crl)
    digest = hashlib.sha256(data).hexdigest()
    number = _crl_number(crl)
    current = JpkiCrl.objects.select_for_update().filter(issuer_key_id=anchor.key_id).first()
    if current is not None:
        if current.sha256 == digest:
            return CrlLoadResult(current, False, f"already loaded: {current}")
        older = (number is not None and current.crl_number is not None and number < current.crl_number) or \
            crl.last_update_utc < current.this_update
        if older:
            raise CrlError(f"refusing an older CRL (number {number}, {crl.last_update_utc:%Y-%m-%d %H:%M}) "
                           f"over the loaded one ({current})")
    fields = dict(issuer_name=crl.issuer.rfc4514_string()[:500], crl_number=number, this_update=crl.last_update_utc,
                  next_update=crl.next_update_utc, sha256=digest, revoked_count=len(crl))
    if current is None:
        current = JpkiCrl.objects.create(issuer_key_id=anchor.key_id, **fields)
    else:
        for name, value in fields.items():
            setattr(current, name, value)
        current.save()
        JpkiRevokedCertificate.objects.filter(crl=current).delete()
    batch: list[JpkiRevokedCertificate] = []
    seen: set[str] = set()
    for entry in crl:
        serial = serial_hex(entry.serial_number)
        if serial in seen:
            continue
        seen.add(serial)
        batch.append(JpkiRevokedCertificate(crl=current, issuer_key_id=anchor.key_id, serial=serial,
                                            card_index=card_index(anchor.key_id, serial),
                                            revoked_at=_revocation_time(entry)))
        if len(batch) >= BATCH:
            JpkiRevokedCertificate.objects.bulk_create(batch)
            batch = []
    if batch:
        JpkiRevokedCertificate.objects.bulk_create(batch)
    return CrlLoadResult(current, True, f"loaded {current}: {len(seen)} revoked certificates")


def check_not_revoked(*, anchor: TrustAnchor, certificate: x509.Certificate, now: dt.datetime) -> None:
    """certificate_revoked when listed; 503 when no current CRL of the issuer is loaded (fail closed)."""
    crl = JpkiCrl.objects.filter(issuer_key_id=anchor.key_id).only("next_update").first()
    grace = dt.timedelta(hours=settings.JPKI_CRL_GRACE_HOURS)
    if crl is None or (crl.next_update is not None and now > crl.next_update + grace):
        raise ApiError("revocation_status_unavailable", status_code=503)
    if JpkiRevokedCertificate.objects.filter(issuer_key_id=anchor.key_id, serial=serial_hex(certificate)).exists():
        raise reject("certificate_revoked", "この電子証明書は失効しています", "the certificate has been revoked",
                     status_code=403)


def crl_status() -> list[dict]:
    """One line per trust anchor: is a current CRL loaded? (for `manage.py load_jpki_crl --status`)."""
    now = timezone.now()
    loaded = {crl.issuer_key_id: crl for crl in JpkiCrl.objects.all()}
    lines = []
    for anchor in trust_anchors():
        crl = loaded.get(anchor.key_id)
        lines.append({"anchor": anchor.name, "path": anchor.path, "crl": str(crl) if crl else None,
                      "stale": crl is None or (crl.next_update is not None and crl.next_update < now)})
    return lines
