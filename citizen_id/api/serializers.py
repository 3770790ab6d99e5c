"""Input and output serializers for the citizen-ID API (shape only; rules live in the services)."""
from __future__ import annotations

from rest_framework import serializers

from superapp.api.fields import StrictCharField

from ..jpki.profile import SEX_LABELS, BasicInfo, wareki
from ..models import CardQr, CitizenId
from ..services import PURPOSE_LABELS, PURPOSES

# Base64 of a DER certificate is a few kB; the bounds only keep absurd bodies out of the parsers.
MAX_CERTIFICATE_CHARS = 24 * 1024
MAX_SIGNATURE_CHARS = 2048


class ChallengeOutput(serializers.Serializer):
    nonce = StrictCharField(help_text="Base64 of 32 random bytes; the card signs these bytes (not the text).")
    expires_at = serializers.DateTimeField()


class EnrollInput(serializers.Serializer):
    certificate = StrictCharField(max_length=MAX_CERTIFICATE_CHARS, trim_whitespace=False,
                                  help_text="Base64 (RFC 4648, padded) of the card's JPKI signature certificate, DER.")
    signature = StrictCharField(max_length=MAX_SIGNATURE_CHARS, trim_whitespace=False,
                                help_text="Base64 of RSA PKCS#1 v1.5 / SHA-256 over the nonce bytes, made by the card.")
    nonce = StrictCharField(max_length=100, trim_whitespace=False, help_text="The nonce from /challenge/, as given.")


class BasicInfoOutput(serializers.Serializer):
    """基本4情報 (name, address, date of birth, sex) as the card's certificate states them."""

    name = serializers.CharField()
    name_alt = serializers.CharField(help_text="Name with substitute characters (代替文字), empty when none.")
    address = serializers.CharField()
    address_alt = serializers.CharField(help_text="Address with substitute characters, empty when none.")
    birth_date = serializers.DateField()
    birth_date_wareki = serializers.CharField(help_text="Date of birth in the Japanese calendar, e.g. 昭和55年1月2日.")
    sex = serializers.ChoiceField(choices=[1, 2, 3], help_text="1 male, 2 female, 3 other/unknown (JPKI codes).")
    sex_label = serializers.CharField()
    sex_label_en = serializers.CharField()

    def to_representation(self, info: BasicInfo):
        ja, en = SEX_LABELS[info.sex]
        return {"name": info.name, "name_alt": info.name_alt, "address": info.address,
                "address_alt": info.address_alt, "birth_date": info.birth_date.isoformat(),
                "birth_date_wareki": wareki(info.birth_date), "sex": info.sex, "sex_label": ja, "sex_label_en": en}


class CitizenIdOutput(serializers.Serializer):
    reference = serializers.CharField(help_text="The citizen-ID reference (random; no meaning).")
    status = serializers.ChoiceField(choices=CitizenId.Status.choices)
    status_reason = serializers.CharField()
    enrolled_at = serializers.DateTimeField()
    verified_at = serializers.DateTimeField()
    card_expires_at = serializers.DateTimeField(allow_null=True, source="card_not_after")
    basic_info = BasicInfoOutput(allow_null=True)


class EnrollOutput(CitizenIdOutput):
    action = serializers.ChoiceField(choices=["issued", "renewed", "reverified", "transferred"])


class QrFormatQuery(serializers.Serializer):
    format = serializers.ChoiceField(choices=["json", "svg", "png"], required=False, default="json")


class QrOutput(serializers.Serializer):
    token = serializers.CharField(help_text="Show as a QR code; see GET /api/v1/citizen-id/keys/ for the format.")
    expires_at = serializers.DateTimeField()
    reference = serializers.CharField()


class ScanHistoryOutput(serializers.Serializer):
    scanned_at = serializers.DateTimeField(source="created_at")
    purpose = serializers.ChoiceField(choices=PURPOSES, source="data.purpose")
    purpose_label = serializers.SerializerMethodField()
    via = serializers.ChoiceField(choices=["app", "card"], source="data.via")

    def get_purpose_label(self, event) -> str:
        ja, en = PURPOSE_LABELS.get(event.data.get("purpose"), ("", ""))
        return f"{ja} / {en}"


class PublicKeyOutput(serializers.Serializer):
    kid = serializers.CharField()
    alg = serializers.CharField(default="EdDSA")
    crv = serializers.CharField(default="Ed25519")
    public_key = serializers.CharField(help_text="Raw 32-byte Ed25519 public key, base64url without padding.")
    jwk = serializers.DictField(help_text="The same key as a JWK (RFC 8037).")
    status = serializers.ChoiceField(choices=["current", "retired"])
    created_at = serializers.DateTimeField()


class KeysOutput(serializers.Serializer):
    municipality_code = serializers.CharField()
    token_format = serializers.CharField()
    token_prefixes = serializers.DictField(child=serializers.CharField())
    keys = PublicKeyOutput(many=True)


class VerifyInput(serializers.Serializer):
    token = StrictCharField(max_length=200, help_text="The scanned QR text.")
    purpose = serializers.ChoiceField(choices=PURPOSES)


class VerifyOutput(serializers.Serializer):
    reference = serializers.CharField()
    basic_info = BasicInfoOutput()
    via = serializers.ChoiceField(choices=["app", "card"])
    purpose = serializers.ChoiceField(choices=PURPOSES)
    verified_at = serializers.DateTimeField(help_text="When the resident last proved their identity with the card.")
    token_expires_at = serializers.DateTimeField()


class CardQrInput(serializers.Serializer):
    reference = StrictCharField(max_length=16, min_length=16)


class CardQrOutput(serializers.ModelSerializer):
    reference = serializers.CharField(source="citizen.reference")

    class Meta:
        model = CardQr
        fields = ["id", "reference", "issued_at", "expires_at", "revoked_at"]


class CardQrIssuedOutput(CardQrOutput):
    token = serializers.CharField()

    class Meta(CardQrOutput.Meta):
        fields = CardQrOutput.Meta.fields + ["token"]


class StaffRevokeInput(serializers.Serializer):
    reference = StrictCharField(max_length=16, min_length=16)
    reason = serializers.ChoiceField(choices=["deceased", "moved_out", "fraud", "resident_request", "other"])


class StaffCitizenOutput(serializers.Serializer):
    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=CitizenId.Status.choices)
    status_reason = serializers.CharField()
    revoked_at = serializers.DateTimeField(allow_null=True)
