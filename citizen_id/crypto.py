"""Encryption at rest for the citizen ID: AES-256-GCM envelope encryption under a rotatable keyring.

Every encrypted value has its own random data key (DEK). The DEK encrypts the value; a key-encryption
key (KEK) from the keyring wraps the DEK. A row stores the ciphertext, the wrapped DEK and the KEK's
id, so rotating keys only re-wraps DEKs (`manage.py rotate_pii_key`) and a database dump without the
keyring reveals nothing. Associated data binds each ciphertext to its purpose, schema and row: a
ciphertext copied to another row or another municipality fails to decrypt.

Keyring (environment):
    CITIZEN_ID_PII_KEYS="2026a:<base64 of 32 bytes>,2025b:<base64 of 32 bytes>"
    CITIZEN_ID_PII_ACTIVE_KEY="2026a"     (default: the first key listed)
Without CITIZEN_ID_PII_KEYS a development key is derived from SECRET_KEY (id "dev"); `manage.py check
--deploy` reports that as an error.
"""
from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NONCE_BYTES = 12
KEY_BYTES = 32
DEV_KEY_ID = "dev"
_KEY_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class DecryptionError(Exception):
    """A ciphertext failed authentication: wrong key, wrong row, or tampered data."""


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]
    active_id: str
    derived_from_secret_key: bool = False

    @property
    def active_key(self) -> bytes:
        return self.keys[self.active_id]

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise ImproperlyConfigured(
                f"citizen ID data is encrypted under key id {key_id!r}, which is not in CITIZEN_ID_PII_KEYS"
            ) from None


def _derive(secret: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=b"superapp-citizen-id", info=info).derive(
        secret.encode())


@functools.lru_cache(maxsize=8)
def _parse_keyring(raw: str, active: str, secret_key: str) -> Keyring:
    if not raw.strip():
        return Keyring({DEV_KEY_ID: _derive(secret_key, b"pii-kek-dev")}, DEV_KEY_ID, derived_from_secret_key=True)
    keys: dict[str, bytes] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID_RE.match(key_id):
            raise ImproperlyConfigured("CITIZEN_ID_PII_KEYS entries look like <id>:<base64 of 32 bytes>, "
                                       "the id made of letters, digits, - and _")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(f"CITIZEN_ID_PII_KEYS: key {key_id!r} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise ImproperlyConfigured(f"CITIZEN_ID_PII_KEYS: key {key_id!r} must be 32 bytes (AES-256)")
        if key_id in keys:
            raise ImproperlyConfigured(f"CITIZEN_ID_PII_KEYS: key id {key_id!r} is listed twice")
        keys[key_id] = key
    if not keys:
        raise ImproperlyConfigured("CITIZEN_ID_PII_KEYS is set but lists no key")
    active_id = active.strip() or next(iter(keys))
    if active_id not in keys:
        raise ImproperlyConfigured(f"CITIZEN_ID_PII_ACTIVE_KEY {active_id!r} is not in CITIZEN_ID_PII_KEYS")
    return Keyring(keys, active_id)


def keyring() -> Keyring:
    """The configured keyring; parsed once per distinct setting value (tests may override settings)."""
    return _parse_keyring(settings.CITIZEN_ID_PII_KEYS, settings.CITIZEN_ID_PII_ACTIVE_KEY, settings.SECRET_KEY)


@functools.lru_cache(maxsize=8)
def _index_key(raw: str, secret_key: str) -> bytes:
    if not raw.strip():
        return _derive(secret_key, b"blind-index-dev")
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured("CITIZEN_ID_BLIND_INDEX_KEY must be base64") from None
    if len(key) < 32:
        raise ImproperlyConfigured("CITIZEN_ID_BLIND_INDEX_KEY must be at least 32 bytes")
    return key


def blind_index(*parts: str) -> str:
    """A keyed hash for equality lookups (which card is this?) without storing the identifier.

    The key (CITIZEN_ID_BLIND_INDEX_KEY) is long-lived: changing it orphans every stored index."""
    message = "\x1f".join(parts).encode()
    key = _index_key(settings.CITIZEN_ID_BLIND_INDEX_KEY, settings.SECRET_KEY)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# --- Envelope encryption ------------------------------------------------------------------------
@dataclass(frozen=True)
class Sealed:
    ciphertext: bytes  # nonce || AES-GCM(DEK, plaintext, aad)
    wrapped_key: bytes  # nonce || AES-GCM(KEK, DEK, aad || kek id)
    key_id: str


def _wrap_aad(aad: bytes, key_id: str) -> bytes:
    return b"dek\x00" + aad + b"\x00" + key_id.encode()


def seal(plaintext: bytes, *, aad: bytes) -> Sealed:
    ring = keyring()
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)
    return Sealed(ciphertext, _wrap(data_key, aad=aad, key_id=ring.active_id, kek=ring.active_key), ring.active_id)


def _wrap(data_key: bytes, *, aad: bytes, key_id: str, kek: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, data_key, _wrap_aad(aad, key_id))


def _unwrap(wrapped_key: bytes, *, aad: bytes, key_id: str) -> bytes:
    kek = keyring().key(key_id)
    try:
        return AESGCM(kek).decrypt(bytes(wrapped_key[:NONCE_BYTES]), bytes(wrapped_key[NONCE_BYTES:]),
                                   _wrap_aad(aad, key_id))
    except Exception as exc:  # InvalidTag, or a truncated value
        raise DecryptionError("the data key does not unwrap under this key id and associated data") from exc


def open_sealed(*, ciphertext: bytes, wrapped_key: bytes, key_id: str, aad: bytes) -> bytes:
    data_key = _unwrap(wrapped_key, aad=aad, key_id=key_id)
    ciphertext = bytes(ciphertext)
    try:
        return AESGCM(data_key).decrypt(ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], aad)
    except Exception as exc:
        raise DecryptionError("the ciphertext does not decrypt for this row") from exc


def rewrap(*, wrapped_key: bytes, key_id: str, aad: bytes) -> tuple[bytes, str]:
    """The same data key wrapped under the active KEK: (wrapped key, active key id)."""
    ring = keyring()
    data_key = _unwrap(wrapped_key, aad=aad, key_id=key_id)
    return _wrap(data_key, aad=aad, key_id=ring.active_id, kek=ring.active_key), ring.active_id
