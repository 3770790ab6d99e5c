"""Certificate revocation lists of the JPKI signing CAs, loaded with `manage.py load_jpki_crl`.

They live in the public schema: J-LIS publishes one list for the whole country, and every
municipality's enrolment reads it (the tenant search path includes the public schema)."""
from __future__ import annotations

from django.db import models


class JpkiCrl(models.Model):
    """The newest loaded CRL of one issuing CA (identified by the SHA-256 of its public key)."""

    issuer_key_id = models.CharField(max_length=64, unique=True)
    issuer_name = models.CharField(max_length=500)
    crl_number = models.DecimalField(max_digits=50, decimal_places=0, null=True, blank=True)
    this_update = models.DateTimeField()
    next_update = models.DateTimeField(null=True, blank=True)
    sha256 = models.CharField(max_length=64)
    revoked_count = models.PositiveIntegerField(default=0)
    loaded_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.issuer_name} #{self.crl_number} ({self.this_update:%Y-%m-%d %H:%M})"


class JpkiRevokedCertificate(models.Model):
    crl = models.ForeignKey(JpkiCrl, on_delete=models.CASCADE, related_name="entries")
    issuer_key_id = models.CharField(max_length=64)
    serial = models.CharField(max_length=64)  # lower-case hex, no leading zeros
    # Keyed hash of issuer + serial (citizen_id.crypto.blind_index): matches CitizenCard.card_index,
    # so a municipality can find its revoked cards without storing their serial numbers.
    card_index = models.CharField(max_length=64, db_index=True)
    revoked_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer_key_id", "serial"], name="jpki_revoked_issuer_serial")]
