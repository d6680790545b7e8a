"""What a file is, decided from its bytes (handoff.filecheck): each accepted kind, and each way a file is
refused (disguised, malformed, unsafe), with the sample files of harness/files.py."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from handoff.exceptions import FileRefused
from handoff.filecheck import MAX_SIDE, FileKind, check_file
from harness.files import HTML_AS_PNG, SVG_WITH_SCRIPT, image, pdf, pdf_hiding_script, pdf_with_script


@pytest.mark.parametrize("kind, expected", [("PNG", FileKind.PNG), ("JPEG", FileKind.JPEG),
                                            ("WEBP", FileKind.WEBP), ("GIF", FileKind.GIF)])
def test_each_image_kind_is_known_by_its_content_with_its_size(kind, expected):
    checked = check_file(image(kind, 64, 48), "whatever.txt", "text/plain")
    assert (checked.kind, checked.width, checked.height) == (expected, 64, 48)


def test_variants_pass_interlaced_palette_progressive_animated_lossless():
    frames = [Image.new("RGB", (20, 10), colour) for colour in ("red", "green", "blue")]
    samples = {}
    for name, save in {
        "interlaced png": lambda b: frames[0].save(b, "PNG", interlace=1),
        "palette png": lambda b: frames[0].convert("P").save(b, "PNG"),
        "one-bit png": lambda b: frames[0].convert("1").save(b, "PNG"),
        "progressive jpeg": lambda b: frames[0].save(b, "JPEG", progressive=True),
        "animated gif": lambda b: frames[0].save(b, "GIF", save_all=True, append_images=frames[1:]),
        "animated webp": lambda b: frames[0].save(b, "WEBP", save_all=True, append_images=frames[1:]),
        "lossless webp": lambda b: frames[0].save(b, "WEBP", lossless=True),
    }.items():
        buffer = io.BytesIO()
        save(buffer)
        samples[name] = buffer.getvalue()
    for name, content in samples.items():
        checked = check_file(content)
        assert (checked.width, checked.height) == (20, 10), name


def test_a_plain_pdf_passes_and_opening_at_a_page_is_no_script():
    assert check_file(pdf(), "statement.pdf").kind is FileKind.PDF


@pytest.mark.parametrize("content", [HTML_AS_PNG, SVG_WITH_SCRIPT, b"MZ\x90\x00 an executable"])
def test_content_that_is_none_of_the_kinds_named_as_one_is_disguised(content):
    with pytest.raises(FileRefused) as refused:
        check_file(content, "holiday.png", "image/png")
    assert refused.value.code == "disguised_file"
    with pytest.raises(FileRefused) as refused:
        check_file(content, "notes.txt", "text/plain")
    assert refused.value.code == "unsupported_type"


@pytest.mark.parametrize("make", [pdf_with_script, pdf_hiding_script])
def test_a_pdf_with_a_script_is_unsafe_even_escaped_or_compressed(make):
    with pytest.raises(FileRefused) as refused:
        check_file(make(), "statement.pdf")
    assert refused.value.code == "unsafe_file" and "/JS" in str(refused.value)


@pytest.mark.parametrize("name", ["Launch", "EmbeddedFile", "RichMedia"])
def test_a_pdf_that_launches_or_carries_a_file_is_unsafe(name):
    content = pdf().replace(b"/Type /Catalog", b"/Type /Catalog /Names << /X << /S /" + name.encode() + b" >> >>")
    with pytest.raises(FileRefused) as refused:
        check_file(content)
    assert refused.value.code == "unsafe_file"


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "WEBP", "GIF"])
def test_anything_after_an_image_or_cut_short_is_malformed(kind):
    content = image(kind)
    for damaged in (content + b"<script>alert(1)</script>", content[:-7], content[:len(content) // 2]):
        with pytest.raises(FileRefused) as refused:
            check_file(damaged, "photo.png")
        assert refused.value.code == "malformed_file", kind


def test_a_png_whose_data_inflates_beyond_its_size_or_with_a_bad_checksum_is_malformed():
    content = bytearray(image("PNG"))
    flipped = bytes(content[:40]) + bytes([content[40] ^ 1]) + bytes(content[41:])
    with pytest.raises(FileRefused, match="checksum"):
        check_file(flipped)
    # A 64 x 48 header in front of a 64 x 4800 picture's data: a decompression bomb's shape.
    tall = image("PNG", 64, 4800)
    header = b"IHDR" + struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0)
    bomb = tall[:12] + header + struct.pack(">I", zlib.crc32(header)) + tall[33:]
    with pytest.raises(FileRefused, match="larger than its size"):
        check_file(bomb)


def test_an_image_too_large_in_pixels_is_refused_from_its_header():
    header = b"IHDR" + struct.pack(">IIBBBBB", MAX_SIDE + 1, 10, 8, 2, 0, 0, 0)
    content = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + header + struct.pack(">I", zlib.crc32(header))
    with pytest.raises(FileRefused, match="pixels"):
        check_file(content)


def test_a_pdf_with_data_after_its_end_is_malformed():
    with pytest.raises(FileRefused) as refused:
        check_file(pdf() + b"<html><script>alert(1)</script></html>")
    assert refused.value.code == "malformed_file"


def test_an_empty_file_is_malformed():
    with pytest.raises(FileRefused) as refused:
        check_file(b"")
    assert refused.value.code == "malformed_file"


def _hiding(dictionary: bytes, packed: bytes, end_of_line: bytes = b"\n") -> bytes:
    """pdf_hiding_script's file with its object stream's dictionary and data written some other way."""
    content = pdf_hiding_script()
    start = content.index(b"<< /Type /ObjStm")
    end = content.index(b"\nendstream", start)
    return content[:start] + dictionary + b"stream" + end_of_line + packed + content[end:]


_SCRIPT = b"6 0 << /S /JavaScript /JS (app.alert(1)) >>"


def _deflated_after_stored(stored: bytes) -> bytes:
    """_SCRIPT compressed after ``stored`` kept as it is (a stored block): ``endstream`` early in the data."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(_SCRIPT) + packer.flush()
    block = b"\x00" + struct.pack("<HH", len(stored), len(stored) ^ 0xFFFF) + stored
    return b"\x78\x9c" + block + packed + struct.pack(">I", zlib.adler32(stored + _SCRIPT))


@pytest.mark.parametrize("content", [
    _hiding(b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Pad (" + b"x" * 5000 + b") >>",
            zlib.compress(_SCRIPT)),  # its dictionary far before ``stream``
    _hiding(b"<< /Type /ObjStm /N 1 /First 4 /Filter [/FlateDecode /FlateDecode] >>",
            zlib.compress(zlib.compress(_SCRIPT))),  # compressed twice
    _hiding(b"<< /N 1 /First 4 /Filter /FlateDecode >>", zlib.compress(_SCRIPT)),  # no /Type: readers need none
    _hiding(b"<< /N 1 /First 4 /Filter /FlateDecode >>", zlib.compress(_SCRIPT), b"\r"),  # ``stream`` ends in CR
    _hiding(b"<< /N 1 /First 4 /Filter /FlateDecode >>%a comment\n", zlib.compress(_SCRIPT)),
    _hiding(b"<< /N 1 /First 4 /Filter /FlateDecode >>", _deflated_after_stored(b"endstream\nendobj\n")),
    _hiding(b"<< /N 1 /First 4 /Filter /FlateDecode /T (a\\) 1 0 obj) >>", zlib.compress(_SCRIPT)),  # obj in a string
    _hiding(b"<< /N 1 /First 4 /Filter /FlateDecode %1 0 obj\n>>", zlib.compress(_SCRIPT)),  # obj in a comment
    _hiding(b"<< /N 1 /First 4 /#46ilter [/FlateDecode /Fl] >>", zlib.compress(zlib.compress(_SCRIPT))),
])
def test_a_script_in_an_object_stream_is_found_however_the_stream_is_written(content):
    with pytest.raises(FileRefused) as refused:
        check_file(content, "statement.pdf")
    assert refused.value.code == "unsafe_file" and "/JS" in str(refused.value)


@pytest.mark.parametrize("dictionary", [
    b"<< /N 1 /First 4 /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 5 >> >>",  # hides names
    b"<< /N 1 /First 4 /Filter 9 0 R >>",  # its filters elsewhere
    b"<< /N 1 /First 4 /Filter /ASCIIHexDecode >>",
])
def test_an_object_stream_that_cannot_be_read_here_is_unsafe(dictionary):
    with pytest.raises(FileRefused) as refused:
        check_file(_hiding(dictionary, zlib.compress(b"6 0 << /Type /Whatever >>")), "statement.pdf")
    assert refused.value.code == "unsafe_file"


def test_a_pdf_hiding_where_its_objects_begin_is_unsafe():
    content = _hiding(b"<< /N 1 /First 4 /Filter /FlateDecode " + b"(obj) " * 6 + b")>>", zlib.compress(b"6 0 null"))
    with pytest.raises(FileRefused) as refused:
        check_file(content, "statement.pdf")
    assert refused.value.code == "unsafe_file"


def test_a_pdf_with_compressed_pages_and_a_predicted_cross_reference_passes():
    drawing = zlib.compress(b"BT /F1 18 Tf 40 100 Td (Statement) Tj ET")
    content = pdf().replace(b"<< /Length 51 >>\nstream\nBT /F1 18 Tf 40 100 Td (Statement of account) Tj ET",
                            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(drawing) + drawing)
    assert b"/FlateDecode" in content
    content = content.replace(b"trailer", b"6 0 obj\n<< /Type /XRef /W [1 2 1] /Filter /FlateDecode "
                              b"/DecodeParms << /Predictor 12 /Columns 4 >> >>\nstream\n"
                              + zlib.compress(b"\x02\x01\x00\x10\x00") + b"\nendstream\nendobj\ntrailer")
    assert check_file(content, "statement.pdf").kind is FileKind.PDF


def test_an_animated_png_is_refused_as_its_frames_would_pass_unchecked():
    frames = [Image.new("RGB", (20, 10), colour) for colour in ("red", "green")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:])
    assert b"fdAT" in buffer.getvalue()
    with pytest.raises(FileRefused) as refused:
        check_file(buffer.getvalue(), "moving.png")
    assert refused.value.code == "unsupported_type" and "animated" in str(refused.value)


def test_a_gif_frame_beyond_its_screen_is_malformed():
    content = image("GIF", 20, 10)
    descriptor = content.index(b"\x2c\x00\x00\x00\x00\x14\x00\x0a\x00")  # a frame at 0,0 of 20 x 10
    for left, top, width, height in [(0, 0, 65535, 65535), (5, 0, 20, 10), (0, 1, 20, 10)]:
        oversized = content[:descriptor + 1] + struct.pack("<HHHH", left, top, width, height) + content[descriptor + 9:]
        with pytest.raises(FileRefused) as refused:
            check_file(oversized, "small.gif")
        assert refused.value.code == "malformed_file" and "beyond its screen" in str(refused.value)
