"""The citizen ID (市民証) QR at shelter reception: a verified scan becomes an evacuee."""
from __future__ import annotations

from datetime import datetime

from citizen_id.services import citizen_qr_verify

from .models import CheckIn, Sex
from .services import Evacuee

_SEX_FROM_JPKI = {1: Sex.MALE, 2: Sex.FEMALE, 3: Sex.OTHER}


def evacuee_from_qr(*, token: str, acting_user, scanned_at: datetime | None = None,
                    client_ip: str | None = None) -> Evacuee:
    """Verifies the QR (signature, municipality, expiry at `scanned_at` for offline uploads, single
    use, revocation; audited as a PII read) and returns the person as the card states them."""
    scan = citizen_qr_verify(token=token, purpose="shelter", staff=acting_user, client_ip=client_ip,
                             scanned_at=scanned_at)
    info = scan.info
    return Evacuee(name=info.name, address=info.address, birth_date=info.birth_date,
                   sex=_SEX_FROM_JPKI.get(info.sex, Sex.OTHER), citizen_ref=scan.citizen.reference,
                   resident_id=scan.citizen.user_id, source=CheckIn.Source.QR)
