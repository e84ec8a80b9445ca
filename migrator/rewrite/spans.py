"""Where each span sits in its file: the reader's entry around it, how its bytes encode the value.

Rewriters need to know whether a span is inside double quotes, single quotes or a YAML block
scalar, and whether the written bytes are the value itself or an escaped form of it. The
discovery reader that found the span knows: ``analyze`` reads the file again with
``reader_for`` and pairs every span with the smallest entry that contains it. Splicing is done
on bytes, so everything outside the spans is copied, never re-encoded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers import LINE_READER, ReaderError, reader_for
from migrator.discover.readers.jinja import inner_path
from migrator.rewrite.base import Replacement, RewriteError, check_ref


@dataclass(frozen=True, slots=True)
class Site:
    """One span in the document: character offsets, its replacement and the entry holding it."""

    replacement: Replacement
    start: int
    end: int
    entry: Entry | None

    @property
    def whole(self) -> bool:
        """The span is exactly the entry's written value."""
        return self.entry is not None and (self.start, self.end) == (self.entry.start, self.entry.end)


@dataclass
class Analysis:
    doc: Document
    reader: str  # the reader of the file ("jinja" for templates)
    inner: str  # for templates, the reader of the format inside; else the same as ``reader``
    sites: list[Site]


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace characters ``start``..``end`` of the document by ``text`` (ASCII or not)."""

    start: int
    end: int
    text: str


def validate(data: bytes, replacements: Sequence[Replacement]) -> list[Replacement]:
    """The replacements sorted, each checked: inside the file, not empty, not overlapping."""
    unique = sorted(set(replacements))
    if not unique:
        raise RewriteError("nothing to rewrite: no replacements given")
    for rep in unique:
        check_ref(rep.ref)
        if not 0 <= rep.start_byte < rep.end_byte <= len(data):
            raise RewriteError(f"span {rep.start_byte}-{rep.end_byte} is not inside the file ({len(data)} bytes)")
    for before, after in pairwise(unique):
        if after.start_byte < before.end_byte:
            raise RewriteError(f"spans {before.start_byte}-{before.end_byte} and "
                               f"{after.start_byte}-{after.end_byte} overlap")
    return unique


def char_offset(data: bytes, doc: Document, byte: int) -> int:
    """The character offset in ``doc``'s text of a byte offset in ``data`` (its bytes)."""
    if doc.encoding != "utf-8" or doc.is_ascii:
        return byte
    if byte < len(data) and data[byte] & 0xC0 == 0x80:
        raise RewriteError(f"byte {byte} is inside a multi-byte character: the span does not fit this file")
    return len(data[:byte].decode("utf-8"))


def read_entries(doc: Document) -> tuple[list[Entry], str]:
    """Every entry the file's reader yields (those before a format error, when there is one)."""
    reader = reader_for(doc)
    entries: list[Entry] = []
    try:
        for entry in reader.read(doc):
            entries.append(entry)
    except ReaderError:
        return entries, reader.name
    return entries, reader.name


def analyze(data: bytes, path: str, replacements: Sequence[Replacement]) -> Analysis:
    """Read ``data`` as the file at ``path`` and place every replacement in it."""
    reps = validate(data, replacements)
    doc, _ = Document.from_bytes(path, data)
    entries, reader = read_entries(doc)
    inner = reader
    if reader == "jinja":
        name = inner_path(path)
        inner = reader_for(Document.from_text(name, "")).name if name else LINE_READER.name
    entries.sort(key=lambda e: (e.start, -e.end))
    sites = []
    for rep in reps:
        start, end = char_offset(data, doc, rep.start_byte), char_offset(data, doc, rep.end_byte)
        best: Entry | None = None
        for entry in entries:
            if entry.start > start:
                break
            if entry.end >= end and (best is None or entry.end - entry.start < best.end - best.start):
                best = entry
        sites.append(Site(rep, start, end, best))
    return Analysis(doc, reader, inner, sites)


def splice(doc: Document, edits: Iterable[Edit]) -> tuple[bytes, list[tuple[int, int]]]:
    """The document's bytes with each edit applied, and the byte span each edit's text landed at.
    Bytes outside the edits are copied from the original."""
    data = doc.data
    out: list[bytes] = []
    spans: list[tuple[int, int]] = []
    done = 0
    size = 0
    for edit in sorted(edits, key=lambda e: e.start):
        begin, end = doc.byte_offset(edit.start), doc.byte_offset(edit.end)
        if begin < done:
            raise RewriteError(f"two rewrites overlap at line {doc.line_of(edit.start)}")
        piece = edit.text.encode(doc.encoding)
        out.append(data[done:begin])
        size += begin - done
        spans.append((size, size + len(piece)))
        out.append(piece)
        size += len(piece)
        done = end
    out.append(data[done:])
    return b"".join(out), spans


def bare_json_value(doc: Document, site: Site) -> bool:
    """A JSON span that is not inside a string (a number or a literal), so replacing it by text
    needs quotes."""
    if site.entry is not None and site.entry.quote:
        return False
    text = doc.text
    if text[site.start - 1: site.start] == '"' and text[site.end: site.end + 1] == '"':
        return False
    return text[: site.start].rstrip()[-1:] in (":", "[", ",", "")


# -- how a span's bytes encode the value -----------------------------------------------------------

_BACKSLASH = re.compile(r"\\(.)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Encoding:
    """How the value is written at a span: ``kind`` is "identity" (the bytes are the value),
    "backslash" (double quotes; only \\\\ and \\" escapes), "doubled-quote" (YAML single quotes),
    or "indented" (a YAML literal block: lines after the first indented by ``indent``). ``trailing``
    counts the newlines the value has beyond the written span (a block scalar's chomping)."""

    kind: str
    indent: int = 0
    trailing: int = 0
    # for a span that starts at a block scalar's indicator: where the block's content starts
    content_start: int = -1


def block_indent(text: str, entry: Entry) -> tuple[int, int]:
    """For a block scalar entry (offsets from its indicator): the content's first character offset
    and its indentation. Refuses explicit indentation indicators with more-indented first lines."""
    header_end = text.find("\n", entry.start)
    if header_end < 0 or header_end >= entry.end:
        raise RewriteError("block scalar without content")
    line_start = header_end + 1
    while True:  # skip blank lines before the first content line
        line_end = text.find("\n", line_start)
        line = text[line_start: line_end if line_end >= 0 else len(text)]
        if line.strip() or line_end < 0:
            break
        line_start = line_end + 1
    indent = len(line) - len(line.lstrip(" "))
    return line_start + indent, indent


def dedent(span_text: str, indent: int) -> str | None:
    """A literal block's span with each continuation line's indentation removed; None when a line
    is indented less (a blank line, whose written form the value cannot give back)."""
    lines = span_text.split("\n")
    pad = " " * indent
    if any(not line.startswith(pad) for line in lines[1:]):
        return None
    return "\n".join([lines[0], *(line[indent:] for line in lines[1:])])


def encoding_of(doc: Document, site: Site, reader: str) -> Encoding | None:
    """How the span's written bytes encode the value, or None when no supported encoding
    reproduces them exactly (the caller refuses the span)."""
    entry = site.entry
    text = doc.text
    written = text[site.start: site.end]
    if entry is None or not entry.raw:
        return Encoding("identity")
    quote = entry.quote
    if quote in ("|", ">"):
        content_start, indent = block_indent(text, entry)
        start = site.start
        trailing = 0
        if start == entry.start:  # the span is the whole scalar, indicator included
            if site.end != entry.end:
                return None
            start = content_start
            written = text[start: site.end]
            value = entry.value
            trailing = len(value) - len(value.rstrip("\n"))
        elif start < content_start:
            return None
        if "\n" not in written:
            enc = Encoding("identity", trailing=trailing, content_start=start if start != site.start else -1)
        elif quote == "|" and dedent(written, indent) is not None:
            enc = Encoding("indented", indent, trailing, start if start != site.start else -1)
        else:
            return None
        decoded = written if enc.kind == "identity" else dedent(written, indent)
        if decoded is None:
            return None
        if site.start == entry.start and decoded + "\n" * trailing != entry.value:
            return None
        if decoded not in entry.value:  # an indentation indicator, or lines the block does not hold
            return None
        return enc
    if reader == "yaml" and "\n" in written:  # a quoted or plain scalar folded over lines
        return None
    if quote == '"' and reader != "xml":
        if "\\" not in written:
            return Encoding("identity")
        if any(m.group(1) not in '\\"' for m in _BACKSLASH.finditer(written)):
            return None
        if site.whole and _BACKSLASH.sub(r"\1", written) != entry.value:
            return None
        return Encoding("backslash")
    if quote == "'" and reader == "yaml":
        if "''" not in written:
            return Encoding("identity") if "\n" not in written else None
        if "\n" in written or (site.whole and written.replace("''", "'") != entry.value):
            return None
        return Encoding("doubled-quote")
    # escapes this module does not reproduce: XML entities, properties escapes, folded lines
    if any(c in written for c in "\\&\n"):
        return None
    return Encoding("identity")


# -- was it rewritten already? ---------------------------------------------------------------------

def already_rewritten(data: bytes, replacements: Sequence[Replacement], pattern: re.Pattern[bytes]) -> bool:
    """Whether ``data`` is this rewrite's output already. Bytes before the first edit never move,
    and the first edit starts at or before the first span, so in a rewritten file the first span's
    offset lies inside the first reference; one byte later when a YAML plain scalar was quoted
    whole (the opening quote pushed it right)."""
    if not replacements:
        return False
    first = min(rep.start_byte for rep in replacements)
    return 0 <= first < len(data) and (covered_by(data, first, pattern) or covered_by(data, first + 1, pattern))


def covered_by(data: bytes, offset: int, pattern: re.Pattern[bytes], window: int = 512) -> bool:
    """Whether a match of ``pattern`` near ``offset`` covers it."""
    lo = max(0, offset - window)
    for match in pattern.finditer(data, lo, min(len(data), offset + window)):
        if match.start() <= offset < match.end():
            return True
        if match.start() > offset:
            break
    return False


def refuse_references(doc: Document, sites: Sequence[Site], pattern: re.Pattern[bytes]) -> None:
    """A span that overlaps a reference already in the file (of this or another run) is not a
    value: refuse it rather than rewrite a reference."""
    data = doc.data
    spans = [(doc.byte_offset(site.start), doc.byte_offset(site.end), site) for site in sites]
    for match in pattern.finditer(data):
        for begin, end, site in spans:
            if begin < match.end() and match.start() < end:
                raise RewriteError(f"line {doc.line_of(site.start)}: the span already holds a vaultshift reference")
