"""The municipality's Ed25519 QR signing keys: created at first use, private halves sealed at rest,
public halves published, rotated with `manage.py rotate_qr_signing_key`.

Keys are cached per process for KEY_CACHE_SECONDS so a scan does not query them; a rotation or
revocation reaches other processes within that time.
"""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from . import crypto
from .models import QrSigningKey

KEY_CACHE_SECONDS = 60
_lock = threading.Lock()
_signing_cache: dict[str, tuple[float, SigningKey]] = {}
_verify_cache: dict[tuple[str, str], tuple[float, Ed25519PublicKey | None]] = {}


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey


def _aad(kid: str) -> bytes:
    return b"superapp/citizen_id/qr-key/v1\x00" + connection.schema_name.encode() + b"\x00" + kid.encode()


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _create_current() -> QrSigningKey:
    while True:
        private_key = Ed25519PrivateKey.generate()
        public = _raw_public(private_key.public_key())
        kid = hashlib.sha256(public).hexdigest()[:8]
        if not QrSigningKey.objects.filter(kid=kid).exists():
            break
    raw_private = private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                            serialization.NoEncryption())
    sealed = crypto.seal(raw_private, aad=_aad(kid))
    return QrSigningKey.objects.create(kid=kid, public_key=public, private_ciphertext=sealed.ciphertext,
                                       private_wrapped_key=sealed.wrapped_key, private_key_id=sealed.key_id,
                                       status=QrSigningKey.Status.CURRENT)


def _unseal(row: QrSigningKey) -> Ed25519PrivateKey:
    raw = crypto.open_sealed(ciphertext=row.private_ciphertext, wrapped_key=row.private_wrapped_key,
                             key_id=row.private_key_id, aad=_aad(row.kid))
    return Ed25519PrivateKey.from_private_bytes(raw)


def current_key_row() -> QrSigningKey:
    """The current key, created when the municipality has none yet (first use)."""
    row = QrSigningKey.objects.filter(status=QrSigningKey.Status.CURRENT).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return _create_current()
    except IntegrityError:  # another process created it first
        return QrSigningKey.objects.get(status=QrSigningKey.Status.CURRENT)


def signing_key() -> SigningKey:
    schema = connection.schema_name
    now = time.monotonic()
    cached = _signing_cache.get(schema)
    if cached is not None and cached[0] > now:
        return cached[1]
    row = current_key_row()
    key = SigningKey(row.kid, _unseal(row))
    with _lock:
        _signing_cache[schema] = (now + KEY_CACHE_SECONDS, key)
        _verify_cache[(schema, row.kid)] = (now + KEY_CACHE_SECONDS, key.private_key.public_key())
    return key


def signing_key_by_kid(kid: str) -> SigningKey | None:
    """A key that is not revoked, to re-render a card QR exactly as it was signed."""
    row = QrSigningKey.objects.exclude(status=QrSigningKey.Status.REVOKED).filter(kid=kid).first()
    return SigningKey(row.kid, _unseal(row)) if row is not None else None


def verification_key(kid: str) -> Ed25519PublicKey | None:
    """The public key for `kid` unless it is unknown or revoked."""
    cache_key = (connection.schema_name, kid)
    now = time.monotonic()
    cached = _verify_cache.get(cache_key)
    if cached is not None and cached[0] > now:
        return cached[1]
    row = (QrSigningKey.objects.exclude(status=QrSigningKey.Status.REVOKED).filter(kid=kid)
           .only("public_key").first())
    public_key = Ed25519PublicKey.from_public_bytes(bytes(row.public_key)) if row is not None else None
    with _lock:
        _verify_cache[cache_key] = (now + KEY_CACHE_SECONDS, public_key)
    return public_key


def published_keys() -> list[QrSigningKey]:
    current_key_row()
    return list(QrSigningKey.objects.exclude(status=QrSigningKey.Status.REVOKED).defer(
        "private_ciphertext", "private_wrapped_key"))


def clear_caches() -> None:
    with _lock:
        _signing_cache.clear()
        _verify_cache.clear()


@transaction.atomic
def qr_signing_key_rotate() -> QrSigningKey:
    """A new current key; the previous one keeps verifying (card QRs it signed stay valid)."""
    now = timezone.now()
    QrSigningKey.objects.select_for_update().filter(status=QrSigningKey.Status.CURRENT).update(
        status=QrSigningKey.Status.RETIRED, retired_at=now)
    row = _create_current()
    transaction.on_commit(clear_caches)
    return row


@transaction.atomic
def qr_signing_key_revoke(*, kid: str) -> int:
    """For a compromised key: tokens it signed stop verifying at once in this process, within
    KEY_CACHE_SECONDS elsewhere. Revoking the current key makes the next use create a new one."""
    count = QrSigningKey.objects.filter(kid=kid).exclude(status=QrSigningKey.Status.REVOKED).update(
        status=QrSigningKey.Status.REVOKED, revoked_at=timezone.now())
    transaction.on_commit(clear_caches)
    return count
