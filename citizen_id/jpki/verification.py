"""Verification of a card's JPKI signature certificate and of what the card signed.

Trust anchors come from JPKI_TRUST_ANCHORS (PEM files separated by commas; several at once while
J-LIS renews its CA). A certificate is accepted when it was issued by one of them, is inside its
validity period, passes RFC 5280 path validation (cryptography's verifier), carries a signing key
usage and is not on the issuer's CRL (see `citizen_id.jpki.services`). Each refusal has its own
error code, so the app can tell the resident what went wrong.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from superapp.api.errors import ApiError

MAX_CERTIFICATE_BYTES = 16 * 1024
MIN_RSA_BITS = 2048


def reject(code: str, ja: str, en: str, *, field: str = "certificate", status_code: int = 400) -> ApiError:
    return ApiError(code, status_code=status_code, fields={field: [f"{ja} / {en}"]})


def b64decode_strict(value: str) -> bytes:
    """Standard base64 (RFC 4648 §4) with padding; whitespace and other alphabets are refused."""
    return base64.b64decode(value.encode("ascii"), validate=True)


def key_id_of(certificate: x509.Certificate) -> str:
    """SHA-256 of the SubjectPublicKeyInfo: names an issuing CA independently of its certificate."""
    spki = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def serial_hex(certificate_or_serial: x509.Certificate | int) -> str:
    serial = getattr(certificate_or_serial, "serial_number", certificate_or_serial)
    return format(serial, "x")


# --- Trust anchors --------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrustAnchor:
    certificate: x509.Certificate
    key_id: str
    path: str

    @property
    def name(self) -> str:
        return self.certificate.subject.rfc4514_string()


_anchor_lock = threading.Lock()
_anchor_cache: dict[tuple, list[TrustAnchor]] = {}


def _anchor_paths() -> list[str]:
    configured = settings.JPKI_TRUST_ANCHORS
    if isinstance(configured, str):
        configured = [item.strip() for item in configured.split(",")]
    return [path for path in configured if path]


def _load_anchor_file(path: str) -> list[TrustAnchor]:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ImproperlyConfigured(f"JPKI_TRUST_ANCHORS: cannot read {path}: {exc.strerror}") from None
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ImproperlyConfigured(f"JPKI_TRUST_ANCHORS: {path} holds no PEM certificate") from None
    anchors = []
    for certificate in certificates:
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            constraints = None
        if constraints is None or not constraints.ca:
            raise ImproperlyConfigured(f"JPKI_TRUST_ANCHORS: {path} holds a certificate that is not a CA "
                                       f"({certificate.subject.rfc4514_string()})")
        anchors.append(TrustAnchor(certificate, key_id_of(certificate), path))
    return anchors


def trust_anchors() -> list[TrustAnchor]:
    """The configured anchors, re-read when a file changes (CA renewal without a restart)."""
    paths = _anchor_paths()
    stamp = []
    for path in paths:
        try:
            stat = os.stat(path)
            stamp.append((path, stat.st_mtime_ns, stat.st_size))
        except OSError:
            stamp.append((path, None, None))
    key = tuple(stamp)
    cached = _anchor_cache.get(key)
    if cached is not None:
        return cached
    anchors = [anchor for path in paths for anchor in _load_anchor_file(path)]
    with _anchor_lock:
        _anchor_cache.clear()
        _anchor_cache[key] = anchors
    return anchors


def anchor_for_key_id(key_id: str) -> TrustAnchor | None:
    return next((anchor for anchor in trust_anchors() if anchor.key_id == key_id), None)


# --- The card's certificate and signature ---------------------------------------------------------
def load_certificate(encoded: str) -> x509.Certificate:
    try:
        der = b64decode_strict(encoded)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise reject("certificate_malformed", "証明書がbase64ではありません",
                     "the certificate is not base64") from None
    if not der or len(der) > MAX_CERTIFICATE_BYTES:
        raise reject("certificate_malformed", "証明書の長さが不正です", "the certificate has an invalid length")
    try:
        certificate = x509.load_der_x509_certificate(der)
        # Parsing is lazy: touch what later checks read so a broken encoding fails here, as malformed.
        certificate.extensions  # noqa: B018
        certificate.public_key()
    except ValueError:
        raise reject("certificate_malformed", "証明書（DER形式のX.509）を解析できません",
                     "the certificate is not a DER X.509 certificate") from None
    except Exception:  # unsupported key algorithms raise UnsupportedAlgorithm
        raise reject("certificate_malformed", "証明書の鍵の種類に対応していません",
                     "the certificate's key type is not supported") from None
    return certificate


def verify_signature(certificate: x509.Certificate, *, message: bytes, signature_b64: str) -> None:
    """RSA PKCS#1 v1.5 with SHA-256 over `message`, made with the certificate's key (the card)."""
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey) or public_key.key_size < MIN_RSA_BITS:
        raise reject("certificate_malformed", "証明書の鍵がRSA 2048ビット以上ではありません",
                     "the certificate's key is not RSA of at least 2048 bits")
    try:
        signature = b64decode_strict(signature_b64)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise reject("signature_invalid", "署名がbase64ではありません", "the signature is not base64",
                     field="signature") from None
    try:
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise reject("signature_invalid", "署名を検証できません（チャレンジに対する署名ではありません）",
                     "the signature does not verify over the challenge with this certificate's key",
                     field="signature") from None


def _extension_policies() -> tuple[ExtensionPolicy, ExtensionPolicy]:
    # JPKI marks certificatePolicies critical; accept it (and every extension the verifier knows)
    # rather than the Web PKI defaults, which are made for TLS server certificates.
    ca_policy = (ExtensionPolicy.permit_all().require_present(x509.BasicConstraints, Criticality.AGNOSTIC, None)
                 .may_be_present(x509.CertificatePolicies, Criticality.AGNOSTIC, None))
    ee_policy = ExtensionPolicy.permit_all().may_be_present(x509.CertificatePolicies, Criticality.AGNOSTIC, None)
    return ca_policy, ee_policy


def verify_certificate(certificate: x509.Certificate, *, now: dt.datetime) -> TrustAnchor:
    """Issuer, validity period, path validation and key usage; returns the issuing anchor."""
    try:
        anchors = trust_anchors()
    except ImproperlyConfigured:
        raise ApiError("service_unavailable", status_code=503, message="本人確認の設定に誤りがあります。",
                       message_en="Identity verification is misconfigured (trust anchors).") from None
    if not anchors:
        raise ApiError("service_unavailable", status_code=503, message="本人確認は現在利用できません。",
                       message_en="Identity verification is not configured (no trust anchors).")
    issuer = None
    for anchor in anchors:
        if anchor.certificate.subject != certificate.issuer:
            continue
        try:
            certificate.verify_directly_issued_by(anchor.certificate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        issuer = anchor
        break
    if issuer is None:
        raise reject("certificate_untrusted", "信頼できる認証局（J-LIS）が発行した証明書ではありません",
                     "the certificate was not issued by a trusted CA")
    if now < certificate.not_valid_before_utc:
        raise reject("certificate_expired", "証明書の有効期間がまだ始まっていません",
                     "the certificate is not valid yet")
    if now > certificate.not_valid_after_utc:
        raise reject("certificate_expired", "証明書の有効期限が切れています", "the certificate has expired")
    ca_policy, ee_policy = _extension_policies()
    verifier = (
        PolicyBuilder().store(Store([anchor.certificate for anchor in anchors])).time(now).max_chain_depth(1)
        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy).build_client_verifier()
    )
    try:
        verifier.verify(certificate, [])
    except VerificationError as exc:
        raise reject("certificate_untrusted", "証明書の検証（証明書パス）に失敗しました",
                     f"certificate path validation failed: {exc}") from None
    _check_key_usage(certificate)
    return issuer


def _check_key_usage(certificate: x509.Certificate) -> None:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    signs = usage is not None and (usage.digital_signature or usage.content_commitment)
    if not signs or usage.key_cert_sign or usage.crl_sign:
        raise reject("certificate_untrusted", "署名用電子証明書ではありません（鍵用途が署名ではありません）",
                     "not a signature certificate: the key usage is not digitalSignature/nonRepudiation")
