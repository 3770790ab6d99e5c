"""Photo intake for community posts: decode only JPEG, PNG and HEIC/HEIF; refuse files that are too
big or decompress into too many pixels; re-encode without any metadata (EXIF location and camera
data, XMP, comments, text chunks); HEIC becomes JPEG; a JPEG thumbnail is made alongside.

The decoded pixels are the only thing that survives: the stored file is written from scratch, so
nothing the phone put around the picture reaches other residents."""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageOps

from superapp.api.errors import ApiError

# Formats Pillow may even try to decode here: everything else (PSD, EPS, TIFF, ...) is refused
# before a decoder runs.
ACCEPTED_FORMATS = ("JPEG", "PNG", "HEIF")


def _setting(name: str, default):
    return getattr(settings, name, default)


def max_bytes() -> int:
    return _setting("COMMUNITY_IMAGE_MAX_BYTES", 10 * 1024 * 1024)


def max_pixels() -> int:
    return _setting("COMMUNITY_IMAGE_MAX_PIXELS", 40_000_000)


def max_side() -> int:
    return _setting("COMMUNITY_IMAGE_MAX_SIDE", 10_000)


def stored_long_edge() -> int:
    return _setting("COMMUNITY_IMAGE_LONG_EDGE", 2048)


def thumbnail_long_edge() -> int:
    return _setting("COMMUNITY_THUMBNAIL_LONG_EDGE", 400)


def register_decoders() -> None:
    """HEIC/HEIF (iPhone photos) through pillow-heif's Pillow plugin."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


@dataclass(frozen=True)
class ProcessedImage:
    content: bytes
    content_type: str
    extension: str
    width: int
    height: int
    thumbnail: bytes


def _refuse(code: str, ja: str, en: str) -> ApiError:
    return ApiError(code, status_code=400, fields={"file": [f"{ja} / {en}"]})


def _fit(image: Image.Image, long_edge: int) -> Image.Image:
    if max(image.size) <= long_edge:
        return image
    fitted = image.copy()
    fitted.thumbnail((long_edge, long_edge), Image.Resampling.LANCZOS)
    return fitted


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG: transparent areas become white, palette/greyscale/CMYK become RGB."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def _encode(image: Image.Image, fmt: str, *, icc_profile: bytes | None) -> bytes:
    # Nothing from the original's info dict is passed on: no exif, comment, XMP or text chunks.
    image.info = {}
    out = io.BytesIO()
    extra = {"icc_profile": icc_profile} if icc_profile else {}
    if fmt == "JPEG":
        image.save(out, format="JPEG", quality=85, optimize=True, progressive=True, **extra)
    else:
        image.save(out, format="PNG", optimize=True, **extra)
    return out.getvalue()


def process_upload(upload) -> ProcessedImage:
    """Validates and re-encodes an uploaded file (Django UploadedFile or any binary file object)."""
    size = getattr(upload, "size", None)
    if size is None:
        upload.seek(0, io.SEEK_END)
        size = upload.tell()
    if size == 0:
        raise _refuse("invalid_image", "ファイルが空です", "the file is empty")
    if size > max_bytes():
        raise _refuse("image_too_large", f"画像は{max_bytes() // (1024 * 1024)}MBまでです",
                      f"images may be at most {max_bytes() // (1024 * 1024)} MB")
    upload.seek(0)
    with warnings.catch_warnings():
        # Pillow warns (rather than fails) between MAX_IMAGE_PIXELS and twice that; treat it as a bomb.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            source = Image.open(upload, formats=ACCEPTED_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _refuse("image_too_many_pixels", "画像の画素数が多すぎます", "the image has too many pixels") from None
        except Exception:
            # UnidentifiedImageError, truncated headers, decoder errors: not an image we accept.
            raise _refuse("invalid_image", "JPEG・PNG・HEICの画像を送ってください",
                          "send a JPEG, PNG or HEIC image") from None
        with source:
            width, height = source.size
            # The header's size is checked before a single pixel is decoded (decompression bombs).
            if width < 1 or height < 1 or width * height > max_pixels() or max(width, height) > max_side():
                raise _refuse("image_too_many_pixels",
                              f"画像は{max_pixels() // 1_000_000}00万画素・一辺{max_side()}ピクセルまでです",
                              f"images may have at most {max_pixels():,} pixels and {max_side()} px per side")
            source_format = source.format
            icc_profile = source.info.get("icc_profile")
            try:
                if source_format == "JPEG":
                    # Decode at reduced scale when the stored copy is smaller anyway (much faster).
                    source.draft("RGB", (stored_long_edge(), stored_long_edge()))
                source.load()
                oriented = ImageOps.exif_transpose(source)  # keep the picture upright, then drop EXIF
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise _refuse("image_too_many_pixels", "画像の画素数が多すぎます",
                              "the image has too many pixels") from None
            except Exception:
                raise _refuse("invalid_image", "画像データが壊れています", "the image data is damaged") from None

    keep_png = source_format == "PNG"
    display = _fit(oriented, stored_long_edge())
    if keep_png:
        if display.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            display = display.convert("RGBA")
        content = _encode(display, "PNG", icc_profile=icc_profile)
        content_type, extension = "image/png", ".png"
    else:
        display = _flatten(display)
        content = _encode(display, "JPEG", icc_profile=icc_profile)
        content_type, extension = "image/jpeg", ".jpg"
    thumbnail = _encode(_flatten(_fit(display, thumbnail_long_edge())), "JPEG", icc_profile=icc_profile)
    return ProcessedImage(content=content, content_type=content_type, extension=extension,
                          width=display.width, height=display.height, thumbnail=thumbnail)
