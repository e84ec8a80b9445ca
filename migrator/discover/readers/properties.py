"""Java ``.properties`` files: ``key=value``, ``key:value``, ``key value``, continuations, escapes.

A logical line runs on while a physical line ends in an odd number of backslashes; the leading
white space of each continuation line is dropped, and ``\\uXXXX`` and the usual backslash
escapes are decoded, as java.util.Properties does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers.base import Reader, ReaderError

_PAIR = re.compile(
    r"""
    ^[ \t\f]*
    (?P<key>(?:[^\s=:\\\#!]|\\(?:\r\n|[\s\S]))(?:[^\s=:\\]|\\(?:\r\n|[\s\S]))*)
    [ \t\f]*(?:[=:][ \t\f]*)?
    (?P<value>(?:[^\\\n]|\\(?:\r\n|[\s\S]))*)
    """,
    re.MULTILINE | re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(?:u(?P<hex>[0-9a-fA-F]{4})|(?P<bad>u)|(?:\r\n|\r|\n)[ \t\f]*|(?P<char>[\s\S]))")
_SIMPLE = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _decode(raw: str, doc: Document, offset: int) -> str:
    if "\\" not in raw:
        return raw

    def one(match: re.Match[str]) -> str:
        if match.group("hex"):
            return chr(int(match.group("hex"), 16))
        if match.group("bad"):
            line = doc.line_of(offset + match.start())
            raise ReaderError(f"malformed properties at line {line}: malformed \\uxxxx escape")
        char = match.group("char")
        if char is None:  # a line continuation
            return ""
        return _SIMPLE.get(char, char)

    return _ESCAPE.sub(one, raw)


class PropertiesReader(Reader):
    name = "properties"
    patterns = ("*.properties", "*.properties.dist", "*.properties.example", "*.properties.sample",
                "*.properties.template.dist")

    def read(self, doc: Document) -> Iterator[Entry]:
        text = doc.text
        for match in _PAIR.finditer(text):
            start, end = match.span("value")
            while end > start and text[end - 1] in " \t\f\r":
                if end - 2 >= start and text[end - 2] == "\\":
                    break  # an escaped space or tab is part of the value
                end -= 1
            if end == start:
                continue
            key = _decode(match.group("key"), doc, match.start("key"))
            raw = text[start:end]
            value = _decode(raw, doc, start)
            if not value:
                continue
            yield Entry(key, key, value, start, end, "", value != raw)
