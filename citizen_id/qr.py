"""The citizen-ID QR token (市民証二次元コード): compact, signed, no PII.

    token   = PREFIX ":" BASE32(payload || signature)      RFC 4648 base32, upper case, no padding
    PREFIX  = "CI1"  the app's rotating QR (about 60 s)
            | "CC1"  a printed card QR (long-lived, revocable one by one)
    payload = kid        4 bytes   signing key id (hex in GET /api/v1/citizen-id/keys/)
              muni_code  3 bytes   全国地方公共団体コード as an unsigned integer (e.g. 412015)
              reference 10 bytes   the citizen-ID reference (base32 of these bytes is the printed one)
              iat        4 bytes   issued at, Unix seconds
              exp        4 bytes   expires at, Unix seconds
              nonce      8 bytes   random; single use for app QRs, the card's serial for card QRs
              (unsigned integers big-endian; 33 bytes)
    signature = Ed25519 over ASCII(PREFIX ":") || payload, 64 bytes

160 characters, all in the QR alphanumeric set, fit a version 9 QR at error correction M. A staff
tablet verifies offline with the published public key: decode, check the prefix and municipality
code, pick the key by kid, verify the signature, compare exp with the clock.
"""
from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

APP_PREFIX = "CI1"
CARD_PREFIX = "CC1"
PREFIXES = (APP_PREFIX, CARD_PREFIX)
_PAYLOAD = struct.Struct(">4s3s10sII8s")
PAYLOAD_BYTES = _PAYLOAD.size
SIGNATURE_BYTES = 64
BODY_BYTES = PAYLOAD_BYTES + SIGNATURE_BYTES
MAX_TOKEN_CHARS = 200


class TokenFormatError(ValueError):
    pass


@dataclass(frozen=True)
class QrClaims:
    prefix: str
    kid: str  # 8 hex characters
    municipality_code: str  # 6 digits
    reference: str  # 16 base32 characters
    iat: int
    exp: int
    nonce: str  # 16 hex characters

    @property
    def is_card(self) -> bool:
        return self.prefix == CARD_PREFIX


def reference_to_bytes(reference: str) -> bytes:
    raw = base64.b32decode(reference)
    if len(raw) != 10:
        raise ValueError("a citizen-ID reference is 10 bytes")
    return raw


def reference_from_bytes(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii")


def _signed_message(prefix: str, payload: bytes) -> bytes:
    return prefix.encode("ascii") + b":" + payload


def encode(claims: QrClaims, private_key: Ed25519PrivateKey) -> str:
    code = int(claims.municipality_code)
    payload = _PAYLOAD.pack(bytes.fromhex(claims.kid), code.to_bytes(3, "big"), reference_to_bytes(claims.reference),
                            claims.iat, claims.exp, bytes.fromhex(claims.nonce))
    signature = private_key.sign(_signed_message(claims.prefix, payload))
    return f"{claims.prefix}:{base64.b32encode(payload + signature).decode('ascii').rstrip('=')}"


@dataclass(frozen=True)
class ParsedToken:
    claims: QrClaims
    message: bytes
    signature: bytes

    def verify(self, public_key: Ed25519PublicKey) -> bool:
        try:
            public_key.verify(self.signature, self.message)
        except InvalidSignature:
            return False
        return True


def parse(token: str) -> ParsedToken:
    """Structure only (no signature check): raises TokenFormatError for anything malformed."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise TokenFormatError("not a citizen-ID QR token")
    prefix, sep, encoded = token.strip().partition(":")
    if not sep or prefix not in PREFIXES or not encoded.isascii() or not encoded.isalnum() or not encoded.isupper():
        raise TokenFormatError("not a citizen-ID QR token")
    try:
        body = base64.b32decode(encoded + "=" * (-len(encoded) % 8))
    except (binascii.Error, ValueError):
        raise TokenFormatError("not base32") from None
    if len(body) != BODY_BYTES or base64.b32encode(body).decode("ascii").rstrip("=") != encoded:
        raise TokenFormatError("wrong length")  # also refuses non-canonical trailing bits
    payload, signature = body[:PAYLOAD_BYTES], body[PAYLOAD_BYTES:]
    kid, code, reference, iat, exp, nonce = _PAYLOAD.unpack(payload)
    claims = QrClaims(prefix=prefix, kid=kid.hex(), municipality_code=f"{int.from_bytes(code, 'big'):06d}",
                      reference=reference_from_bytes(reference), iat=iat, exp=exp, nonce=nonce.hex())
    return ParsedToken(claims, _signed_message(prefix, payload), signature)
