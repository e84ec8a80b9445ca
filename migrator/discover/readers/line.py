"""The generic line reader: ``key = value``, ``key: value``, ``"key": "value"``, ``key => value``.

It is the reader for files no other reader claims, the fallback when a structured file is
malformed, and the sweep over lines a structured reader does not cover (comments, for one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers.base import Reader

# key, separator, value; the value is a quoted string or a run of non-space characters.
# A key or value in escaped quotes (\"key\": \"value\") is JSON inside a string.
ASSIGNMENT = re.compile(
    r"""
    (?P<key>\\"[^"\\\n]{1,80}\\"|"[^"\n]{1,80}"|'[^'\n]{1,80}'|[A-Za-z_$@][\w.\-\[\]$@]{0,80}+)
    [ \t]*(?P<sep>:=|=>|==|=|:(?!//)|\s(?=["']))[ \t]*
    (?P<value>(?P<list>\[[ \t]*\\?"[^\]\n]{0,2000}\])
      |\\"[^"\\\n]*+\\"|"(?:[^"\\\n]|\\.)*+"|'(?:[^'\\\n]|\\.)*+'|`[^`\n]*+`|<[^<>\n]{1,80}>
      |[^\s"'`,;{\[(][^\s,;]*+)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\", "/": "/", "0": "\0"}
_ESCAPE = re.compile(r"\\(.)")


def unescape(raw: str) -> str:
    """Decode the common backslash escapes of a double-quoted string (shell, JSON, YAML, HCL)."""
    if "\\" not in raw:
        return raw
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), raw)


def decode_escapes(raw: str, pattern: re.Pattern[str], simple: dict[str, str], keep_unknown: bool) -> str:
    """Decode a language's backslash escapes. ``pattern`` names its groups: ``hex`` and ``hex2``
    (code points in hex), ``oct`` (a byte in octal) and ``char`` (one escaped character); an
    escape with none of them (a line continuation) decodes to nothing. An unknown ``char``
    keeps its backslash when ``keep_unknown``."""
    if "\\" not in raw:
        return raw

    def one(match: re.Match[str]) -> str:
        groups = match.groupdict()
        for name in ("hex", "hex2"):
            if groups.get(name):
                code = int(groups[name], 16)
                return chr(code) if code <= 0x10FFFF else "\ufffd"
        if groups.get("oct"):
            return chr(int(groups["oct"], 8) & 0xFF)
        char = groups.get("char")
        if char is None:
            return ""
        return simple.get(char, "\\" + char if keep_unknown else char)

    return pattern.sub(one, raw)


def strip_key(key: str) -> str:
    if key.startswith('\\"') and key.endswith('\\"') and len(key) >= 4:
        return key[2:-2]
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "\"'":
        return key[1:-1]
    return key


def value_bounds(match: re.Match[str]) -> tuple[int, int, str]:
    """Start and end offsets of the value inside its quotes, and the quote character."""
    start, end = match.span("value")
    raw = match.group("value")
    if raw.startswith('\\"') and raw.endswith('\\"') and len(raw) >= 4:
        return start + 2, end - 2, '"'
    if raw[:1] in "\"'`" and len(raw) >= 2 and raw[-1] == raw[0]:
        return start + 1, end - 1, raw[0]
    trimmed = raw.rstrip(":)]}")  # "if token == NAME:" and "f(key=value)" end in punctuation
    return start, end - (len(raw) - len(trimmed)), ""


# After an unquoted value: more words on the line (not a comment, not the end of the line).
_MORE_WORDS = re.compile(r"[ \t]+[^\s#;/]")
# The strings of a one-line list value: ["a", "b"] or, inside a string, [\"a\", \"b\"].
_LIST_ITEM = re.compile(r'\\"([^"\\\n]*)\\"|"((?:[^"\\\n]|\\.)*)"')


_ASSIGNING_WORDS = frozenset({"export", "set", "setenv", "env", "arg", "declare", "local", "readonly", "typeset",
                              "let", "var", "const", "define", "label", "-e", "--env", "-d", "--build-arg"})


# Credential words that are also everyday English: "Single pass: ...", "The key: ...".
_AMBIGUOUS_WORDS = frozenset({"pass", "key", "keys", "token", "tokens", "auth", "secret", "secrets", "credentials"})


def _in_prose(text: str, match: re.Match[str], begin: int) -> bool:
    """``Single pass: characters`` in a comment: a word, a space, then ``key:`` is a sentence,
    not an assignment (``export KEY=value`` and friends are)."""
    start = match.start("key")
    sep = match.group("sep")
    if sep.strip() not in ("", ":") or start <= begin or text[start - 1] not in " \t":
        return False
    if sep == ":" and match.group("key").lower() not in _AMBIGUOUS_WORDS:
        return False  # "Default password: x" in a comment still names a password
    line_start = text.rfind("\n", 0, start) + 1
    before = text[max(line_start, begin):start].split()
    return bool(before) and before[-1][-1:].isalnum() and before[-1].lower() not in _ASSIGNING_WORDS


def entries_in_range(doc: Document, begin: int, end: int, prefix: str = "") -> Iterator[Entry]:
    """Every assignment between character offsets ``begin`` and ``end`` of ``doc``; a list of
    strings yields one entry per item (``[0]``, ``[1]``, ...)."""
    text = doc.text
    position = begin
    while True:
        match = ASSIGNMENT.search(text, position, end)
        if match is None:
            return
        position = match.end()
        key = strip_key(match.group("key")).strip()
        if not key or _in_prose(text, match, begin):
            position = match.start("value")  # the value may be the key of the real assignment
            continue
        if match.group("list") is not None:
            path = Reader.join(prefix, key)
            for index, item in enumerate(_LIST_ITEM.finditer(text, *match.span("list"))):
                group = 1 if item.group(1) is not None else 2
                raw = item.group(group)
                value = unescape(raw) if group == 2 else raw
                yield Entry(f"{path}[{index}]", key, value, item.start(group), item.end(group), '"', value != raw)
            continue
        start, stop, quote = value_bounds(match)
        if not quote and match.group("sep") == ":" and _MORE_WORDS.match(text, match.end("value"), end):
            position = match.start("value")  # "Note: db_password = x": a sentence, then maybe an assignment
            continue
        raw = text[start:stop]
        value = unescape(raw) if quote == '"' else raw
        yield Entry(
            key_path=Reader.join(prefix, key),
            key=key,
            value=value,
            start=start,
            end=stop,
            quote=quote,
            raw=value != raw,
        )


# A credential word followed on its line by a separator and a value: a line worth reading.
_KEYWORD_LINE = re.compile(r"(?:pass|pwd|secret|token|key|auth|cred)[^\n:=]*+(?:[:=]|\s[\"'])[ \t]*+[^\s]")


def keyword_lines(doc: Document) -> Iterator[tuple[int, int]]:
    """The (start, end) offsets of each line where a credential word is assigned a value."""
    low = doc.lower
    position = 0
    while True:
        match = _KEYWORD_LINE.search(low, position)
        if match is None:
            return
        begin, end = doc.line_span(doc.line_of(match.start()))
        position = end + 1
        yield begin, end


def quoted_keyword_entries(doc: Document) -> Iterator[Entry]:
    """Quoted values assigned on keyword lines: what source code can hold as a literal secret."""
    for begin, end in keyword_lines(doc):
        yield from (entry for entry in entries_in_range(doc, begin, end) if entry.quote)


class LineReader(Reader):
    name = "line"
    patterns: ClassVar[tuple[str, ...]] = ("*",)
    priority = -100

    def read(self, doc: Document) -> Iterator[Entry]:
        yield from entries_in_range(doc, 0, len(doc.text))


class SourceCodeReader(LineReader):
    """Program source in languages without a reader of their own (JavaScript, TypeScript, Go,
    Java, C#, Ruby, PowerShell, ...): read line by line, and as code, so that only quoted
    values count; ``$token = $params.token`` is an expression, not a credential. Only lines that
    assign something to a credential word are read: code has no structure worth modelling here."""

    name = "source"
    code = True
    patterns = ("*.js", "*.mjs", "*.cjs", "*.jsx", "*.ts", "*.tsx", "*.go", "*.java", "*.kt", "*.kts", "*.scala",
                "*.groovy", "*.cs", "*.vb", "*.rb", "*.rake", "*.ps1", "*.psm1", "*.psd1", "*.pl", "*.pm", "*.lua",
                "*.rs", "*.swift", "*.c", "*.h", "*.cc", "*.cpp", "*.hpp", "*.m", "*.dart", "*.ex", "*.exs",
                "*.erl", "*.clj", "*.r", "*.jl", "*.gradle")
    priority = -50

    def read(self, doc: Document) -> Iterator[Entry]:
        yield from quoted_keyword_entries(doc)
