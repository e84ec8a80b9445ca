"""XML: Maven and Spring configs, .NET app/web.config, csproj, Hadoop-style property files.

The document is checked once with expat (well-formedness, in C); a regular expression then
walks tags, attributes and text so each value keeps its exact offsets. Element text yields
``a.b.c``; attributes yield ``element.attribute``; the name/value idioms
(``<add key="K" value="V"/>``, ``<add name="K" connectionString="V"/>``,
``<property name="K">V</property>``, ``<property><name>K</name><value>V</value></property>``,
``<setting name="K"><value>V</value></setting>``)
yield the value under the name ``K``. A file that does not start with a tag (``*.config`` is
also used for HOCON, ini-like and Kconfig files) is read by the generic line reader instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.parsers import expat

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers.base import Reader, ReaderError
from migrator.discover.readers.line import entries_in_range

_TOKEN = re.compile(
    r"""
      <!--[\s\S]*?-->
    | <!\[CDATA\[(?P<cdata>[\s\S]*?)\]\]>
    | <\?[\s\S]*?\?>
    | <!(?:[^>\[]|\[[^\]]*\])*>
    | </(?P<close>[^\s>]+)\s*>
    | <(?P<open>[^\s/>!?]+)(?P<attrs>(?:[^>"']|"[^"]*"|'[^']*')*?)(?P<empty>/)?>
    | (?P<text>[^<\s](?:[^<]*[^<\s])?)
    """,
    re.VERBOSE,
)
_LOOKS_LIKE_XML = re.compile(r"\ufeff?\s*<")
_ATTR = re.compile(r"""([^\s=/]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ENTITY = re.compile(r"&(?:#[xX]([0-9a-fA-F]+)|#([0-9]+)|(amp|lt|gt|quot|apos));")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_LABELS = ("key", "name")
_VALUES = ("value", "connectionString", "connectionstring")


def _entity(match: re.Match[str]) -> str:
    if match.group(1):
        return chr(int(match.group(1), 16))
    if match.group(2):
        return chr(int(match.group(2)))
    return _NAMED[match.group(3)]


def _decode(raw: str) -> str:
    return _ENTITY.sub(_entity, raw) if "&" in raw else raw


def _validate(doc: Document) -> None:
    parser = expat.ParserCreate()
    try:
        parser.Parse(doc.data, True)
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code) if exc.code else "invalid XML"
        raise ReaderError(f"malformed XML at line {exc.lineno}: {reason}") from None


class _Element:
    __slots__ = ("child_label", "count", "has_child", "label", "name", "path", "span")

    def __init__(self, name: str, path: str, label: str | None) -> None:
        self.name = name
        self.path = path
        self.label = label
        self.has_child = False
        self.child_label: str | None = None  # the text of a <name>/<key> child
        self.count = 0  # text chunks (text, CDATA)
        self.span: tuple[int, int, bool] = (0, 0, False)  # the first chunk: start, end, is CDATA


class XmlReader(Reader):
    name = "xml"
    patterns = ("*.xml", "*.config", "*.xml.dist", "*.xml.example", "*.xml.sample", "*.csproj",
                "*.vbproj", "*.fsproj", "*.props", "*.targets", "*.pom", "pom.xml", "*.jmx",
                "*.config.dist", "*.config.example", "*.xml.template.dist", "*.pubxml", "*.nuspec")

    def read(self, doc: Document) -> Iterator[Entry]:
        text = doc.text
        if not _LOOKS_LIKE_XML.match(text):  # `*.config` is also HOCON, ini-like or Kconfig
            yield from entries_in_range(doc, 0, len(text))
            return
        _validate(doc)
        stack: list[_Element] = []
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup
            if kind == "text":
                if stack:
                    top = stack[-1]
                    top.count += 1
                    if top.count == 1:
                        top.span = (*match.span(kind), False)
            elif kind == "close":
                if stack:
                    element = stack.pop()
                    if element.count == 1 and not element.has_child:
                        entry = self._text_entry(text, element, stack[-1] if stack else None)
                        if entry is not None:
                            yield entry
            elif kind == "cdata":
                raw = match.group(kind)
                stripped = raw.strip()
                if stack and stripped:
                    top = stack[-1]
                    top.count += 1
                    if top.count == 1:
                        start = match.start(kind) + len(raw) - len(raw.lstrip())
                        top.span = (start, start + len(stripped), True)
            elif kind is not None:  # an opening tag: 'open', 'attrs' or 'empty'
                name = match.group("open")
                if ":" in name:
                    name = name.rsplit(":", 1)[1]
                parent = stack[-1] if stack else None
                if parent is not None:
                    parent.has_child = True
                    parent_path = parent.path
                    path = f"{parent_path}.{name}"
                else:
                    parent_path, path = "", name
                label = None
                if match.group("attrs"):
                    entries, label = self._attributes(text, match, parent_path, path)
                    yield from entries
                if not match.group("empty"):
                    stack.append(_Element(name, path, label))

    def _attributes(self, text: str, match: re.Match[str], parent_path: str,
                    path: str) -> tuple[list[Entry], str | None]:
        """An element's attribute entries, and its name/key attribute, if any."""
        attrs: list[tuple[str, int, int, str]] = []  # name, start, end, quote
        label = None
        value_attr = None
        for attr in _ATTR.finditer(text, match.start("attrs"), match.end("attrs")):
            name = attr.group(1)
            if name.startswith("xmlns") or name.startswith("xsi:"):
                continue
            if ":" in name:
                name = name.rsplit(":", 1)[1]
            group = attr.lastindex or 2
            attrs.append((name, attr.start(group), attr.end(group), '"' if group == 2 else "'"))
            if name in _LABELS and label is None:
                label = _decode(attr.group(group))
            elif name in _VALUES and value_attr is None:
                value_attr = name
        entries: list[Entry] = []
        named = label is not None and value_attr is not None
        base = self.join(parent_path, label) if named and label is not None else path
        for name, start, end, quote in attrs:
            if start == end or (named and name in _LABELS):
                continue
            if named and name == value_attr:
                key_path, key = base, label or name
            else:
                key_path, key = f"{base}.{name}", name
            raw = text[start:end]
            value = _decode(raw)
            entries.append(Entry(key_path, key, value, start, end, quote, value != raw))
        return entries, label

    def _text_entry(self, text: str, element: _Element, parent: _Element | None) -> Entry | None:
        start, end, cdata = element.span
        raw = text[start:end]
        value = raw if cdata else _decode(raw)
        if element.label:
            key, key_path = element.label, self.join(parent.path if parent else "", element.label)
        elif parent is not None and element.name == "value" and (parent.child_label or parent.label):
            # <property><name>K</name><value>V</value></property>, <setting name="K"><value>V</value>
            key = parent.child_label or parent.label or ""
            key_path = f"{parent.path}.{key}"
        else:
            key, key_path = element.name, element.path
        if parent is not None and element.name in _LABELS:
            parent.child_label = value
        return Entry(key_path, key, value, start, end, "", value != raw)
