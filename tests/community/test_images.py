"""Photo uploads: only real JPEG/PNG/HEIC images, size and pixel limits, EXIF/GPS and text metadata
stripped from what is stored, HEIC converted to JPEG, thumbnails, up to 4 per post."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from PIL import Image

from miniapps.community.models import PostImage

from .conftest import heic_bytes, jpeg_with_gps, png_bytes, upload


def _stored(board, image_id: int) -> tuple[bytes, bytes]:
    with board.tenant.schema():
        image = PostImage.objects.get(pk=image_id)
        return image.image.read(), image.thumbnail.read()


def _assert_no_metadata(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    assert not image.getexif(), dict(image.getexif())
    assert b"Exif" not in content and b"iPhone" not in content and b"Apple" not in content
    assert "comment" not in image.info and "exif" not in image.info and "xmp" not in image.info
    return image


def test_jpeg_upload_strips_gps_and_camera_data_and_keeps_it_upright(board):
    alice = board.member()
    original = jpeg_with_gps(size=(1200, 900))
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the fixture really carries GPS
    response = upload(alice, original)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["content_type"] == "image/jpeg"
    # EXIF orientation 6 was applied before EXIF was dropped: the stored photo is portrait.
    assert (body["width"], body["height"]) == (900, 1200)
    content, thumbnail = _stored(board, body["id"])
    stored = _assert_no_metadata(content)
    assert stored.format == "JPEG" and stored.size == (900, 1200)
    assert b"taken at home" not in content
    thumb = _assert_no_metadata(thumbnail)
    assert max(thumb.size) == 400
    # Files live under the municipality's own media folder, with random names.
    assert body["url"].startswith(f"/media/{board.tenant.schema_name}/community/")
    assert body["thumbnail_url"] != body["url"]
    with board.tenant.schema():
        path = Path(PostImage.objects.get(pk=body["id"]).image.path)
    assert path.is_relative_to(Path(django_settings.MEDIA_ROOT) / board.tenant.schema_name)


def test_heic_becomes_jpeg(board):
    response = upload(board.member(), heic_bytes(), name="IMG_0001.HEIC", content_type="image/heic")
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == "image/jpeg" and response.json()["url"].endswith(".jpg")
    content, _ = _stored(board, response.json()["id"])
    assert _assert_no_metadata(content).format == "JPEG"


def test_png_stays_png_without_text_chunks(board):
    original = png_bytes()
    assert "山田".encode() in original or b"Author" in original
    response = upload(board.member(), original, name="map.png", content_type="image/png")
    assert response.status_code == 201, response.content
    content, thumbnail = _stored(board, response.json()["id"])
    stored = Image.open(io.BytesIO(content))
    assert stored.format == "PNG" and stored.mode == "RGBA"
    assert b"Author" not in content and b"tEXt" not in content and b"iTXt" not in content
    assert Image.open(io.BytesIO(thumbnail)).format == "JPEG"


def test_large_photos_are_scaled_down(board, settings):
    settings.COMMUNITY_IMAGE_LONG_EDGE = 800
    response = upload(board.member(), jpeg_with_gps(size=(1600, 1200)))
    assert response.status_code == 201
    assert max(response.json()["width"], response.json()["height"]) == 800


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size: the classic decompression bomb shape (tiny file, huge canvas)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    idat = zlib.compress(row * 16, 9)  # far fewer rows than claimed; never decoded anyway
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("content, name, code", [
    (b"GIF89a not really", "x.gif", "invalid_image"),
    (b"%PDF-1.7\n", "doc.pdf", "invalid_image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.svg", "invalid_image"),
    (jpeg_with_gps()[:200], "cut.jpg", "invalid_image"),
    (_png_header_only(60_000, 60_000), "bomb.png", "image_too_many_pixels"),
    (_png_header_only(12_000, 10), "wide.png", "image_too_many_pixels"),
])
def test_not_an_image_or_a_bomb_is_400(board, content, name, code):
    response = upload(board.member(), content, name=name)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code and "file" in error["fields"]
    with board.tenant.schema():
        assert not PostImage.objects.exists()


def test_gif_and_tiff_are_refused_even_when_valid(board):
    for fmt in ("GIF", "TIFF", "BMP"):
        out = io.BytesIO()
        Image.new("RGB", (10, 10)).save(out, format=fmt)
        response = upload(board.member(), out.getvalue(), name=f"x.{fmt.lower()}")
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_image", fmt


def test_file_over_the_size_limit_is_400(board, settings):
    settings.COMMUNITY_IMAGE_MAX_BYTES = 10_000
    response = upload(board.member(), jpeg_with_gps(size=(2000, 2000)))
    assert response.status_code == 400 and response.json()["error"]["code"] == "image_too_large"


def test_missing_file_and_json_body_are_refused(board):
    client = board.member().client()
    missing = client.post("/api/v1/community/images/", {}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()["error"]["fields"]
    as_json = client.post("/api/v1/community/images/", {"file": "x"}, format="json")
    assert as_json.status_code == 415 and as_json.json()["error"]["code"] == "unsupported_media_type"


def test_non_member_cannot_upload(board, saga):
    lonely = board.member()
    with board.tenant.schema():
        type(lonely.user).objects.filter(pk=lonely.id).update(district=None)
    assert upload(lonely, jpeg_with_gps()).json()["error"]["code"] == "not_district_member"
    staff = saga.client("community_moderator")
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = staff.post("/api/v1/community/images/", {"file": SimpleUploadedFile("a.jpg", jpeg_with_gps())},
                          format="multipart")
    assert response.status_code == 403


def test_post_claims_up_to_four_of_my_own_unused_images(board):
    alice, bob = board.member(), board.member()
    mine = [upload(alice, jpeg_with_gps(size=(40, 30))).json()["id"] for _ in range(5)]
    bobs = upload(bob, jpeg_with_gps(size=(40, 30))).json()["id"]

    five = alice.client().post(f"/api/v1/community/districts/{board.district.id}/posts/",
                               {"title": "x", "category": "notice", "image_ids": mine}, format="json")
    assert five.status_code == 400 and "image_ids" in five.json()["error"]["fields"]
    stolen = alice.client().post(f"/api/v1/community/districts/{board.district.id}/posts/",
                                 {"title": "x", "category": "notice", "image_ids": [mine[0], bobs]}, format="json")
    assert stolen.status_code == 400 and "image_ids" in stolen.json()["error"]["fields"]

    post = board.post(alice, image_ids=[mine[2], mine[0], mine[1], mine[3]])
    assert [image["id"] for image in post["images"]] == [mine[2], mine[0], mine[1], mine[3]]
    reused = alice.client().post(f"/api/v1/community/districts/{board.district.id}/posts/",
                                 {"title": "x", "category": "notice", "image_ids": [mine[0]]}, format="json")
    assert reused.status_code == 400


def test_orphan_images_are_purged_after_a_day(board):
    from datetime import timedelta

    from django.utils import timezone

    from miniapps.community.services import images_purge_orphans

    alice = board.member()
    old = upload(alice, jpeg_with_gps(size=(20, 20))).json()["id"]
    fresh = upload(alice, jpeg_with_gps(size=(20, 20))).json()["id"]
    used = upload(alice, jpeg_with_gps(size=(20, 20))).json()["id"]
    board.post(alice, image_ids=[used])
    with board.tenant.schema():
        PostImage.objects.filter(pk__in=[old, used]).update(created_at=timezone.now() - timedelta(days=2))
        path = Path(PostImage.objects.get(pk=old).image.path)
        assert path.exists()
        assert images_purge_orphans() == 1
        assert set(PostImage.objects.values_list("pk", flat=True)) == {fresh, used}
    assert not path.exists()
