"""A stand-in for J-LIS in development and tests: a signing CA, JPKI-profile card certificates with
the 基本4情報 otherNames, CRLs, and the card's signature over a challenge.

Never trusted in production: a demo CA is only trusted when its PEM is listed in JPKI_TRUST_ANCHORS.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier
from pyasn1.codec.der import encoder as der_encoder
from pyasn1.type import char

from .jpki import profile

JPKI_SIGNATURE_POLICY = "1.2.392.200149.8.5.1.1.10"  # shape of J-LIS's policy OIDs; a test value here


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@dataclass
class SigningCa:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def _ca_name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for digital signature"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, common_name),
    ])


def make_ca(common_name: str = "Test Signing CA", *, key: rsa.RSAPrivateKey | None = None,
            not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
            is_ca: bool = True) -> SigningCa:
    key = key or new_rsa_key()
    name = _ca_name(common_name)
    now = utcnow()
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(days=30))
        .not_valid_after(not_after or now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=not is_ca, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=is_ca,
                                     crl_sign=is_ca, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return SigningCa(key, certificate)


def other_name(oid: str, value: str) -> x509.OtherName:
    return x509.OtherName(ObjectIdentifier(oid), der_encoder.encode(char.UTF8String(value)))


@dataclass
class CardSpec:
    """What goes into a card certificate; every field can be bent to make a broken one."""

    name: str = "佐賀 花子"
    address: str = "佐賀県佐賀市栄町1番1号"
    birth: str = "319800102"  # EYYYYMMDD
    sex: str = "2"
    name_alt: str = ""
    address_alt: str = ""
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    serial: int | None = None
    key_usage: tuple[str, ...] = ("digital_signature", "content_commitment")
    extra_other_names: list[tuple[str, str]] = field(default_factory=list)
    omit: tuple[str, ...] = ()  # OIDs to leave out
    san: bool = True


def make_card(ca: SigningCa, spec: CardSpec | None = None, *, key: rsa.RSAPrivateKey | None = None
              ) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    spec = spec or CardSpec()
    key = key or new_rsa_key()
    now = utcnow()
    names = [(profile.OID_NAME, spec.name), (profile.OID_SEX, spec.sex), (profile.OID_BIRTH, spec.birth),
             (profile.OID_ADDRESS, spec.address)]
    if spec.name_alt:
        names.append((profile.OID_NAME_ALT, spec.name_alt))
    if spec.address_alt:
        names.append((profile.OID_ADDRESS_ALT, spec.address_alt))
    names += spec.extra_other_names
    usage = {flag: flag in spec.key_usage for flag in (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
        "key_cert_sign", "crl_sign")}
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                                 x509.NameAttribute(NameOID.LOCALITY_NAME, "Saga-shi"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, f"{(spec.serial or 0) % 10**8:08d}A")]))
        .issuer_name(ca.certificate.subject).public_key(key.public_key())
        .serial_number(spec.serial or x509.random_serial_number())
        .not_valid_before(spec.not_before or now - dt.timedelta(days=1))
        .not_valid_after(spec.not_after or now + dt.timedelta(days=5 * 365))
        .add_extension(x509.KeyUsage(encipher_only=False, decipher_only=False, **usage), critical=True)
        .add_extension(x509.CertificatePolicies([x509.PolicyInformation(ObjectIdentifier(JPKI_SIGNATURE_POLICY), None)]),
                       critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    if spec.san:
        entries = [other_name(oid, value) for oid, value in names if oid not in spec.omit]
        builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
    return key, builder.sign(ca.key, hashes.SHA256())


def make_crl(ca: SigningCa, revoked_serials: list[int] = (), *, number: int = 1,
             this_update: dt.datetime | None = None, next_update: dt.datetime | None = None,
             signer: SigningCa | None = None) -> bytes:
    """A DER CRL in `ca`'s name; `signer` signs it instead (a forged CRL) when given."""
    now = utcnow()
    builder = (
        x509.CertificateRevocationListBuilder().issuer_name(ca.certificate.subject)
        .last_update(this_update or now - dt.timedelta(minutes=5))
        .next_update(next_update or now + dt.timedelta(days=2))
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now - dt.timedelta(hours=1)).build())
    return builder.sign((signer or ca).key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def sign_nonce(key: rsa.RSAPrivateKey, nonce: bytes) -> bytes:
    """What the card does with the resident's PIN: RSA PKCS#1 v1.5 over SHA-256 of the nonce bytes."""
    return key.sign(nonce, padding.PKCS1v15(), hashes.SHA256())


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)
