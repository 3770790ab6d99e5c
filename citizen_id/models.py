"""デジタル市民証: enrolment challenges, citizen IDs with encrypted 基本4情報, the cards bound to them,
the municipality's QR signing keys and printed card QRs.

Nothing here holds PII in clear: the 基本4情報 are sealed with AES-GCM (`citizen_id.crypto`), a card
is known by a keyed hash of its issuer and serial, and certificates are never stored.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class EnrollmentChallenge(models.Model):
    """A single-use nonce the card signs. Only its SHA-256 is stored; consuming deletes the row."""

    nonce_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)


class CitizenId(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "有効 / Active"
        # The bound card's certificate was revoked or expired: re-enrolling with the renewed card
        # restores the same citizen ID.
        SUSPENDED = "suspended", "要再確認 / Re-verification needed"
        REVOKED = "revoked", "失効 / Revoked"

    # Random, public reference printed under the QR and carried in it (base32, 80 bits).
    reference = models.CharField(max_length=16, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="citizen_ids")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=32, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # 基本4情報, sealed: AES-GCM ciphertext, its data key wrapped under keyring key `pii_key_id`.
    pii_ciphertext = models.BinaryField(default=b"")
    pii_wrapped_key = models.BinaryField(default=b"")
    pii_key_id = models.CharField(max_length=32, blank=True, db_index=True)
    # The card currently bound (see CitizenCard) and when its certificate expires.
    card_index = models.CharField(max_length=64, blank=True)
    card_issuer_key_id = models.CharField(max_length=64, blank=True)
    card_not_after = models.DateTimeField(null=True, blank=True)
    enrolled_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A resident holds at most one citizen ID that is not revoked.
            models.UniqueConstraint(fields=["user"], condition=~Q(status="revoked"), name="citizen_id_one_live_per_user"),
        ]
        indexes = [models.Index(fields=["status", "card_not_after"])]

    def __str__(self) -> str:
        return f"市民証 {self.reference} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class CitizenCard(models.Model):
    """A card (JPKI certificate issuer + serial) bound to a citizen ID: one card, one citizen ID."""

    citizen = models.ForeignKey(CitizenId, on_delete=models.CASCADE, related_name="cards")
    card_index = models.CharField(max_length=64, unique=True)  # blind index of issuer key id + serial
    issuer_key_id = models.CharField(max_length=64)
    not_after = models.DateTimeField()
    bound_at = models.DateTimeField(auto_now_add=True)


class QrSigningKey(models.Model):
    """The municipality's Ed25519 key for QR tokens. One is current (signs); retired keys still
    verify until revoked, so printed card QRs survive a routine rotation."""

    class Status(models.TextChoices):
        CURRENT = "current", "現行 / Current"
        RETIRED = "retired", "検証のみ / Verify only"
        REVOKED = "revoked", "失効 / Revoked"

    kid = models.CharField(max_length=8, unique=True)  # hex of 4 bytes, carried in every token
    public_key = models.BinaryField()  # raw 32 bytes
    private_ciphertext = models.BinaryField()
    private_wrapped_key = models.BinaryField()
    private_key_id = models.CharField(max_length=32, db_index=True)  # keyring key wrapping it
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CURRENT)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="current"), name="qr_signing_key_one_current"),
        ]


class CardQr(models.Model):
    """A long-lived QR printed for a resident without a smartphone; revocable one by one."""

    citizen = models.ForeignKey(CitizenId, on_delete=models.CASCADE, related_name="card_qrs")
    serial = models.CharField(max_length=16, unique=True)  # hex of the token's 8-byte nonce
    kid = models.CharField(max_length=8)  # key that signed it (Ed25519 is deterministic: re-rendering
    issued_at = models.DateTimeField()    # with the same key and fields gives the same token)
    expires_at = models.DateTimeField()
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-issued_at", "-id"]
