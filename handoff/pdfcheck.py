"""Whether a PDF is safe to pass on (sans I/O): refused when anything in it could run or carry something.

Its names are read with their ``#xx`` escapes decoded (``/J#53`` is ``/JS``), in the file and inside its
compressed object streams, where a plain search of the file cannot see them; a name of
FORBIDDEN_PDF_NAMES anywhere refuses it. An encrypted PDF, whose object streams cannot be read, is
refused too, as is one packing its objects under a filter other than Flate. An ``/OpenAction`` that only
opens a page is no script. Called by handoff.filecheck once a file starts with ``%PDF-``.
"""

from __future__ import annotations

import re
import zlib
from typing import Iterator

from handoff.exceptions import FileRefused

__all__ = ["DICTIONARY_REACH", "FORBIDDEN_PDF_NAMES", "MAX_PDF_INFLATED", "check_pdf"]

MAX_PDF_INFLATED = 64 * 1024 * 1024  # what a PDF's object streams may inflate to, in all
FORBIDDEN_PDF_NAMES = frozenset({
    b"JS", b"JavaScript", b"Launch", b"EmbeddedFile", b"EmbeddedFiles", b"RichMedia", b"XFA",
    b"GoToE", b"ImportData", b"SubmitForm", b"Sound", b"Movie",
})
_PDF_NAME = re.compile(rb"/([^\s/<>\[\]()\{\}%]*)")
_PDF_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_STREAM = re.compile(rb">>\s*stream\r?\n")
DICTIONARY_REACH = 4096  # how far before ``stream`` its dictionary may begin


def check_pdf(content: bytes) -> None:
    """Nothing, or FileRefused: ``malformed_file`` (not a plain PDF), ``unsafe_file`` (active content, or
    what cannot be checked)."""
    if not re.match(rb"%PDF-[12]\.\d", content):
        raise _malformed("PDF", "its header is not valid")
    tail = content[-1024:].rstrip(b"\r\n\t \x00")
    if not tail.endswith(b"%%EOF"):
        raise _malformed("PDF", "it does not end with %%EOF (data after its end?)")
    if b"startxref" not in content[-2048:] or b" obj" not in content:
        raise _malformed("PDF", "it has no objects or cross-reference")
    names = set(_pdf_names(content))
    if b"Encrypt" in names:
        raise FileRefused("encrypted PDFs cannot be checked, so they are not accepted", code="unsafe_file")
    inflated_total = 0
    for stream in _PDF_STREAM.finditer(content):
        before = content[max(0, stream.start() - DICTIONARY_REACH):stream.start()]
        dictionary = before[before.rfind(b" obj") + 1:]
        if not {b"ObjStm", b"XRef"} & set(_pdf_names(dictionary)):
            continue  # page content and pictures hold no dictionaries; object streams do
        inflated = _inflate_object_stream(content, stream.end(), dictionary, MAX_PDF_INFLATED - inflated_total)
        inflated_total += len(inflated)
        names |= set(_pdf_names(inflated))
    forbidden = sorted(name.decode("latin-1") for name in names & FORBIDDEN_PDF_NAMES)
    if forbidden:
        raise FileRefused(f"PDFs with scripts, actions or embedded files are not accepted (this one has "
                          f"/{', /'.join(forbidden)})", code="unsafe_file")


def _pdf_names(content: bytes) -> Iterator[bytes]:
    for match in _PDF_NAME.finditer(content):
        yield _PDF_ESCAPE.sub(lambda escape: bytes([int(escape.group(1), 16)]), match.group(1))


def _inflate_object_stream(content: bytes, start: int, dictionary: bytes, budget: int) -> bytes:
    end = content.find(b"endstream", start)
    if end < 0:
        raise _malformed("PDF", "a stream has no end")
    filters = set(_pdf_names(dictionary)) & {b"FlateDecode", b"Fl", b"ASCIIHexDecode", b"AHx", b"LZWDecode", b"LZW",
                                             b"ASCII85Decode", b"A85", b"RunLengthDecode", b"RL", b"Crypt"}
    data = content[start:end]
    if not filters:
        return data
    if filters - {b"FlateDecode", b"Fl"}:
        raise FileRefused("this PDF packs its objects in a way that cannot be checked", code="unsafe_file")
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(data, budget + 1)
    except zlib.error:
        raise _malformed("PDF", "an object stream does not inflate") from None
    if len(inflated) > budget:
        raise FileRefused("this PDF's objects inflate to too much to check", code="unsafe_file")
    return inflated



def _malformed(kind: str, why: str) -> FileRefused:
    return FileRefused(f"this {kind} is damaged or not a plain {kind} ({why})", code="malformed_file")
