"""Launch tokens for external mini-apps (SSO) and the municipality's signing keys.

A launch token is a JWT (RFC 7519) signed with ES256 (ECDSA P-256, RFC 7518), the algorithm every
JOSE library supports. Each municipality has its own keys, in its own schema; the public halves
are published as a JWKS at /api/v1/miniapps/keys/, each key named by its RFC 7638 thumbprint
(`kid`), so a mini-app verifies tokens without calling us. Claims:

    iss  the municipality's API base URL, e.g. https://saga.example.jp/api/v1/
         (its JWKS is at <iss>miniapps/keys/)
    aud  the mini-app id          sub  a pairwise id: stable for this resident and mini-app only
    iat, nbf, exp (iat + MINIAPPS_LAUNCH_TOKEN_TTL_SECONDS, 300 by default)
    jti  unique id: a verifier remembers it until exp and refuses a second use (replay)
    municipality  全国地方公共団体コード of the issuer
    + only the attributes the resident consented to: nickname, district {id, name}, age_band
      ("30-39", "80+"), verified_resident (bool)

Private keys are stored as PKCS#8 PEM encrypted with MINIAPPS_SIGNING_KEY_PASSPHRASE. Rotation
makes a new current key and keeps the old one published until purged
(MINIAPPS_SIGNING_KEY_RETIRED_KEEP_DAYS), so tokens signed just before a rotation still verify.
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from jwt.algorithms import ECAlgorithm

from .models import SigningKey

log = structlog.get_logger(__name__)

ALGORITHM = "ES256"

_key_cache: dict[str, ec.EllipticCurvePrivateKey] = {}
_key_cache_lock = threading.Lock()


def _passphrase() -> bytes:
    return settings.MINIAPPS_SIGNING_KEY_PASSPHRASE.encode()


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638 thumbprint of an EC public JWK (the required members, sorted, no whitespace)."""
    canonical = json.dumps({name: jwk[name] for name in ("crv", "kty", "x", "y")}, separators=(",", ":"),
                           sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _new_key() -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    public_jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    kid = jwk_thumbprint(public_jwk)
    public_jwk.update(kid=kid, use="sig", alg=ALGORITHM)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(_passphrase())).decode()
    key = SigningKey.objects.create(kid=kid, algorithm=ALGORITHM, private_key_pem=pem, public_jwk=public_jwk,
                                    is_current=True)
    with _key_cache_lock:
        _key_cache[kid] = private
    return key


def signing_key_current() -> SigningKey:
    """The municipality's current key, made on first use (each schema gets its own, never a copy
    of the template's)."""
    key = SigningKey.objects.filter(is_current=True).first()
    if key is not None:
        return key
    try:
        with transaction.atomic():
            return _new_key()
    except IntegrityError:  # a concurrent request made it first
        return SigningKey.objects.get(is_current=True)


@transaction.atomic
def signing_key_rotate() -> SigningKey:
    """Retires the current key (still published until purged) and makes a new current one."""
    now = timezone.now()
    retired = SigningKey.objects.select_for_update().filter(is_current=True).update(is_current=False, retired_at=now)
    key = _new_key()
    log.info("miniapps_signing_key_rotated", kid=key.kid, retired=retired)
    return key


def signing_keys_purge_retired(*, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=settings.MINIAPPS_SIGNING_KEY_RETIRED_KEEP_DAYS)
    deleted, _ = SigningKey.objects.filter(is_current=False, retired_at__lt=cutoff).delete()
    return deleted


def signing_keys_maintain(*, now: datetime | None = None) -> dict:
    """Periodic: rotate a current key older than MINIAPPS_SIGNING_KEY_ROTATION_DAYS, purge old retired ones."""
    now = now or timezone.now()
    current = SigningKey.objects.filter(is_current=True).first()
    rotated = False
    if current is not None and now - current.created_at > timedelta(days=settings.MINIAPPS_SIGNING_KEY_ROTATION_DAYS):
        signing_key_rotate()
        rotated = True
    return {"rotated": rotated, "purged": signing_keys_purge_retired(now=now)}


def _private_key(key: SigningKey) -> ec.EllipticCurvePrivateKey:
    cached = _key_cache.get(key.kid)
    if cached is not None:
        return cached
    private = serialization.load_pem_private_key(key.private_key_pem.encode(), _passphrase())
    with _key_cache_lock:
        _key_cache[key.kid] = private
    return private


def _usable_current_key() -> tuple[SigningKey, ec.EllipticCurvePrivateKey]:
    key = signing_key_current()
    try:
        return key, _private_key(key)
    except (ValueError, TypeError):
        # The passphrase changed (e.g. SECRET_KEY rotated without MINIAPPS_SIGNING_KEY_PASSPHRASE set):
        # the key can no longer sign. Tokens live minutes, so replacing it loses nothing.
        log.error("miniapps_signing_key_unreadable", kid=key.kid)
        key = signing_key_rotate()
        return key, _private_key(key)


def jwks() -> dict:
    """The public keys a mini-app verifies launch tokens with (current and not yet purged)."""
    signing_key_current()
    return {"keys": [key.public_jwk for key in SigningKey.objects.order_by("-is_current", "-created_at")]}


@dataclass(frozen=True)
class LaunchToken:
    token: str
    jti: str
    issued_at: datetime
    expires_at: datetime


def launch_token_issue(*, issuer: str, audience: str, subject: str, municipality_code: str,
                       attributes: dict[str, object], now: datetime | None = None) -> LaunchToken:
    key, private = _usable_current_key()
    issued_at = (now or timezone.now()).replace(microsecond=0)
    expires_at = issued_at + timedelta(seconds=settings.MINIAPPS_LAUNCH_TOKEN_TTL_SECONDS)
    jti = uuid.uuid4().hex
    claims = {
        **attributes,
        "iss": issuer, "aud": audience, "sub": subject,
        "iat": int(issued_at.timestamp()), "nbf": int(issued_at.timestamp()), "exp": int(expires_at.timestamp()),
        "jti": jti, "municipality": municipality_code,
    }
    token = jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"})
    return LaunchToken(token=token, jti=jti, issued_at=issued_at, expires_at=expires_at)
