"""PHP configuration: arrays (``'key' => 'value'``), ``define()``, ``const``, assignments.

A regular expression tokenises the PHP parts of the file (HTML outside ``<?php ... ?>`` is
skipped); a small state machine tracks array nesting (``[...]`` and ``array(...)``) for key
paths, statement-level assignment targets (``$cfg['db']['password'] = 'x'`` is
``cfg.db.password``), and the calls whose first argument names the value
(``define('DB_PASSWORD', 'x')``, Laravel's ``env('DB_PASSWORD', 'x')``, ``getenv``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers.base import Reader, ReaderError
from migrator.discover.readers.line import decode_escapes

_TOKEN = re.compile(
    r"""
      //[^\n]* | \#(?!\[)[^\n]* | /\*[\s\S]*?(?:\*/|\Z)
    | (?P<key>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|-?\d+|[A-Za-z_\\][\w\\]*(?:::[A-Za-z_]\w*)?)\s*=>
      (?:\s*'(?P<pair>(?:[^'\\]|\\[\s\S])*)')?
    | '(?P<sq>(?:[^'\\]|\\[\s\S])*)'
    | "(?P<dq>(?:[^"\\]|\\[\s\S])*)"
    | <<<[ \t]*(?P<hq>["']?)(?P<tag>[A-Za-z_]\w*)(?P=hq)\r?\n(?P<heredoc>[\s\S]*?)\r?\n[ \t]*(?P=tag)\b
    | (?P<bad>['"]|<<<)
    | \?>(?P<html>[\s\S]*?)(?:<\?(?:php|=)?|\Z)
    | \$(?P<var>[A-Za-z_]\w*)
    | (?P<ident>[A-Za-z_\\][\w\\]*)
    | (?P<num>\d+)
    | (?P<op>=>|->|\?->|::|===?|!==?|<=|>=|\.=|\?\?=?|[=\[\](),;{}])
    """,
    re.VERBOSE,
)
_OPEN_TAG = re.compile(r"<\?(?:php\b|=)?")
_SQ_ESCAPE = re.compile(r"\\([\\'])")
_DQ_ESCAPE = re.compile(
    r"\\(?:u\{(?P<hex>[0-9a-fA-F]+)\}|x(?P<hex2>[0-9a-fA-F]{1,2})|(?P<oct>[0-7]{1,3})|(?P<char>.))", re.DOTALL)
_DQ_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "v": "\v", "e": "\x1b", "f": "\f", "\\": "\\", "$": "$", '"': '"'}
_NAMING_CALLS = frozenset({"define", "env", "getenv", "\\define", "\\env", "\\getenv"})

_KEYWORDS = frozenset({"return", "yield", "echo", "print", "case", "else", "throw", "and", "or", "xor", "as",
                       "in", "from", "fn", "match", "default"})

_ARRAY, _CALL, _INDEX = 0, 1, 2
_MAX_DEPTH = 256


def _dq_decode(raw: str) -> str:
    return decode_escapes(raw, _DQ_ESCAPE, _DQ_SIMPLE, keep_unknown=True)


class _Frame:
    __slots__ = ("argno", "func", "index", "key", "kind", "name", "part", "path", "pending", "positional")

    def __init__(self, kind: int, path: str, key: str, func: str = "") -> None:
        self.kind = kind
        self.path = path
        self.key = key
        self.func = func
        self.index = 0  # positional items so far (arrays)
        self.argno = 0  # the argument being read (calls)
        self.pending: str | None = None  # the key before '=>' of the current array item
        self.positional = False  # the current array item has no key
        self.name = ""  # a naming call's first argument
        self.part: str | None = None  # the string index of `$a['x']`


def _key(raw: str) -> str:
    if raw[0] == "'":
        return _SQ_ESCAPE.sub(r"\1", raw[1:-1]) if "\\" in raw else raw[1:-1]
    if raw[0] == '"':
        return _dq_decode(raw[1:-1])
    return raw


class PhpReader(Reader):
    name = "php"
    code = True
    patterns = ("*.php", "*.php.dist", "*.php.example", "*.php.sample", "*.inc", "*.php.inc")

    def read(self, doc: Document) -> Iterator[Entry]:
        text = doc.text
        opening = _OPEN_TAG.search(text)
        frames: list[_Frame] = []
        lvalue: list[str] | None = None
        target: tuple[str, str] | None = None
        const_next = False
        last_ident = ""
        indexable = False  # the previous token was `$var`, an identifier, `]` or `)`: `[` indexes it
        for match in _TOKEN.finditer(text, opening.end() if opening else 0):
            kind = match.lastgroup
            if kind is None or kind == "html":
                continue
            top = frames[-1] if frames else None
            if len(frames) > _MAX_DEPTH:  # key paths that long would cost quadratic time
                raise ReaderError(f"malformed PHP at line {doc.line_of(match.start())}: nested deeper than "
                                  f"{_MAX_DEPTH} levels")
            after_operand, indexable = indexable, False
            ident, last_ident = last_ident, ""
            if kind == "key" or kind == "pair":
                if top is None or top.kind != _ARRAY:
                    continue
                top.pending, top.positional = _key(match.group("key")), False
                if kind == "pair":
                    raw = match.group("pair")
                    value = _SQ_ESCAPE.sub(r"\1", raw) if "\\" in raw else raw
                    if value:
                        start, end = match.span("pair")
                        path = self.join(top.path, top.pending)
                        yield Entry(path, top.pending, value, start, end, "'", value != raw)
            elif kind == "sq" or kind == "dq" or kind == "heredoc":
                raw = match.group(kind)
                if kind == "sq":
                    value, quote = (_SQ_ESCAPE.sub(r"\1", raw) if "\\" in raw else raw), "'"
                elif kind == "dq":
                    value, quote = _dq_decode(raw), '"'
                else:
                    value, quote = (raw if match.group("hq") == "'" else _dq_decode(raw)), "<<<"
                if top is None:
                    path, key = target if target is not None else ("", "")
                elif top.kind == _INDEX:
                    top.part = value
                    continue
                elif top.kind == _CALL and top.func in _NAMING_CALLS and top.argno == 0:
                    top.name = value
                    continue
                else:
                    path, key = self._position(top, None)
                if path and value:
                    start, end = match.span(kind)
                    yield Entry(path, key, value, start, end, quote, value != raw)
            elif kind == "var":
                indexable = True
                if top is None and target is None and lvalue is None:
                    lvalue = [match.group("var")]
            elif kind == "ident":
                name = match.group("ident")
                indexable = name.lower() not in _KEYWORDS
                if const_next and top is None:
                    lvalue, const_next = [name], False
                elif lvalue is not None and top is None:
                    lvalue.append(name)
                elif top is None and name.lower() == "const":
                    const_next = True
                last_ident = name
            elif kind == "num":
                if top is not None and top.kind == _INDEX:
                    top.part = match.group("num")
                elif top is not None and top.kind == _ARRAY:
                    self._position(top, None)  # a positional number still takes an index
            elif kind == "bad":
                what = "heredoc" if match.group("bad") == "<<<" else "string"
                raise ReaderError(f"malformed PHP at line {doc.line_of(match.start())}: unterminated {what}")
            else:
                op = match.group("op")
                if op in ("=", ".=", "??="):
                    if lvalue is not None and top is None:
                        target, lvalue = (".".join(lvalue), lvalue[-1]), None
                elif op == "[":
                    if after_operand:
                        frames.append(_Frame(_INDEX, "", ""))
                    else:
                        frames.append(_Frame(_ARRAY, *self._position(top, target)))
                elif op == "(":
                    path, key = self._position(top, target)
                    lowered = ident.lower()
                    frames.append(_Frame(_ARRAY, path, key) if lowered == "array" else
                                  _Frame(_CALL, path, key, lowered))
                elif op == "]" or op == ")":
                    indexable = True
                    if frames:
                        closed = frames.pop()
                        if closed.kind == _INDEX and lvalue is not None and not frames and closed.part:
                            lvalue.append(closed.part)
                elif op == ",":
                    if top is None:
                        lvalue, target = None, None
                    elif top.kind == _ARRAY:
                        if top.positional:
                            top.index += 1
                        top.pending, top.positional = None, False
                    elif top.kind == _CALL:
                        top.argno += 1
                elif op == ";" or op == "{" or op == "}":
                    frames.clear()
                    lvalue, target, const_next = None, None, False

    def _position(self, top: _Frame | None, target: tuple[str, str] | None) -> tuple[str, str]:
        """The key path and key of a value starting at the current position."""
        if top is None:
            return target if target is not None else ("", "")
        if top.kind == _ARRAY:
            if top.pending is not None:
                return self.join(top.path, top.pending), top.pending
            top.positional = True
            return self.join(top.path, f"[{top.index}]"), top.key
        if top.kind == _CALL and top.name:
            return (top.path or top.name), top.name
        return top.path, top.key
