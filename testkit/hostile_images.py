"""The hostile avatar corpus, made on the fly (never committed as binaries): used by the
regression tests and by `make bench-avatars`, which measures each in a fresh process."""

import io
import struct
import zlib
from collections.abc import Callable

from PIL import Image

from common import images


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def jpeg_scan_bomb(side: int = 6320, scans: int = 20_000) -> bytes:
    """A progressive greyscale JPEG whose last scan is repeated `scans` times (each one a pass
    over every block of the image)."""
    data = encode(Image.new("L", (side, side), 128), "JPEG", progressive=True, quality=30)
    last = data.rfind(b"\xff\xda")
    return data[:last] + data[last:-2] * scans + b"\xff\xd9"


def jpeg_scans(data: bytes) -> int:
    """The number of scans (SOS segments) of a JPEG, counted without decoding, up to one past
    the limit (the pipeline refuses more than images.MAX_JPEG_SCANS while it checks the structure)."""
    scans, offset, size = 0, 2, len(data)
    while offset + 4 <= size and scans <= images.MAX_JPEG_SCANS:
        marker = data[offset + 1]
        if data[offset] != 0xFF or marker == 0xD9:
            break
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker in (0x00, 0x01):
            offset += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        offset += 2 + length
        if marker == 0xDA:
            scans += 1
            offset = images._end_of_entropy_data(data, offset)
    return scans


def square_at(cap: int) -> int:
    return int(cap**0.5)


def progressive_jpeg_at_cap() -> bytes:
    side = square_at(images.PIXEL_CAPS["PROGRESSIVE_JPEG"])
    return encode(Image.effect_noise((side, side), 60).convert("RGB"), "JPEG", progressive=True, subsampling=0)


def progressive_jpeg_most_scans() -> bytes:
    """At the pixel cap, with the last scan repeated up to the most scans allowed."""
    side = square_at(images.PIXEL_CAPS["PROGRESSIVE_JPEG"])
    data = encode(Image.effect_noise((side, side), 8).convert("RGB"), "JPEG", progressive=True, quality=40)
    last = data.rfind(b"\xff\xda")
    extra = images.MAX_JPEG_SCANS - jpeg_scans(data)
    return data[:last] + data[last:-2] * (extra + 1) + b"\xff\xd9"


def baseline_jpeg_at_cap() -> bytes:
    side = square_at(images.PIXEL_CAPS["JPEG"])
    return encode(Image.new("RGB", (side, side), "white"), "JPEG", quality=50)


def lossless_webp(side: int) -> bytes:
    return encode(Image.new("RGB", (side, side), "white"), "WEBP", lossless=True)


def png_at_cap() -> bytes:
    side = square_at(images.PIXEL_CAPS["PNG"])
    return encode(Image.new("RGBA", (side, side), (0, 0, 0, 0)), "PNG")


def apng() -> bytes:
    frames = [Image.new("RGB", (64, 64), colour) for colour in ("red", "blue")]
    return encode(frames[0], "PNG", save_all=True, append_images=frames[1:])


def jpeg_with_comment(comment: bytes = b"GPS 48.8584N 2.2945E " * 3000) -> bytes:
    return encode(Image.new("RGB", (64, 64), "red"), "JPEG", comment=comment[:65_000])


def png_with_icc(profile: bytes = b"\x00" * 60_000) -> bytes:
    return encode(Image.new("RGB", (64, 64), "red"), "PNG", icc_profile=profile)


def png_text_chunk(text: bytes = b"owner at 48.8584N 2.2945E") -> bytes:
    """A PNG with a compressed text chunk (zTXt) beside the pixels."""
    data = encode(Image.new("RGB", (64, 64), "red"), "PNG")
    body = b"Comment\x00\x00" + zlib.compress(text)
    chunk = len(body).to_bytes(4, "big") + b"zTXt" + body + zlib.crc32(b"zTXt" + body).to_bytes(4, "big")
    iend = data.rfind(b"\x00\x00\x00\x00IEND")
    return data[:iend] + chunk + data[iend:]


FLOOD_BYTES = 9_500_000  # under MAX_UPLOAD_MB (10), as the attacks were


def jpeg_segment_flood(segment: bytes = b"\xff\xe5\x00\x02", total: int = FLOOD_BYTES) -> bytes:
    """An 8x8 JPEG preceded by as many copies of one segment (an empty APP5 by default) as fit."""
    data = encode(Image.new("RGB", (8, 8), "red"), "JPEG")
    return data[:2] + segment * ((total - len(data)) // len(segment)) + data[2:]


def jpeg_dqt_flood() -> bytes:
    data = encode(Image.new("RGB", (8, 8), "red"), "JPEG")
    start = data.index(b"\xff\xdb")
    length = int.from_bytes(data[start + 2 : start + 4], "big")
    return jpeg_segment_flood(data[start : start + 2 + length])


def png_chunk(kind: bytes, body: bytes = b"") -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def png_chunk_flood(chunk: bytes = png_chunk(b"prVt"), total: int = FLOOD_BYTES) -> bytes:
    """An 8x8 PNG with as many copies of one chunk before its pixels as fit."""
    data = encode(Image.new("RGB", (8, 8), "red"), "PNG")
    idat = data.index(b"IDAT") - 4
    return data[:idat] + chunk * ((total - len(data)) // len(chunk)) + data[idat:]


def png_idat_fragments(count: int = 200_000) -> bytes:
    """An 8x8 PNG whose image data is followed by thousands of empty IDAT fragments."""
    data = encode(Image.new("RGB", (8, 8), "red"), "PNG")
    iend = data.rfind(b"\x00\x00\x00\x00IEND")
    return data[:iend] + png_chunk(b"IDAT") * count + data[iend:]


def png_with_exif_chunk() -> bytes:
    """A PNG with an eXIf chunk that is not a TIFF structure."""
    data = encode(Image.new("RGB", (8, 8), "red"), "PNG")
    idat = data.index(b"IDAT") - 4
    return data[:idat] + png_chunk(b"eXIf", b"garbage, not TIFF") + data[idat:]


def webp_with_bad_exif() -> bytes:
    """An extended WebP whose EXIF chunk is not a TIFF structure."""
    image = encode(Image.new("RGB", (8, 8), "red"), "WEBP", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08")
    start = image.index(b"EXIF")
    length = int.from_bytes(image[start + 4 : start + 8], "little")
    body = b"Exif\x00\x00garbage!"[:length].ljust(length, b"\xff")
    return image[: start + 8] + body + image[start + 8 + length :]


# name -> (maker, expected HTTP status of an upload)
CORPUS: dict[str, tuple[Callable[[], bytes], int]] = {
    "JPEG scan bomb 6320x6320, 20,000 scans": (jpeg_scan_bomb, 400),
    "progressive JPEG at its cap (noise)": (progressive_jpeg_at_cap, 201),
    "progressive JPEG at its cap, most scans": (progressive_jpeg_most_scans, 201),
    "baseline JPEG at its cap": (baseline_jpeg_at_cap, 201),
    "lossless WebP 6300x6300 (1.6 KB)": (lambda: lossless_webp(6300), 400),
    "lossless WebP at its cap": (lambda: lossless_webp(square_at(images.PIXEL_CAPS["WEBP"])), 201),
    "PNG RGBA at its cap": (png_at_cap, 201),
    "APNG": (apng, 400),
    "JPEG with a 60 KB comment": (jpeg_with_comment, 201),
    "PNG with a 60 KB ICC profile": (png_with_icc, 201),
    "JPEG 8x8 after 2,375,000 empty APP5 segments": (jpeg_segment_flood, 400),
    "JPEG 8x8 after a COM segment flood": (lambda: jpeg_segment_flood(b"\xff\xfe\x00\x02"), 400),
    "JPEG 8x8 after a DQT flood": (jpeg_dqt_flood, 400),
    "PNG 8x8 after an ancillary chunk flood": (png_chunk_flood, 400),
    "PNG 8x8 after a tEXt flood": (lambda: png_chunk_flood(png_chunk(b"tEXt", b"k\x00v")), 400),
    "PNG 8x8 with 200,000 empty IDAT fragments": (png_idat_fragments, 400),
    "PNG with a non-TIFF eXIf chunk": (png_with_exif_chunk, 201),
    "WebP with a non-TIFF EXIF chunk": (webp_with_bad_exif, 201),
}
