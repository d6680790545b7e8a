"""Whether a PDF is safe to pass on (sans I/O): refused when anything in it could run or carry something.

Its names are read with their ``#xx`` escapes decoded (``/J#53`` is ``/JS``), in the file and inside every
stream a reader could take objects from, where a plain search of the file cannot see them; a name of
FORBIDDEN_PDF_NAMES anywhere refuses it. A stream may hold objects when its dictionary names ``/N``,
``/First`` or ``/ObjStm``: readers need ``/N`` (pdf.js and PDFium ``/First`` too) to read objects from it
and ignore its ``/Type``, so the ``/Type`` is not what decides. Such a stream's dictionary is read whole,
from its ``obj`` to its ``stream`` however long (an ``obj`` inside a string or a comment does not cut
it short), and its data is inflated through its whole filter chain
(any number of Flate passes), from its start to the end of the compressed data, not to the first
``endstream``, which could be part of the data. What cannot be read here is refused as ``unsafe_file``:
an encrypted PDF, filters other than Flate on such a stream, filters named elsewhere (``/Filter 9 0 R``)
and decode parameters (a predictor reorders the bytes and would hide names). An ``/OpenAction`` that only
opens a page is no script. Called by handoff.filecheck once a file starts with ``%PDF-``.
"""

from __future__ import annotations

import bisect
import re
import zlib
from typing import Iterator, List

from handoff.exceptions import FileRefused

__all__ = ["FORBIDDEN_PDF_NAMES", "MAX_PDF_INFLATED", "check_pdf"]

MAX_PDF_INFLATED = 64 * 1024 * 1024  # what a PDF's object streams may inflate to, in all
FORBIDDEN_PDF_NAMES = frozenset({
    b"JS", b"JavaScript", b"Launch", b"EmbeddedFile", b"EmbeddedFiles", b"RichMedia", b"XFA",
    b"GoToE", b"ImportData", b"SubmitForm", b"Sound", b"Movie",
})
_PDF_NAME = re.compile(rb"/([^\s/<>\[\]()\{\}%]*)")
_PDF_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
# ``stream`` as a keyword (not the end of ``endstream``) followed by an end of line, as readers take it.
_PDF_STREAM = re.compile(rb"(?<![A-Za-z])stream(?:\r\n|\r|\n)")
_PDF_OBJ = re.compile(rb"(?<![A-Za-z])obj(?![A-Za-z])")
_PDF_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[^\s/<>\[\]()%]*|.)", re.DOTALL)  # names unescaped
_PDF_PARENTHESIS = re.compile(rb"\\.|[()]", re.DOTALL)  # an escaped character, or a string's bracket
MAX_OBJ_STEPS = 4
_OBJECT_STREAM_KEYS = frozenset({b"N", b"First", b"ObjStm"})
_FLATE = frozenset({b"FlateDecode", b"Fl"})
_INFLATE_CHUNK = 64 * 1024


def check_pdf(content: bytes) -> None:
    """Nothing, or FileRefused: ``malformed_file`` (not a plain PDF), ``unsafe_file`` (active content, or
    what cannot be checked)."""
    if not re.match(rb"%PDF-[12]\.\d", content):
        raise FileRefused.malformed("PDF", "its header is not valid")
    tail = content[-1024:].rstrip(b"\r\n\t \x00")
    if not tail.endswith(b"%%EOF"):
        raise FileRefused.malformed("PDF", "it does not end with %%EOF (data after its end?)")
    if b"startxref" not in content[-2048:] or b" obj" not in content:
        raise FileRefused.malformed("PDF", "it has no objects or cross-reference")
    names = set(_pdf_names(content))
    if b"Encrypt" in names:
        raise FileRefused("encrypted PDFs cannot be checked, so they are not accepted", code="unsafe_file")
    inflated_total = 0
    objects = [match.end() for match in _PDF_OBJ.finditer(content)]
    whole = memoryview(content)  # each stream's data from its start, not copied
    for stream in _PDF_STREAM.finditer(content):
        dictionary = content[_dictionary_start(content, objects, stream.start()):stream.start()]
        if not _OBJECT_STREAM_KEYS & set(_pdf_names(dictionary)):
            continue  # page content and pictures hold no objects a reader could take
        inflated = _unpacked(whole[stream.end():], dictionary, MAX_PDF_INFLATED - inflated_total)
        inflated_total += len(inflated)
        names |= set(_pdf_names(inflated))
    forbidden = sorted(name.decode("latin-1") for name in names & FORBIDDEN_PDF_NAMES)
    if forbidden:
        raise FileRefused(f"PDFs with scripts, actions or embedded files are not accepted (this one has "
                          f"/{', /'.join(forbidden)})", code="unsafe_file")


def _pdf_names(content: bytes) -> Iterator[bytes]:
    for match in _PDF_NAME.finditer(content):
        yield _unescaped(match.group(1))


def _unescaped(name: bytes) -> bytes:
    return _PDF_ESCAPE.sub(lambda escape: bytes([int(escape.group(1), 16)]), name)


def _dictionary_start(content: bytes, objects: List[int], end: int) -> int:
    """Where a stream's dictionary starts: after the last ``obj`` before ``end`` (0: none), unless that
    ``obj`` was written inside a string (``(obj)``: a ``)`` closes before any opens) or a comment
    (``%obj``), where it hides the dictionary's first names; then an earlier one. A file needing more
    than MAX_OBJ_STEPS of those cannot be checked."""
    index = bisect.bisect_right(objects, end) - 1
    for _ in range(MAX_OBJ_STEPS + 1):
        if index < 0:
            return 0
        start = objects[index]
        line = content[max(content.rfind(b"\n", 0, start), content.rfind(b"\r", 0, start)) + 1:start]
        if b"%" not in line and not _closes_first(content[start:end]):
            return start
        index -= 1
    raise FileRefused("this PDF hides where its objects begin, so it cannot be checked", code="unsafe_file")


def _closes_first(span: bytes) -> bool:
    """Whether ``span`` starts inside a literal string: a ``)`` it did not open comes first."""
    depth = 0
    for match in _PDF_PARENTHESIS.finditer(span):
        depth += {b"(": 1, b")": -1}.get(match.group(), 0)
        if depth < 0:
            return True
    return False


def _unpacked(data: memoryview, dictionary: bytes, budget: int) -> bytes:
    """An object stream's data through its whole filter chain: only Flate, any number of times (none: its
    names were read with the file's)."""
    filters = _PDF_FILTER.findall(_PDF_NAME.sub(lambda name: b"/" + _unescaped(name.group(1)), dictionary))
    if len(filters) > 1 or (filters and filters[0][:1] not in (b"[", b"/")):
        raise FileRefused("this PDF names its object streams' filters in a way that cannot be checked",
                          code="unsafe_file")
    chain = list(_pdf_names(filters[0])) if filters else []
    if set(chain) - _FLATE or {b"DecodeParms", b"DP"} & set(_pdf_names(dictionary)):
        raise FileRefused("this PDF packs its objects in a way that cannot be checked", code="unsafe_file")
    unpacked = b""
    for _ in chain:
        unpacked = _inflated(data, budget)
        data = memoryview(unpacked)
    return unpacked


def _inflated(data: memoryview, budget: int) -> bytes:
    """What a reader inflating ``data`` gets: up to the end of the compressed data, or of what inflates
    before an error (readers may use that part)."""
    inflater = zlib.decompressobj()
    out = bytearray()
    for start in range(0, len(data), _INFLATE_CHUNK):
        try:
            out += inflater.decompress(data[start:start + _INFLATE_CHUNK], budget + 1 - len(out))
        except zlib.error:
            break
        if len(out) > budget:
            raise FileRefused("this PDF's objects inflate to too much to check", code="unsafe_file")
        if inflater.eof:
            break
    return bytes(out)
