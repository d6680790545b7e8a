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
and decode parameters (a predictor reorders the bytes and would hide names).

Actions: the only ones allowed are going to a page of the same file (``/GoTo``, or a destination) and
a link to a web page or an email address (``/URI`` to ``http:``, ``https:`` or ``mailto:``), which a
reader follows only when it is clicked. Every other action type (``/GoToR`` to another file or a UNC
share, ``/Launch``, ``/Rendition``, ``/Thread``, ``/Named``...) is refused wherever it is, as are a
``/URI`` to any other scheme (``javascript:``, ``file:``, ``\\\\host``), a URL file specification
(``/FS /URL``), additional actions (``/AA``: triggers on opening a page, hovering, typing, closing)
and an ``/OpenAction`` that is anything but a page: a file that phones home as it is opened is
refused, a link in it is not. An ``/OpenAction`` given by reference is read from the object it names.

Object streams are inflated a piece at a time (at most INFLATE_PIECE bytes held per Flate pass) and
read as they come, never held whole; what every pass of every stream of a file inflates to counts
against MAX_PDF_INFLATED, past which the file is refused: a 722-byte PDF inflating to 60 MB costs
time, not memory. Called by handoff.filecheck once a file starts with ``%PDF-``.
"""

from __future__ import annotations

import bisect
import re
import zlib
from typing import Iterable, Iterator, List, Set

from handoff.exceptions import FileRefused

__all__ = ["ACTION_TYPES", "FORBIDDEN_PDF_NAMES", "INFLATE_PIECE", "MAX_PDF_INFLATED", "check_pdf"]

MAX_PDF_INFLATED = 64 * 1024 * 1024  # what a PDF's object streams may inflate to: all passes of all streams
INFLATE_PIECE = 1 << 20  # inflated data is read in pieces of at most this size
ACTION_TYPES = frozenset({  # every action but /GoTo (a page of this file) and /URI (checked for its scheme)
    b"GoToR", b"GoToE", b"GoToDp", b"Launch", b"Thread", b"Sound", b"Movie", b"Hide", b"Named", b"SubmitForm",
    b"ResetForm", b"ImportData", b"JavaScript", b"SetOCGState", b"Rendition", b"GoTo3DView", b"RichMediaExecute",
})
FORBIDDEN_PDF_NAMES = ACTION_TYPES | frozenset({
    b"JS", b"EmbeddedFile", b"EmbeddedFiles", b"RichMedia", b"XFA", b"AA", b"URL",
})
# Short names refused only where they mean what they would do: ``/AA`` before its dictionary (direct or
# by reference), ``/URL`` as a file specification's type. Three bytes turn up by chance in compressed
# pictures and fonts (about once in 300 MB of random bytes), which are read with the rest of the file.
_IN_CONTEXT = {
    b"AA": re.compile(rb"/AA(?:\s|%[^\r\n]*[\r\n])*(?:<<|\d+\s+\d+\s+R)"),
    b"URL": re.compile(rb"/FS(?:\s|%[^\r\n]*[\r\n])*/URL(?![^\s/<>\[\]()\{\}%])"),
}
_WATCHED_NAMES = FORBIDDEN_PDF_NAMES | {b"Encrypt", b"URI", b"OpenAction"}
_LINK_SCHEMES = (b"http://", b"https://", b"mailto:")
_PDF_NAME = re.compile(rb"/([^\s/<>\[\]()\{\}%]*)")
_PDF_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
# ``stream`` as a keyword (not the end of ``endstream``) followed by an end of line, as readers take it.
_PDF_STREAM = re.compile(rb"(?<![A-Za-z])stream(?:\r\n|\r|\n)")
_PDF_OBJ = re.compile(rb"(?<![A-Za-z])obj(?![A-Za-z])")
_PDF_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[^\s/<>\[\]()%]*|.)", re.DOTALL)  # names unescaped
_PDF_PARENTHESIS = re.compile(rb"\\.|[()]", re.DOTALL)  # an escaped character, or a string's bracket
# A /URI's target, a literal or a hex string: its first characters, enough for the scheme.
_URI_TARGET = re.compile(rb"/URI\s*(?:\(((?:\\.|[^)\\]){0,40})|<([0-9A-Fa-f\s]{0,80}))", re.DOTALL)
_OPEN_ACTION = re.compile(rb"/OpenAction\s*(?:(\[)|(<<)|(\d+)\s+(\d+)\s+R)")
_OVERLAP = 4096  # bytes of one piece read again with the next: what lies across the two is seen
MAX_OBJ_STEPS = 4
_OBJECT_STREAM_KEYS = frozenset({b"N", b"First", b"ObjStm"})
_FLATE = frozenset({b"FlateDecode", b"Fl"})
_COMPRESSED_PIECE = 64 * 1024
_OPENS_WITH_ACTION = "PDFs that do something as they are opened (other than showing a page) are not accepted"


def check_pdf(content: bytes) -> None:
    """Nothing, or FileRefused: ``malformed_file`` (not a plain PDF), ``unsafe_file`` (active content,
    what cannot be checked, or object streams inflating past MAX_PDF_INFLATED)."""
    if not re.match(rb"%PDF-[12]\.\d", content):
        raise FileRefused.malformed("PDF", "its header is not valid")
    tail = content[-1024:].rstrip(b"\r\n\t \x00")
    if not tail.endswith(b"%%EOF"):
        raise FileRefused.malformed("PDF", "it does not end with %%EOF (data after its end?)")
    if b"startxref" not in content[-2048:] or b" obj" not in content:
        raise FileRefused.malformed("PDF", "it has no objects or cross-reference")
    findings = _Findings()
    findings.read([content])
    if b"Encrypt" in findings.names:
        raise FileRefused("encrypted PDFs cannot be checked, so they are not accepted", code="unsafe_file")
    budget = _Budget(MAX_PDF_INFLATED)
    objects = [match.end() for match in _PDF_OBJ.finditer(content)]
    whole = memoryview(content)  # each stream's data from its start, not copied
    for stream in _PDF_STREAM.finditer(content):
        dictionary = content[_dictionary_start(content, objects, stream.start()):stream.start()]
        if not _OBJECT_STREAM_KEYS & set(_pdf_names(dictionary)):
            continue  # page content and pictures hold no objects a reader could take
        findings.read(_unpacked(whole[stream.end():], dictionary, budget))
    forbidden = sorted(name.decode("latin-1") for name in findings.names & FORBIDDEN_PDF_NAMES)
    if forbidden:
        raise FileRefused(f"PDFs with scripts, actions or embedded files are not accepted (this one has "
                          f"/{', /'.join(forbidden)})", code="unsafe_file")
    _check_links(content, findings)


class _Findings:
    """What a PDF holds, as far as its checks need: the watched names, where its /URI links go and what
    its /OpenAction is; read a piece at a time, each piece with the end of the one before."""

    def __init__(self) -> None:
        self.names: Set[bytes] = set()
        self.link_targets: Set[bytes] = set()
        self.open_actions: Set[bytes] = set()  # b"page", b"action", or b"N G" for one given by reference

    def read(self, pieces: Iterable[bytes]) -> None:
        carry = b""
        for piece in pieces:
            window = _PDF_NAME.sub(lambda name: b"/" + _unescaped(name.group(1)), carry + piece)
            found = {match.group(1) for match in _PDF_NAME.finditer(window)} & _WATCHED_NAMES
            self.names |= {name for name in found if name not in _IN_CONTEXT or _IN_CONTEXT[name].search(window)}
            self.link_targets |= {_string_start(target) for target in _URI_TARGET.finditer(window)}
            self.open_actions |= {_open_action(window, action) for action in _OPEN_ACTION.finditer(window)}
            carry = (carry + piece)[-_OVERLAP:]


def _string_start(target: "re.Match[bytes]") -> bytes:
    """The first characters of a /URI's target, lower-case, without leading spaces."""
    text = target.group(1)
    if text is None:
        digits = re.sub(rb"\s", b"", target.group(2))
        text = bytes.fromhex(digits[:len(digits) // 2 * 2].decode())
    return text.lstrip(b" \t\r\n\x00").lower()


def _open_action(window: bytes, action: "re.Match[bytes]") -> bytes:
    if action.group(1):
        return b"page"  # a destination: a page of this file and how to show it
    if action.group(2):  # a page only if a /GoTo with no /Next action chained to it
        body = _dictionary_body(window[action.end():action.end() + 2048])
        return b"page" if re.search(rb"/S\s*/GoTo(?![A-Za-z0-9])", body) and b"/Next" not in body else b"action"
    return action.group(3) + b" " + action.group(4)


def _dictionary_body(text: bytes) -> bytes:
    """What a dictionary opened just before ``text`` holds, nested dictionaries included (all of
    ``text`` when it does not close there)."""
    depth = 1
    for bracket in re.finditer(rb"<<|>>", text):
        depth += 1 if bracket.group() == b"<<" else -1
        if not depth:
            return text[:bracket.start()]
    return text


def _check_links(content: bytes, findings: _Findings) -> None:
    """Links only to web pages or email addresses; an /OpenAction only to a page of this file."""
    for target in sorted(findings.link_targets):
        if not target.startswith(_LINK_SCHEMES):
            raise FileRefused("PDFs with links other than to web pages or email addresses are not accepted "
                              f"(this one links to {target[:20].decode('latin-1')!r})", code="unsafe_file")
    for action in sorted(findings.open_actions - {b"page"}):
        if action == b"action":
            raise FileRefused(_OPENS_WITH_ACTION, code="unsafe_file")
        number, generation = action.split()
        found = re.search(rb"(?<!\d)%s\s+%s\s+obj(?![A-Za-z])(.{0,4096}?)endobj" % (number, generation),
                          content, re.DOTALL)
        if found is None:
            if b"URI" in findings.names:  # in an object stream: a link it might be cannot be told from a page
                raise FileRefused("this PDF opens with an action that cannot be found, and has links, so it "
                                  "cannot be checked", code="unsafe_file")
            continue  # every other action was refused by its name
        target = found.group(1).strip()
        if target.startswith(b"<<"):
            inner = _Findings()
            inner.read([b"/OpenAction " + target])
            if inner.open_actions != {b"page"}:
                raise FileRefused(_OPENS_WITH_ACTION, code="unsafe_file")


class _Budget:
    """The bytes a file's object streams may still inflate to, all passes counted."""

    def __init__(self, left: int) -> None:
        self.left = left

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise FileRefused(f"this PDF's objects inflate to more than {MAX_PDF_INFLATED // (1024 * 1024)} MB, "
                              "too much to check", code="unsafe_file")


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


def _unpacked(data: memoryview, dictionary: bytes, budget: _Budget) -> Iterator[bytes]:
    """An object stream's data through its whole filter chain, a piece at a time: only Flate, any
    number of times (none: its names were read with the file's)."""
    filters = _PDF_FILTER.findall(_PDF_NAME.sub(lambda name: b"/" + _unescaped(name.group(1)), dictionary))
    if len(filters) > 1 or (filters and filters[0][:1] not in (b"[", b"/")):
        raise FileRefused("this PDF names its object streams' filters in a way that cannot be checked",
                          code="unsafe_file")
    chain = list(_pdf_names(filters[0])) if filters else []
    if set(chain) - _FLATE or {b"DecodeParms", b"DP"} & set(_pdf_names(dictionary)):
        raise FileRefused("this PDF packs its objects in a way that cannot be checked", code="unsafe_file")
    if not chain:
        return iter(())
    pieces: Iterator[bytes] = (bytes(data[start:start + _COMPRESSED_PIECE])
                               for start in range(0, len(data), _COMPRESSED_PIECE))
    for _ in chain:
        pieces = _inflated(pieces, budget)
    return pieces


def _inflated(pieces: Iterator[bytes], budget: _Budget) -> Iterator[bytes]:
    """What a reader inflating the pieces gets, at most INFLATE_PIECE bytes at a time: up to the end of
    the compressed data, or of what inflates before an error (readers may use that part)."""
    inflater = zlib.decompressobj()
    for data in pieces:
        while True:
            try:
                out = inflater.decompress(data, INFLATE_PIECE)
            except zlib.error:
                return
            budget.spend(len(out))
            if out:
                yield out
            if inflater.eof:
                return
            data = inflater.unconsumed_tail
            if not data and len(out) < INFLATE_PIECE:
                break
