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


# The structure outside the pixels, bounded before any decoder sees the file: Pillow walks every
# segment or chunk in Python, so a flood of millions of empty ones costs seconds and hundreds of
# MB although the image is 8x8. Real images stay far below (a camera JPEG has about 12 segments
# and 64 KB of EXIF; a PNG from libpng is one IDAT chunk per 8 KB of pixels).
MAX_SEGMENTS = 128  # JPEG marker segments (APPn, COM, DQT, DHT, SOF, SOS...), scans included
MAX_PNG_CHUNKS = 2048  # chunks of every kind; a 10 MB PNG in 8 KB IDATs has 1,280
MAX_ANCILLARY_CHUNKS = 64  # PNG chunks that are neither IHDR, PLTE, IDAT nor IEND; WebP chunks
MIN_IDAT_BYTES = 1024  # the average IDAT fragment; libpng writes 8 KB fragments, Pillow 64 KB
MAX_METADATA_BYTES = 1024 * 1024  # bytes in segments or chunks that are not pixel data
PNG_PIXEL_CHUNKS = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"fdAT"}
WEBP_PIXEL_CHUNKS = {b"VP8 ", b"VP8L", b"ALPH", b"ANMF"}


def _structure(data: bytes, fmt: str) -> None:
    """Refuse a file whose structure outside the pixels is out of bounds, or with bytes after the
    image's end (a payload smuggled after a valid image). One pass over the container."""
    walk = {"JPEG": _jpeg_structure, "PNG": _png_structure, "WEBP": _webp_structure}[fmt]
    metadata, trailing = walk(data)
    if metadata > MAX_METADATA_BYTES:
        raise _invalid(f"Avatar metadata may be at most {MAX_METADATA_BYTES // 1024} KB.")
    if trailing:
        raise _invalid("Avatar has data after the end of the image.")


def _jpeg_structure(data: bytes) -> tuple[int, bool]:
    segments, metadata, scans, offset, size = 0, 0, 0, 2, len(data)
    while offset + 4 <= size:
        if data[offset] != 0xFF:
            raise _invalid("Avatar image is corrupt or truncated.")
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker == 0xD9:  # EOI
            return metadata, bool(data[offset + 2 :].rstrip(b"\x00"))
        if 0xD0 <= marker <= 0xD7 or marker in (0x00, 0x01):  # RSTn, stuffing, TEM: no length
            offset += 2
            continue
        segments += 1
        if segments > MAX_SEGMENTS:
            raise _invalid(f"Avatar JPEG may have at most {MAX_SEGMENTS} segments.")
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:  # APPn and COM: metadata
            metadata += length
        offset += 2 + length
        if marker == 0xDA:  # SOS: the entropy-coded data runs to the next marker
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise _invalid(f"Avatar JPEG may have at most {MAX_JPEG_SCANS} scans.")
            offset = _end_of_entropy_data(data, offset)
    return metadata, False  # truncated: decoding reports it


def _end_of_entropy_data(data: bytes, offset: int) -> int:
    size = len(data)
    while True:
        offset = data.find(b"\xff", offset)
        if offset < 0 or offset + 1 >= size:
            return size
        following = data[offset + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            offset += 1 if following == 0xFF else 2
            continue
        return offset


def _png_structure(data: bytes) -> tuple[int, bool]:
    chunks, ancillary, metadata, idat_chunks, idat_bytes, offset = 0, 0, 0, 0, 0, 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        offset += 12 + length
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise _invalid(f"Avatar PNG may have at most {MAX_PNG_CHUNKS} chunks.")
        if kind == b"IDAT":
            idat_chunks += 1
            idat_bytes += length
        elif kind not in PNG_PIXEL_CHUNKS:
            ancillary += 1
            metadata += length
            if ancillary > MAX_ANCILLARY_CHUNKS:
                raise _invalid(f"Avatar PNG may have at most {MAX_ANCILLARY_CHUNKS} ancillary chunks.")
        if kind == b"IEND":
            if idat_chunks > 1 and idat_bytes < idat_chunks * MIN_IDAT_BYTES:
                raise _invalid("Avatar PNG has too many image data fragments.")
            return metadata, offset < len(data)
    return metadata, False  # truncated: decoding reports it


def _webp_structure(data: bytes) -> tuple[int, bool]:
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = min(8 + riff_size, len(data))
    chunks, metadata, offset = 0, 0, 12
    while offset + 8 <= end:
        kind, length = struct.unpack("<4sI", data[offset : offset + 8])
        offset += 8 + length + (length & 1)
        chunks += 1
        if chunks > MAX_ANCILLARY_CHUNKS:
            raise _invalid(f"Avatar WebP may have at most {MAX_ANCILLARY_CHUNKS} chunks.")
        if kind not in WEBP_PIXEL_CHUNKS and kind != b"VP8X":
            metadata += length
    return metadata, 8 + riff_size + (riff_size & 1) < len(data)


def _pixel_cap(probe: Image.Image) -> int:
    fmt = probe.format
    if fmt == "JPEG" and probe.info.get("progressive"):
        fmt = "PROGRESSIVE_JPEG"
    return min(PIXEL_CAPS[fmt], settings.MAX_AVATAR_PIXELS)


def _container(data: bytes) -> str:
    """The format by its signature, before any decoder is involved."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WEBP"
    raise _invalid("Avatar must be a JPEG, PNG or WebP image.")


def _decode(data: bytes) -> Image.Image:
    """Decode once, bounded: the container's structure is checked first, then its pixel count,
    then the pixels are decoded (at reduced scale where the format allows), scaled and turned
    upright. Every decoding failure, EXIF included, is a 400."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            fmt = _container(data)
            _structure(data, fmt)
            image = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = image.size
            max_pixels = _pixel_cap(image)
            if width * height > max_pixels:
                raise _invalid(f"Avatar must be at most {max_pixels // 1_000_000} megapixels.")
            if getattr(image, "n_frames", 1) > 1:
                raise _invalid("Avatar must be a still image, not an animation.")
            if fmt == "JPEG":
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 scale when large
            image.load()
            image.thumbnail((MAX_SIDE, MAX_SIDE))  # reduce() first: bounded time and memory from here on
            image = _upright(image)
            image.format = fmt
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _invalid("Avatar must be a JPEG, PNG or WebP image.") from exc
        except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, struct.error) as exc:
            raise _invalid("Avatar image is corrupt or truncated.") from exc
    return image


def _upright(image: Image.Image) -> Image.Image:
    """Turned as its EXIF orientation says; an EXIF block that does not parse is ignored
    (it is dropped on re-encoding anyway)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, struct.error):
        return image


def _encode(image: Image.Image) -> bytes:
    """Re-encode from pixels only: EXIF, XMP, GPS, comments, ICC profiles, text chunks and
    appended bytes do not survive (Pillow writes what `info` holds, so it is emptied)."""
    fmt = image.format
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
    with stored_image(upload if isinstance(upload, CleanAvatar) else process_avatar(upload), AVATAR_DIR) as name:
        yield name


@contextmanager
def stored_image(content: CleanAvatar, folder: str) -> Iterator[str]:
    """Store a processed image in `folder` for the duration of a block; remove it if the block fails."""
    try:
        name = default_storage.save(f"{folder}/{content.name}", content)
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
