"""What a file really is, decided from its bytes alone (sans I/O): PNG, JPEG, WebP, GIF or PDF.

The name a client gives a file and the type it claims are never believed. A file is accepted only
when its first bytes are one of the five signatures AND the whole file walks as that format: every
PNG chunk with its CRC and its image data inflating to exactly the size its header promises, every
JPEG segment up to one end marker, every GIF block up to its trailer (each frame within the GIF's
screen, at most MAX_GIF_FRAMES), every WebP chunk filling the RIFF size exactly; nothing after the end
(no HTML or script riding behind a picture), and sides within MAX_SIDE and MAX_PIXELS (no
decompression bomb), and an animation's frames times its screen's pixels within MAX_ANIMATION_PIXELS
(a browser draws each frame on the whole screen: a 7 KB GIF of 300 frames on 6000 x 6000 took an
agent's tab to 550 MB). An animated PNG is refused: its frames' data (``fdAT``) would pass
unbounded. The bridge's environment has no imaging library, so the images are checked, not re-encoded (docs/security.md "Attachments").

A PDF is checked by handoff.pdfcheck (refused when anything in it could run or carry something).
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass
from typing import Iterator, Tuple

from handoff.exceptions import FileRefused
from handoff.pdfcheck import check_pdf

__all__ = ["MAX_ANIMATION_PIXELS", "MAX_PIXELS", "MAX_SIDE", "Checked", "FileKind", "check_file", "claims_known_type"]

MAX_SIDE = 12_000  # pixels along either side
MAX_PIXELS = 40_000_000  # width x height (a 48-megapixel photo is refused; a 12-megapixel one is fine)
MAX_GIF_FRAMES = 500
MAX_ANIMATION_PIXELS = 100_000_000  # frames x the screen's width x height (1000 x 1000 x 100 frames)
INFLATE_PIECE = 1 << 20  # inflated data is counted in pieces of this size, never kept whole


class FileKind(enum.Enum):
    """The five kinds accepted; the value is the content type stored and served."""

    PNG = "image/png"
    JPEG = "image/jpeg"
    WEBP = "image/webp"
    GIF = "image/gif"
    PDF = "application/pdf"

    @property
    def extension(self) -> str:
        return {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif", "PDF": "pdf"}[self.name]

    @property
    def is_image(self) -> bool:
        return self is not FileKind.PDF


@dataclass(frozen=True)
class Checked:
    kind: FileKind
    width: int = 0  # images only
    height: int = 0


_CLAIMED_EXTENSIONS = {"png", "jpg", "jpeg", "jpe", "jfif", "webp", "gif", "pdf"}


def claims_known_type(name: str, content_type: str) -> bool:
    """Whether a file's name or claimed type says it is one of the five kinds (then content that is not
    one of them is a disguised file, not merely an unsupported one)."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    claimed = content_type.split(";")[0].strip().lower()
    return extension in _CLAIMED_EXTENSIONS or claimed in {kind.value for kind in FileKind} or claimed == "image/jpg"


def check_file(content: bytes, name: str = "", content_type: str = "") -> Checked:
    """The file's kind and size in pixels, or FileRefused (``unsupported_type``, ``disguised_file``,
    ``malformed_file``, ``unsafe_file``) saying why not."""
    if not content:
        raise FileRefused("the file is empty", code="malformed_file")
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(content)
    if content.startswith(b"\xff\xd8\xff"):
        return _jpeg(content)
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return _gif(content)
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return _webp(content)
    if content.startswith(b"%PDF-"):
        return _pdf(content)
    if claims_known_type(name, content_type):
        raise FileRefused("this file is not what its name or type says: its content is not a PNG, JPEG, WebP, "
                          "GIF or PDF", code="disguised_file")
    raise FileRefused("only PNG, JPEG, WebP and GIF images and PDF documents can be sent", code="unsupported_type")


def _within_limits(kind: str, width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise FileRefused.malformed(kind, "it has no pixels")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise FileRefused(f"this image is {width} x {height} pixels; at most {MAX_SIDE} a side and "
                          f"{MAX_PIXELS // 1_000_000} megapixels", code="malformed_file")


def _animation_within_limits(kind: str, width: int, height: int, frames: int) -> None:
    if frames > 1 and frames * width * height > MAX_ANIMATION_PIXELS:
        raise FileRefused(f"this animated {kind} has {frames} frames of {width} x {height} pixels; at most "
                          f"{MAX_ANIMATION_PIXELS // 1_000_000} megapixels in all frames together",
                          code="malformed_file")


# ---- PNG ----------------------------------------------------------------------------------------

_PNG_BITS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_PNG_CRITICAL = {b"IHDR", b"PLTE", b"IDAT", b"IEND"}
_APNG_CHUNKS = {b"acTL", b"fcTL", b"fdAT"}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _png_chunks(content: bytes) -> Iterator[Tuple[bytes, bytes]]:
    position = 8
    while position < len(content):
        if position + 12 > len(content):
            raise FileRefused.malformed("PNG", "a chunk is cut short")
        length, kind = struct.unpack(">I4s", content[position:position + 8])
        end = position + 12 + length
        if length > 0x7FFFFFFF or end > len(content) or not kind.isalpha():
            raise FileRefused.malformed("PNG", "a chunk is cut short or misnamed")
        data = content[position + 8:end - 4]
        if zlib.crc32(kind + data) != struct.unpack(">I", content[end - 4:end])[0]:
            raise FileRefused.malformed("PNG", f"the {kind.decode('latin-1')} chunk's checksum is wrong")
        yield kind, data
        position = end


def _png(content: bytes) -> Checked:
    chunks = _png_chunks(content)
    kind, header = next(chunks, (b"", b""))
    if kind != b"IHDR" or len(header) != 13:
        raise FileRefused.malformed("PNG", "it does not start with its header")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", header)
    if depth not in _PNG_BITS.get(colour, ()) or compression or filtering or interlace > 1:
        raise FileRefused.malformed("PNG", "its header is not valid")
    _within_limits("PNG", width, height)
    inflater, inflated, seen_palette, ended, data_state = zlib.decompressobj(), 0, False, False, "before"
    expected = _png_raw_size(width, height, depth * _PNG_CHANNELS[colour], bool(interlace))
    for kind, data in chunks:
        if ended:
            raise FileRefused.malformed("PNG", "there is data after its end")
        if kind == b"IHDR" or (kind == b"IDAT" and data_state == "after") or (kind == b"PLTE" and data_state != "before"):
            raise FileRefused.malformed("PNG", "its chunks are out of order")
        if data_state == "in" and kind != b"IDAT":
            data_state = "after"  # the image data chunks come one after another
        if kind[0:1].isupper() and kind not in _PNG_CRITICAL:
            raise FileRefused.malformed("PNG", "it has a chunk no viewer knows")
        if kind in _APNG_CHUNKS:  # frames the checks here would not inflate or bound
            raise FileRefused("animated PNGs are not accepted (a GIF or WebP animation is)", code="unsupported_type")
        if kind == b"PLTE":
            seen_palette = True
        elif kind == b"IDAT":
            data_state = "in"
            inflated += _inflated_size(inflater, data, expected - inflated)
            if inflated > expected:
                raise FileRefused.malformed("PNG", "its image data is larger than its size says")
        elif kind == b"IEND":
            ended = True
    if not ended:
        raise FileRefused.malformed("PNG", "it has no end")
    if colour == 3 and not seen_palette:
        raise FileRefused.malformed("PNG", "its palette is missing")
    if inflated != expected or not inflater.eof:
        raise FileRefused.malformed("PNG", "its image data is shorter than its size says")
    return Checked(FileKind.PNG, width, height)


def _inflated_size(inflater: "zlib._Decompress", data: bytes, room: int) -> int:
    """How many bytes ``data`` inflates to, counted a piece at a time and never kept (at most INFLATE_PIECE in
    memory), stopping once past ``room``."""
    total = 0
    try:
        while True:
            piece = len(inflater.decompress(data, INFLATE_PIECE))
            total += piece
            data = inflater.unconsumed_tail
            if total > room or (not data and piece < INFLATE_PIECE):
                return total
    except zlib.error:
        raise FileRefused.malformed("PNG", "its image data does not inflate") from None


def _png_raw_size(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> int:
    """Bytes the image data inflates to: per row a filter byte and the row's pixels."""
    passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
    size = 0
    for x0, y0, dx, dy in passes:
        columns, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if columns > 0 and rows > 0:
            size += rows * (1 + -(-(columns * bits_per_pixel) // 8))
    return size


# ---- JPEG ---------------------------------------------------------------------------------------

_JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_TABLES = {0xC4, 0xCC, 0xDB, 0xDD, 0xFE} | set(range(0xE0, 0xF0))


def _jpeg(content: bytes) -> Checked:
    position, size, scans = 2, None, 0
    while True:
        if position + 2 > len(content) or content[position] != 0xFF:
            raise FileRefused.malformed("JPEG", "a segment is cut short or misplaced")
        while position + 1 < len(content) and content[position + 1] == 0xFF:  # fill bytes
            position += 1
        marker = content[position + 1] if position + 1 < len(content) else -1
        position += 2
        if marker == 0xD9:
            if position != len(content):
                raise FileRefused.malformed("JPEG", "there is data after its end")
            if size is None or not scans:
                raise FileRefused.malformed("JPEG", "it has no image")
            return Checked(FileKind.JPEG, *size)
        if position + 2 > len(content):
            raise FileRefused.malformed("JPEG", "a segment is cut short")
        length = struct.unpack(">H", content[position:position + 2])[0]
        segment = content[position + 2:position + length]
        if length < 2 or position + length > len(content):
            raise FileRefused.malformed("JPEG", "a segment is cut short")
        position += length
        if marker in _JPEG_FRAMES:
            if size is not None or len(segment) < 6:
                raise FileRefused.malformed("JPEG", "its frame header is not valid")
            _, height, width, components = struct.unpack(">BHHB", segment[:6])
            if components not in (1, 3, 4) or len(segment) != 6 + 3 * components:
                raise FileRefused.malformed("JPEG", "its frame header is not valid")
            _within_limits("JPEG", width, height)
            size = (width, height)
        elif marker == 0xDA:
            if size is None:
                raise FileRefused.malformed("JPEG", "a scan comes before its frame")
            scans += 1
            position = _jpeg_scan_end(content, position)
        elif marker not in _JPEG_TABLES:
            raise FileRefused.malformed("JPEG", f"it has an unexpected marker {marker:#04x}")


def _jpeg_scan_end(content: bytes, position: int) -> int:
    """Where the entropy-coded data after a scan header ends: the next marker that is neither a
    stuffed zero, a fill byte nor a restart marker."""
    while True:
        position = content.find(b"\xff", position)
        if position < 0 or position + 1 >= len(content):
            raise FileRefused.malformed("JPEG", "it has no end")
        following = content[position + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            position += 2
        elif following == 0xFF:
            position += 1
        else:
            return position


# ---- GIF ----------------------------------------------------------------------------------------

def _gif(content: bytes) -> Checked:
    if len(content) < 13:
        raise FileRefused.malformed("GIF", "its header is cut short")
    width, height, packed = struct.unpack("<HHB", content[6:11])
    _within_limits("GIF", width, height)
    position = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    frames = 0
    while True:
        if position >= len(content):
            raise FileRefused.malformed("GIF", "it has no end")
        block = content[position]
        if block == 0x3B:
            if position + 1 != len(content):
                raise FileRefused.malformed("GIF", "there is data after its end")
            if not frames:
                raise FileRefused.malformed("GIF", "it has no image")
            _animation_within_limits("GIF", width, height, frames)
            return Checked(FileKind.GIF, width, height)
        if block == 0x21:
            position = _gif_sub_blocks(content, position + 2)
        elif block == 0x2C:
            frames += 1
            if frames > MAX_GIF_FRAMES or position + 10 > len(content):
                raise FileRefused.malformed("GIF", f"it has more than {MAX_GIF_FRAMES} frames or a frame is cut short")
            left, top, frame_width, frame_height, frame_packed = struct.unpack("<HHHHB", content[position + 1:position + 10])
            if frame_width < 1 or frame_height < 1:
                raise FileRefused.malformed("GIF", "a frame has no pixels")
            if left + frame_width > width or top + frame_height > height:
                raise FileRefused.malformed("GIF", "a frame reaches beyond its screen")
            position += 10 + (3 << ((frame_packed & 7) + 1) if frame_packed & 0x80 else 0)
            if position >= len(content) or not 2 <= content[position] <= 8:
                raise FileRefused.malformed("GIF", "a frame's data is not valid")
            position = _gif_sub_blocks(content, position + 1)
        else:
            raise FileRefused.malformed("GIF", f"it has an unexpected block {block:#04x}")


def _gif_sub_blocks(content: bytes, position: int) -> int:
    while True:
        if position >= len(content):
            raise FileRefused.malformed("GIF", "a block is cut short")
        length = content[position]
        position += 1 + length
        if length == 0:
            return position


# ---- WebP ---------------------------------------------------------------------------------------

_WEBP_CHUNKS = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP", b"EXIF", b"XMP "}


def _webp(content: bytes) -> Checked:
    if struct.unpack("<I", content[4:8])[0] + 8 != len(content):
        raise FileRefused.malformed("WebP", "its size does not match the file (data after its end?)")
    position, size, images = 12, None, 0
    while position < len(content):
        if position + 8 > len(content):
            raise FileRefused.malformed("WebP", "a chunk is cut short")
        kind, length = content[position:position + 4], struct.unpack("<I", content[position + 4:position + 8])[0]
        data = content[position + 8:position + 8 + length]
        position += 8 + length + (length & 1)
        if kind not in _WEBP_CHUNKS or position > len(content):
            raise FileRefused.malformed("WebP", "a chunk is cut short or unknown")
        first = size is None
        if kind == b"VP8X" and first and len(data) >= 10:
            size = (int.from_bytes(data[4:7], "little") + 1, int.from_bytes(data[7:10], "little") + 1)
        elif kind == b"VP8 " and len(data) >= 10 and data[3:6] == b"\x9d\x01\x2a" and not data[0] & 1:
            images += 1
            size = size or (struct.unpack("<H", data[6:8])[0] & 0x3FFF, struct.unpack("<H", data[8:10])[0] & 0x3FFF)
        elif kind == b"VP8L" and len(data) >= 5 and data[0] == 0x2F and not data[4] >> 5:
            bits = int.from_bytes(data[1:5], "little")
            images += 1
            size = size or ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        elif kind == b"ANMF" and size is not None and len(data) >= 16:
            images += 1
        elif kind in (b"VP8X", b"VP8 ", b"VP8L", b"ANMF") or first:
            raise FileRefused.malformed("WebP", f"its {kind.decode('latin-1').strip()} chunk is not valid")
    if size is None or not images:
        raise FileRefused.malformed("WebP", "it has no image")
    _within_limits("WebP", *size)
    _animation_within_limits("WebP", *size, images)
    return Checked(FileKind.WEBP, *size)


# ---- PDF: handoff/pdfcheck.py -------------------------------------------------------------------

def _pdf(content: bytes) -> Checked:
    check_pdf(content)
    return Checked(FileKind.PDF)
