"""The avatar pipeline: decode, check, re-encode, store under a random name."""

import io
import logging
import secrets
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, ImageOps, UnidentifiedImageError

from common.exceptions import PayloadTooLarge, ServiceUnavailable, ValidationFailed

logger = logging.getLogger(__name__)

FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
AVATAR_DIR = "avatars"
MAX_SIDE = 1024  # stored avatars are at most this many pixels on their longer side
# Decoded pixels per format, so that the worst accepted image stays within the budget of
# the hardening budget (1 s of CPU, 150 MB above an idle worker; `make bench-avatars` measures it).
# A baseline JPEG decodes at 1/8 scale (draft), so it may use the contract's full 40 MP; a
# progressive JPEG keeps every coefficient of the full image in memory (2 bytes each) and
# walks them once per scan; PNG and WebP decode at full size (lossless WebP is the slowest).
PIXEL_CAPS = {"JPEG": 40_000_000, "PROGRESSIVE_JPEG": 16_000_000, "PNG": 12_000_000, "WEBP": 6_000_000}
MAX_JPEG_SCANS = 16  # libjpeg's own progressive scripts use 6 (grey) to 10 (colour) scans


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"avatar": [message]})


def _trailing_data(data: bytes, fmt: str) -> bool:
    """True when bytes follow the image's end (a payload smuggled after a valid image)."""
    if fmt == "PNG":
        offset = 8
        while offset + 8 <= len(data):
            length, kind = struct.unpack(">I4s", data[offset : offset + 8])
            offset += 12 + length
            if kind == b"IEND":
                return offset < len(data)
        return False  # truncated: decoding reports it
    if fmt == "WEBP":
        (riff_size,) = struct.unpack("<I", data[4:8])
        return 8 + riff_size + (riff_size & 1) < len(data)
    return not data.rstrip(b"\x00").endswith(b"\xff\xd9")


def jpeg_scans(data: bytes) -> int:
    """The number of scans (SOS segments) of a JPEG, counted by walking its segments without
    decoding: each progressive scan costs a pass over the whole image, so a file of thousands of
    tiny scans would take a worker minutes."""
    scans, offset, size = 0, 2, len(data)
    while offset + 4 <= size:
        if data[offset] != 0xFF:
            offset = data.find(b"\xff", offset)
            if offset < 0:
                break
            continue
        marker = data[offset + 1]
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker in (0x00, 0x01):  # fill, RSTn, stuffing, TEM
            offset += 2 if marker != 0xFF else 1
            continue
        if marker == 0xD9:  # EOI
            break
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        offset += 2 + length
        if marker == 0xDA:  # SOS: the entropy-coded data runs to the next marker
            scans += 1
            if scans > MAX_JPEG_SCANS:
                break
            while True:
                offset = data.find(b"\xff", offset)
                if offset < 0 or offset + 1 >= size:
                    return scans
                following = data[offset + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    offset += 2
                    continue
                break
    return scans


def _pixel_cap(probe: Image.Image) -> int:
    fmt = probe.format
    if fmt == "JPEG" and probe.info.get("progressive"):
        fmt = "PROGRESSIVE_JPEG"
    return min(PIXEL_CAPS[fmt], settings.MAX_AVATAR_PIXELS)


def _decode(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format
                if fmt not in FORMATS:
                    raise _invalid("Avatar must be a JPEG, PNG or WebP image.")
                width, height = probe.size
                max_pixels = _pixel_cap(probe)
                if width * height > max_pixels:
                    raise _invalid(f"Avatar must be at most {max_pixels // 1_000_000} megapixels.")
                if fmt == "JPEG" and jpeg_scans(data) > MAX_JPEG_SCANS:
                    raise _invalid(f"Avatar JPEG may have at most {MAX_JPEG_SCANS} scans.")
                if getattr(probe, "n_frames", 1) > 1:
                    raise _invalid("Avatar must be a still image, not an animation.")
                probe.verify()
            if _trailing_data(data, fmt):
                raise _invalid("Avatar has data after the end of the image.")
            image = Image.open(io.BytesIO(data))
            if fmt == "JPEG":
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 scale when large
            image.load()
            image.thumbnail((MAX_SIDE, MAX_SIDE))  # reduce() first: bounded time and memory from here on
            image.format = fmt
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _invalid("Avatar must be a JPEG, PNG or WebP image.") from exc
        except (OSError, SyntaxError, ValueError, struct.error) as exc:
            raise _invalid("Avatar image is corrupt or truncated.") from exc
    return image


def _encode(image: Image.Image) -> bytes:
    """Re-encode from pixels only: EXIF, XMP, GPS, comments, ICC profiles, text chunks and
    appended bytes do not survive (Pillow writes what `info` holds, so it is emptied)."""
    fmt = image.format
    image = ImageOps.exif_transpose(image)
    image.info = {}
    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=90, optimize=True)
    elif fmt == "PNG":
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            image = image.convert("RGBA")
        image.save(out, "PNG", optimize=True)
    else:
        image.convert("RGBA" if "A" in image.getbands() else "RGB").save(out, "WEBP", quality=90)
    return out.getvalue()


class CleanAvatar(ContentFile):
    """An avatar that went through the pipeline (re-encoded, random name)."""


def process_avatar(upload: UploadedFile) -> CleanAvatar:
    """A checked, cleaned avatar ready to store; 413 when too large, 400 when not an image."""
    limit = settings.MAX_UPLOAD_MB * 1024 * 1024
    if upload.size is None or upload.size > limit:
        raise PayloadTooLarge(
            f"Avatar must be at most {settings.MAX_UPLOAD_MB} MB.",
            details={"avatar": [f"Avatar must be at most {settings.MAX_UPLOAD_MB} MB."]},
        )
    upload.seek(0)
    data = upload.read(limit + 1)
    image = _decode(data)
    fmt = image.format
    return CleanAvatar(_encode(image), name=f"{secrets.token_urlsafe(16)}.{FORMATS[fmt]}")


@contextmanager
def stored_avatar(upload: File | None) -> Iterator[str | None]:
    """Store a processed avatar for the duration of a block; remove it if the block fails."""
    if upload is None:
        yield None
        return
    content = upload if isinstance(upload, CleanAvatar) else process_avatar(upload)
    try:
        name = default_storage.save(f"{AVATAR_DIR}/{content.name}", content)
    except OSError as exc:  # full, read-only or missing upload folder
        logger.error("Avatar storage failed: %s", exc)
        raise ServiceUnavailable("Avatar storage is unavailable, try again later") from exc
    try:
        yield name
    except BaseException:
        default_storage.delete(name)
        raise


def delete_avatar_file(name: str) -> None:
    if name:
        default_storage.delete(name)
