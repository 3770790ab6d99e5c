"""Community fixtures: two districts per municipality with residents made through the real services
and verified through the real citizen-ID enrolment (a test J-LIS CA signs their cards), photo
builders (JPEG with GPS EXIF, PNG, HEIC) and the notifications the community app created."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import timedelta

import base64

import pytest
from django.db import connection
from django.utils import timezone
from PIL import Image

from accounts.models import District, User
from accounts.services import district_create, resident_create
from citizen_id import testca
from citizen_id.jpki.services import jpki_crl_load
from tests.base import TenantApiClient, TenantFixture

# Card addresses must lie in the municipality for enrolment to succeed.
CARD_ADDRESSES = {"412015": "佐賀県佐賀市栄町1番1号", "412104": "佐賀県神埼市神埼町神埼410"}


@dataclass
class CardAuthority:
    ca: testca.SigningCa
    anchor_path: str
    key: object  # one RSA card key for every card (2048-bit generation is slow); serials differ


def enroll_citizen_id(tenant: TenantFixture, jpki: CardAuthority, token: str, nickname: str) -> None:
    """The app's enrolment through the API: challenge → the 'card' signs it → enroll."""
    client = TenantApiClient(tenant.host, token)
    challenge = client.post("/api/v1/citizen-id/challenge/")
    assert challenge.status_code == 201, challenge.content
    nonce = base64.b64decode(challenge.json()["nonce"])
    spec = testca.CardSpec(name=f"{nickname or '住民'} 太郎", address=CARD_ADDRESSES[tenant.municipality.code])
    key, certificate = testca.make_card(jpki.ca, spec, key=jpki.key)
    response = client.post("/api/v1/citizen-id/enroll/", {
        "certificate": base64.b64encode(testca.der(certificate)).decode(),
        "signature": base64.b64encode(testca.sign_nonce(key, nonce)).decode(),
        "nonce": base64.b64encode(nonce).decode()}, format="json")
    assert response.status_code in (200, 201), response.content


@dataclass
class Member:
    user: User
    token: str
    host: str

    @property
    def id(self) -> int:
        return self.user.pk

    def client(self) -> TenantApiClient:
        return TenantApiClient(self.host, self.token)


@dataclass
class Board:
    """One municipality's community setup for a test: districts and a member factory."""

    tenant: TenantFixture
    district: District
    other_district: District
    jpki: CardAuthority
    members: list[Member] = field(default_factory=list)

    def member(self, nickname: str = "", district: District | None = None, *, verified: bool = True) -> Member:
        """A resident of `district` (default: the board's), verified with a citizen ID unless told not."""
        nickname = nickname or f"住民{len(self.members) + 1}"
        with self.tenant.schema():
            issued = resident_create(nickname=nickname, district=district if district is not None else self.district)
        if verified:
            enroll_citizen_id(self.tenant, self.jpki, issued.raw, nickname)
        member = Member(user=issued.token.user, token=issued.raw, host=self.tenant.host)
        self.members.append(member)
        return member

    def post(self, author: Member, **fields) -> dict:
        body = {"title": "お知らせ", "category": "notice", **fields}
        response = author.client().post(f"/api/v1/community/districts/{author.user.district_id}/posts/", body,
                                        format="json")
        assert response.status_code == 201, response.content
        return response.json()

    def event(self, author: Member, *, capacity: int | None = 2, **event_fields) -> dict:
        start = timezone.now() + timedelta(days=7)
        event = {"starts_at": start.isoformat(), "place": "公民館", "capacity": capacity, **event_fields}
        return self.post(author, title="清掃活動", category="event", event=event)


@pytest.fixture(scope="session")
def community_jpki_ca(tmp_path_factory) -> CardAuthority:
    ca = testca.make_ca("Community Test Signing CA")
    path = tmp_path_factory.mktemp("community-jpki") / "ca.pem"
    path.write_bytes(ca.pem)
    return CardAuthority(ca=ca, anchor_path=str(path), key=testca.new_rsa_key())


def trust_test_ca(settings, jpki: CardAuthority) -> None:
    """The test CA as the J-LIS trust anchor, with a current (empty) CRL in the public schema."""
    settings.JPKI_TRUST_ANCHORS = [jpki.anchor_path]
    connection.set_schema_to_public()
    jpki_crl_load(data=testca.make_crl(jpki.ca, []))


@pytest.fixture
def community_jpki(community_jpki_ca, settings, db) -> CardAuthority:
    trust_test_ca(settings, community_jpki_ca)
    return community_jpki_ca


def _board(tenant: TenantFixture, names: tuple[str, str], jpki: CardAuthority) -> Board:
    with tenant.schema():
        first = district_create(name=names[0])
        second = district_create(name=names[1])
    return Board(tenant=tenant, district=first, other_district=second, jpki=jpki)


@pytest.fixture
def board(saga, community_jpki) -> Board:
    return _board(saga, ("勧興", "循誘"), community_jpki)


@pytest.fixture
def kanzaki_board(kanzaki, community_jpki) -> Board:
    return _board(kanzaki, ("神埼", "千代田"), community_jpki)


def _forget_media_root() -> None:
    # django-tenants' storage caches MEDIA_ROOT in `relative_media_root` and does not drop it when
    # MEDIA_ROOT changes; without this, a later test's MEDIA_ROOT would be ignored.
    from django.core.files.storage import storages

    storages["default"].__dict__.pop("relative_media_root", None)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    _forget_media_root()
    yield
    _forget_media_root()  # recomputed from the restored MEDIA_ROOT on next use


def community_notifications(tenant: TenantFixture) -> list:
    """Notifications the community app created (newest last) in this municipality."""
    from notifications.models import Notification

    with tenant.schema():
        return list(Notification.objects.filter(created_by__isnull=True).order_by("id"))


# --- Photos -------------------------------------------------------------------------------------------
GPS_IFD = 0x8825


def jpeg_with_gps(size=(1200, 900), color=(200, 40, 40)) -> bytes:
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x010F] = "Apple"  # Make
    exif[0x0110] = "iPhone 15 Pro"  # Model
    exif[0x0131] = "17.4"  # Software
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (33.0, 15.0, 12.5), 3: "E", 4: (130.0, 17.0, 58.2)})
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), comment=b"taken at home")
    return out.getvalue()


def png_bytes(size=(300, 200), mode="RGBA") -> bytes:
    from PIL.PngImagePlugin import PngInfo

    image = Image.new(mode, size, (10, 120, 200, 128) if mode == "RGBA" else (10, 120, 200))
    info = PngInfo()
    info.add_text("Author", "山田花子 090-1234-5678")
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def heic_bytes(size=(640, 480)) -> bytes:
    image = Image.new("RGB", size, (30, 160, 60))
    out = io.BytesIO()
    image.save(out, format="HEIF")
    return out.getvalue()


def upload(member: Member, content: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    file = SimpleUploadedFile(name, content, content_type=content_type)
    return member.client().post("/api/v1/community/images/", {"file": file}, format="multipart")
