"""TOML (Cargo.toml, pyproject.toml, app configs).

The file is validated once with the standard library's tomllib; then one regular expression
tokenises strings, keys and punctuation so every string value is found with its exact offsets
and key path (tables, arrays of tables with their index, dotted keys, inline tables, arrays).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers.base import Reader, ReaderError
from migrator.discover.readers.line import decode_escapes

_KEY = r"""(?:[A-Za-z0-9_\-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
_TOKEN = re.compile(
    rf'''
      (?P<header>^[ \t]*\[)
    | (?P<key>{_KEY}(?:[ \t]*\.[ \t]*{_KEY})*)[ \t]*=
    | """(?P<mlb>(?:[^\\]|\\[\s\S])*?)"""(?!")
    | \'\'\'(?P<mll>[\s\S]*?)\'\'\'(?!\')
    | "(?P<bs>(?:[^"\\\n]|\\.)*)"
    | '(?P<ls>[^'\n]*)'
    | \#[^\n]*
    | (?P<punct>[\[\]{{}},])
    ''',
    re.VERBOSE | re.MULTILINE,
)
_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_\-]+")
_HEADER = re.compile(
    r"""\[(?P<aot>\[)?[ \t]*(?P<keys>(?:"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[A-Za-z0-9_\-]+|[ \t]*\.[ \t]*)+?)[ \t]*\]\]?"""
)
_KEY_PART = re.compile(r""""((?:[^"\\\n]|\\.)*)"|'([^'\n]*)'|([A-Za-z0-9_\-]+)""")
_ESCAPE = re.compile(r"\\(?:u(?P<hex>[0-9a-fA-F]{4})|U(?P<hex2>[0-9a-fA-F]{8})|[ \t]*\r?\n\s*|(?P<char>.))", re.DOTALL)
_SIMPLE = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\", "e": "\x1b"}
_UNSAFE = re.compile(r"[\'\"(]")
_WHERE = re.compile(r"\s*\(at line (\d+), column \d+\)|\s*\(at end of document\)")


def _decode(raw: str) -> str:
    return decode_escapes(raw, _ESCAPE, _SIMPLE, keep_unknown=False)


def _validate(text: str) -> None:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = _WHERE.search(message)
        line = int(where.group(1)) if where and where.group(1) else text.count("\n") + 1
        # tomllib quotes characters and keys from the file: keep only the words before them.
        reason = _UNSAFE.split(_WHERE.sub("", message), 1)[0].strip() or "invalid syntax"
        raise ReaderError(f"malformed TOML at line {line}: {reason}") from None


def _key_parts(keys: str) -> list[str]:
    parts = []
    for match in _KEY_PART.finditer(keys):
        if match.group(1) is not None:
            parts.append(_decode(match.group(1)))
        elif match.group(2) is not None:
            parts.append(match.group(2))
        else:
            parts.append(match.group(3))
    return parts


class _Frame:
    """An open inline table (``{``) or array (``[``) inside a value."""

    __slots__ = ("index", "is_array", "key", "parts", "path")

    def __init__(self, is_array: bool, path: str, key: str) -> None:
        self.is_array = is_array
        self.path = path
        self.key = key
        self.index = 0
        self.parts: list[str] = []


class TomlReader(Reader):
    name = "toml"
    patterns = ("*.toml", "*.toml.dist", "*.toml.example", "*.toml.sample", "cargo.lock", "poetry.lock",
                "pipfile", "pipfile.lock.toml")

    def read(self, doc: Document) -> Iterator[Entry]:
        text = doc.text
        _validate(text)
        table = ""
        aot_index: dict[str, int] = {}
        stack: list[_Frame] = []
        parts: list[str] = []  # the dotted key of the value being read
        pos = 0
        search = _TOKEN.search
        simple = _SIMPLE_KEY.fullmatch
        while True:
            match = search(text, pos)
            if match is None:
                break
            pos = match.end()
            kind = match.lastgroup
            if kind == "key":
                key = match.group("key")
                parts = [key] if simple(key) else _key_parts(key)
                if stack:
                    stack[-1].parts = parts
            elif kind == "punct" or kind == "header":
                char = text[pos - 1]
                if char == ",":
                    if stack and stack[-1].is_array:
                        stack[-1].index += 1
                elif char == "[" or char == "{":
                    if kind == "header" and not stack:
                        header = _HEADER.match(text, pos - 1)
                        if header is None:  # tomllib accepted it, so this cannot happen
                            raise ReaderError(f"malformed TOML at line {doc.line_of(pos)}: bad table header")
                        table = self._table(_key_parts(header.group("keys")), bool(header.group("aot")), aot_index)
                        pos = header.end()
                        continue
                    path, key = self._value_path(stack, table, parts)
                    stack.append(_Frame(char == "[", path, key))
                    parts = []
                elif stack:  # ']' or '}'
                    stack.pop()
                    parts = stack[-1].parts if stack else []
            elif kind is not None:  # a string value (comments have no group)
                raw = match.group(kind)
                start, end = match.span(kind)
                if kind == "bs":
                    quote, value = '"', _decode(raw)
                elif kind == "ls":
                    quote, value = "'", raw
                else:
                    quote = '"""' if kind == "mlb" else "'''"
                    if raw.startswith("\n"):
                        start, raw = start + 1, raw[1:]
                    elif raw.startswith("\r\n"):
                        start, raw = start + 2, raw[2:]
                    value = _decode(raw) if kind == "mlb" else raw
                if value:
                    path, key = self._value_path(stack, table, parts)
                    yield Entry(path, key, value, start, end, quote, value != raw)

    def _table(self, keys: list[str], is_array: bool, aot_index: dict[str, int]) -> str:
        path = ""
        for i, part in enumerate(keys):
            path = self.join(path, part)
            last = i == len(keys) - 1
            if last and is_array:
                index = aot_index.get(path, -1) + 1
                aot_index[path] = index
                path = f"{path}[{index}]"
            elif path in aot_index:
                path = f"{path}[{aot_index[path]}]"
        return path

    def _value_path(self, stack: list[_Frame], table: str, parts: list[str]) -> tuple[str, str]:
        """The key path and key of a value at the current position."""
        if stack:
            top = stack[-1]
            if top.is_array:
                return self.join(top.path, f"[{top.index}]"), top.key
            base = top.path
        else:
            base = table
        path = base
        for part in parts:
            path = self.join(path, part)
        return path, (parts[-1] if parts else "")
