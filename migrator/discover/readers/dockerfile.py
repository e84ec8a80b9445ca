"""Dockerfiles and Containerfiles: ``ENV``, ``ARG``, ``LABEL`` and the shell of ``RUN`` lines.

An instruction runs over backslash-continued lines. ``ENV``/``ARG``/``LABEL`` hold
``KEY=value`` pairs (or the legacy ``ENV KEY value with spaces``); ``RUN``, ``CMD`` and
``ENTRYPOINT`` are read by the shell reader's scanner (``export X=y``, ``--password=...``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers.base import Reader
from migrator.discover.readers.shell import shell_entries

_INSTRUCTION = re.compile(
    r"^[ \t]*(?P<op>[A-Za-z]+)[ \t]+(?P<args>(?:[^\\\n]|\\(?:\r?\n|[^\n]))*)",
    re.MULTILINE,
)
_PAIR = re.compile(
    r"""
    (?P<key>"[^"\n]*"|'[^'\n]*'|[A-Za-z_][\w.\-]*)=
    (?: "(?P<dq>(?:[^"\\]|\\[\s\S])*)" | '(?P<sq>[^']*)' | (?P<bare>(?:[^\s"'\\]|\\[\s\S])+) )?
    """,
    re.VERBOSE,
)
_LEGACY = re.compile(r"(?P<key>[A-Za-z_][\w.\-]*)[ \t]+(?P<value>\S(?:[\s\S]*\S)?)")
_CONTINUATION = re.compile(r"\\\r?\n[ \t]*")
_DQ_ESCAPE = re.compile(r"\\(?:\r?\n[ \t]*|([\s\S]))")
_SHELL_OPS = frozenset({"run", "cmd", "entrypoint", "healthcheck", "onbuild"})


class DockerfileReader(Reader):
    name = "dockerfile"
    patterns = ("dockerfile", "dockerfile.*", "*.dockerfile", "containerfile", "containerfile.*")

    def read(self, doc: Document) -> Iterator[Entry]:
        text = doc.text
        for match in _INSTRUCTION.finditer(text):
            op = match.group("op").lower()
            begin, end = match.span("args")
            if op in ("env", "arg", "label"):
                yield from self._pairs(doc, begin, end, legacy=op == "env")
            elif op in _SHELL_OPS:
                yield from shell_entries(doc, begin, end)

    def _pairs(self, doc: Document, begin: int, end: int, legacy: bool) -> Iterator[Entry]:
        text = doc.text
        while end > begin and text[end - 1] in " \t\r":
            end -= 1
        first = _PAIR.match(text, begin, end)
        if first is None:
            if legacy:  # `ENV KEY value with spaces`: the value is the rest of the instruction
                old = _LEGACY.match(text, begin, end)
                if old:
                    start, stop = old.span("value")
                    quote = ""
                    if stop - start >= 2 and text[start] in "\"'" and text[stop - 1] == text[start]:
                        quote, start, stop = text[start], start + 1, stop - 1
                    raw = text[start:stop]
                    value = _CONTINUATION.sub("", raw)
                    key = old.group("key")
                    if value:
                        yield Entry(key, key, value, start, stop, quote, value != raw)
            return
        for match in _PAIR.finditer(text, begin, end):
            kind = match.lastgroup
            if kind is None or kind == "key":
                continue
            key = match.group("key")
            if key[:1] in "\"'":
                key = key[1:-1]
            start, stop = match.span(kind)
            raw = match.group(kind)
            if kind == "sq":
                value, quote = raw, "'"
            else:
                value = _DQ_ESCAPE.sub(lambda m: m.group(1) or "", raw) if "\\" in raw else raw
                quote = '"' if kind == "dq" else ""
            if value:
                yield Entry(key, key, value, start, stop, quote, value != raw)
