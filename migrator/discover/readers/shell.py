"""Shell scripts and rc files: ``KEY=value`` (plain, ``export``, ``readonly``, ``declare``,
``local``), and command flags ``--password=foo`` / ``--password foo``.

Values are one shell word: a double-quoted string (which may span lines), a single-quoted
string, or a bare word that may hold ``$(...)``, ``${...}`` and backquotes; they are yielded as
written, expansions included, and left to the filters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers.base import Reader

_PIECE = r"""(?:\$\((?:[^()]|\([^()]*\))*\)|\$\{[^}\n]*\}|`[^`]*`|\\[\s\S]|[^\s;&|<>()"'`\\])"""
_SHELL = re.compile(
    rf"""
      (?<![^\s;&|(])\#[^\n]*
    | (?<![\w$\-./=:@%+])(?P<key>[A-Za-z_][A-Za-z0-9_]*)\+?=(?!=)
      (?: "(?P<dq>(?:[^"\\]|\\[\s\S])*)" | '(?P<sq>[^']*)' | (?P<bare>{_PIECE}+) )?
    | (?<![\w\-])--(?P<flag>[A-Za-z][\w\-]*)(?:=|[ \t]+(?=[^\s\-\\]))
      (?: "(?P<fdq>(?:[^"\\]|\\[\s\S])*)" | '(?P<fsq>[^']*)' | (?P<fbare>{_PIECE}+) )
    """,
    re.VERBOSE,
)
_DQ_ESCAPE = re.compile(r"\\(?:\r?\n|([$`\"\\]))")
_BARE_ESCAPE = re.compile(r"\\(?:\r?\n|([\s\S]))")


def _unescape(pattern: re.Pattern[str], raw: str) -> str:
    if "\\" not in raw:
        return raw
    return pattern.sub(lambda m: m.group(1) or "", raw)


def shell_entries(doc: Document, begin: int = 0, end: int | None = None) -> Iterator[Entry]:
    """Every assignment and ``--flag`` value between character offsets ``begin`` and ``end``."""
    text = doc.text
    stop = len(text) if end is None else end
    for match in _SHELL.finditer(text, begin, stop):
        kind = match.lastgroup
        if kind is None or kind == "key":  # a comment, or `KEY=` with nothing after it
            continue
        key = match.group("key") or match.group("flag")
        start, stop_ = match.span(kind)
        raw = match.group(kind)
        if kind in ("dq", "fdq"):
            value, quote = _unescape(_DQ_ESCAPE, raw), '"'
        elif kind in ("sq", "fsq"):
            value, quote = raw, "'"
        else:
            value, quote = _unescape(_BARE_ESCAPE, raw), ""
        if value:
            yield Entry(key, key, value, start, stop_, quote, value != raw)


class ShellReader(Reader):
    name = "shell"
    patterns = ("*.sh", "*.bash", "*.zsh", "*.ksh", ".bashrc", ".bash_profile", ".bash_login",
                ".bash_aliases", ".profile", ".zshrc", ".zprofile", ".zshenv", ".kshrc", ".envrc",
                "*.envrc", "*.sh.dist", "*.sh.example", "*.sh.sample", "bashrc", "profile", "zshrc")

    def read(self, doc: Document) -> Iterator[Entry]:
        yield from shell_entries(doc)
