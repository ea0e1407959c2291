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


def _decode(data: bytes) -> Image.Image:
    max_pixels = settings.MAX_AVATAR_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format
                if fmt not in FORMATS:
                    raise _invalid("Avatar must be a JPEG, PNG or WebP image.")
                width, height = probe.size
                if width * height > max_pixels:
                    raise _invalid(f"Avatar must be at most {max_pixels // 1_000_000} megapixels.")
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
    """Re-encode from pixels only: EXIF, GPS, comments and appended bytes do not survive."""
    fmt = image.format
    image = ImageOps.exif_transpose(image)
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
