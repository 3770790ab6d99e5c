"""Community fixtures: two districts in Saga with residents made through the real services, photo
builders (JPEG with GPS EXIF, PNG, HEIC) and a capture of what the community app pushes."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from accounts.models import District, User
from accounts.services import district_create, resident_create
from tests.base import TenantApiClient, TenantFixture


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
    members: list[Member] = field(default_factory=list)

    def member(self, nickname: str = "", district: District | None = None) -> Member:
        with self.tenant.schema():
            issued = resident_create(nickname=nickname or f"住民{len(self.members) + 1}",
                                     district=district if district is not None else self.district)
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


def _board(tenant: TenantFixture, names: tuple[str, str]) -> Board:
    with tenant.schema():
        first = district_create(name=names[0])
        second = district_create(name=names[1])
    return Board(tenant=tenant, district=first, other_district=second)


@pytest.fixture
def board(saga) -> Board:
    return _board(saga, ("勧興", "循誘"))


@pytest.fixture
def kanzaki_board(kanzaki) -> Board:
    return _board(kanzaki, ("神埼", "千代田"))


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def pushes(monkeypatch):
    """What the community app handed to the push seam (the notifications pipeline lives elsewhere)."""
    sent: list[dict] = []

    def capture(*, user_ids, push):
        sent.append({"user_ids": sorted(set(user_ids)), "push": push})
        return len(set(user_ids))

    monkeypatch.setattr("miniapps.community.tasks.push_to_residents", capture)
    return sent


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
