"""Jinja and other templates (``app.yml.j2``, ``.env.tpl``, ``nginx.conf.template``).

``{% ... %}`` statements and ``{# ... #}`` comments are blanked out with spaces (newlines kept,
so every offset stays where it was), then the file is read by the reader of the format under
the template extension. ``{{ ... }}`` expressions are left in place: a value that is a template
expression is for the filters to judge. When there is no inner format, or the inner reader
finds the blanked text malformed, the generic line reader reads it instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers.base import Reader, ReaderError
from migrator.discover.readers.line import entries_in_range

_OPEN = re.compile(r"\{[%#]")
_NOT_NEWLINE = re.compile(r"[^\n]")
_EXTENSIONS = (".j2", ".jinja2", ".jinja", ".tpl", ".tmpl", ".template")


def mask(text: str) -> str:
    """``text`` with every statement and comment tag replaced by spaces of the same length."""
    if "{%" not in text and "{#" not in text:
        return text
    parts: list[str] = []
    done = 0  # text[:done] is in parts
    unclosed = ""  # the kinds ('%', '#') with no closing tag left: later openers cannot close
    for match in _OPEN.finditer(text):
        begin = match.start()
        kind = text[begin + 1]
        if begin < done or kind in unclosed:
            continue
        end = text.find(kind + "}", begin + 2)
        if end < 0:
            unclosed += kind
            continue
        end += 2
        parts.append(text[done:begin])
        parts.append(_NOT_NEWLINE.sub(" ", text[begin:end]))
        done = end
    parts.append(text[done:])
    return "".join(parts)


def inner_path(path: str) -> str | None:
    """The path without its template extension, or None when nothing is left of the name."""
    lower = path.lower()
    for ext in _EXTENSIONS:
        if lower.endswith(ext):
            inner = path[: -len(ext)]
            base = inner.replace("\\", "/").rsplit("/", 1)[-1]
            return inner if base else None
    return None


class JinjaReader(Reader):
    name = "jinja"
    patterns = tuple("*" + ext for ext in _EXTENSIONS)
    priority = 10  # the template extension is the outer layer: `.env.j2`, `dockerfile.tpl`

    def read(self, doc: Document) -> Iterator[Entry]:
        from migrator.discover.readers import LINE_READER, reader_for  # the registry imports us

        text = doc.text
        masked = mask(text)
        name = inner_path(doc.path)
        data = doc.data if masked is text else masked.encode(doc.encoding, "replace")
        inner = Document(name or doc.path, masked, data, doc.encoding)
        entries: list[Entry] | None = None
        if name is not None:
            reader = reader_for(inner)
            if reader is not LINE_READER:
                try:
                    entries = list(reader.read(inner))
                except ReaderError:
                    entries = None
        if entries is None:
            entries = list(entries_in_range(inner, 0, len(masked)))
        if masked is text:
            yield from entries
            return
        for entry in entries:
            if not entry.raw and text[entry.start : entry.end] != entry.value:
                # a blanked tag sits inside the value: report the text as written
                entry = Entry(entry.key_path, entry.key, text[entry.start : entry.end], entry.start,
                              entry.end, entry.quote, entry.raw)
            yield entry
