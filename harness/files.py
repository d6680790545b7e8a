"""Sample files for the attachment tests: real images (Pillow, in the tests' environment), PDFs written
by hand (plain, with a script, with a script hidden in a compressed object stream) and disguises."""

from __future__ import annotations

import io
import zlib
from typing import List

from PIL import Image

__all__ = ["HTML_AS_PNG", "SVG_WITH_SCRIPT", "image", "pdf", "pdf_hiding_script", "pdf_with_script"]

HTML_AS_PNG = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG_WITH_SCRIPT = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'


def image(kind: str, width: int = 64, height: int = 48, colour: str = "#1f6feb") -> bytes:
    """A small picture in ``kind`` (PNG, JPEG, WEBP, GIF)."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, kind)
    return buffer.getvalue()


def _pdf(objects: List[bytes]) -> bytes:
    """A PDF of these objects (numbered from 1; the first is the catalog), with a true cross-reference."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _page_objects(extra_catalog: bytes = b"") -> List[bytes]:
    text = b"BT /F1 18 Tf 40 100 Td (Statement of account) Tj ET"
    return [
        b"<< /Type /Catalog /Pages 2 0 R " + extra_catalog + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]


def pdf() -> bytes:
    """A one-page statement, nothing else in it."""
    return _pdf(_page_objects(b"/OpenAction [3 0 R /Fit] "))  # opening at page 1 is no script


def pdf_with_script() -> bytes:
    """A PDF that runs JavaScript when opened, its names escaped (/J#53 is /JS) as a disguise."""
    return _pdf(_page_objects(b"/OpenAction 6 0 R ") + [b"<< /S /JavaScript /J#53 (app.alert('hi')) >>"])


def pdf_hiding_script() -> bytes:
    """A script action inside a compressed object stream, where a plain search of the file cannot see it."""
    hidden = b"<< /S /JavaScript /JS (app.launchURL('https://evil.example')) >>"
    packed = zlib.compress(b"6 0 " + hidden)
    stream = b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n" % len(packed)
    return _pdf(_page_objects(b"/OpenAction 6 0 R ") + [b"null", stream + packed + b"\nendstream"])
