"""Dotenv files: ``KEY=value``, ``export KEY=value``, quoted and multi-line quoted values.

One multi-line regular expression finds each assignment at the start of a line; a quoted value
may run over several lines (a PEM key in double quotes), and the scan resumes after it, so the
lines inside a value are never read as assignments of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers.base import Reader, ReaderError
from migrator.discover.readers.line import unescape

_ASSIGNMENT = re.compile(
    r"""
    ^[ \t]*(?:export[ \t]+)?
    (?P<key>[A-Za-z_][\w.\-]*)[ \t]*=[ \t]*
    (?:
        "(?P<dq>(?:[^"\\]|\\[\s\S])*)"
      | '(?P<sq>[^']*)'
      | (?P<bad>["'])
      | (?P<bare>[^\n]*)
    )
    """,
    re.MULTILINE | re.VERBOSE,
)
_INLINE_COMMENT = re.compile(r"[ \t]#")


class EnvReader(Reader):
    name = "env"
    patterns = (".env", ".env.*", "*.env", "env.example", "env.sample", "env.dist", "env.local",
                "*.env.example", "*.env.sample", "*.env.dist", "*.env.local", ".flaskenv")

    def read(self, doc: Document) -> Iterator[Entry]:
        text = doc.text
        for match in _ASSIGNMENT.finditer(text):
            key = match.group("key")
            if match.group("dq") is not None:
                start, end = match.span("dq")
                raw = match.group("dq")
                value = unescape(raw)
                quote = '"'
            elif match.group("sq") is not None:
                start, end = match.span("sq")
                value = raw = match.group("sq")
                quote = "'"
            elif match.group("bad") is not None:
                line = doc.line_of(match.start("bad"))
                raise ReaderError(f"malformed .env at line {line}: unterminated quoted value")
            else:
                start, end = match.span("bare")
                raw = match.group("bare")
                if raw.startswith("#") and text[start - 1] in " \t":  # `KEY= # comment`
                    continue
                comment = _INLINE_COMMENT.search(raw)
                if comment:
                    raw = raw[: comment.start()]
                raw = raw.rstrip(" \t\r")
                end = start + len(raw)
                value = raw
                quote = ""
            if not value:
                continue
            yield Entry(key, key, value, start, end, quote, value != raw)
