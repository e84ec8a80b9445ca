"""INI-style and ``.conf`` files: sections, ``key = value``, ``key: value`` and directives.

``[section]`` headers prefix key paths; values may continue on deeper-indented lines (as
configparser reads them). Space-separated directives (``requirepass foo`` in redis.conf,
nginx-like ``key value;``) are read as key and value too, and ``name ... {`` blocks prefix the
directives inside them until the matching ``}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers.base import Reader, ReaderError

_LINE = re.compile(
    r"""
    ^(?P<indent>[ \t]*)
    (?:
        [;\#][^\n]*                                                      # comment
      | \[(?P<section>[^\]\n]*)\][^\n]*                                  # [section]
      | (?P<unclosed>\[)[^\n]*                                           # broken header
      | (?P<close>\})[^\n]*                                              # end of a block
      | (?P<k1>[^\s=;\#\[\]{}<>"'!][^\s=]*)[ \t]*=>?[ \t]*(?P<v1>[^\n]*) # key = value, key => value
      | (?P<k2>[^\s=:;\#\[\]{}<>"'!][^\s=:]*)[ \t]*:[ \t]*(?P<v2>[^\n]*) # key: value
      | (?P<k3>[\w.\-]+(?:[ \t]+[\w.\-]+)+)[ \t]+=[ \t]+(?P<v3>[^\n]*)    # two words = value
      | (?P<k4>[A-Za-z_][\w.\-]*)[ \t]+(?P<v4>[^\n]*)                     # directive value
    )
    """,
    re.MULTILINE | re.VERBOSE,
)
# Lines indented under a ``key = value`` line continue its value (not blank, not comments).
_CONTINUATION = re.compile(r"(?:\n[ \t]+[^\s;#][^\n]*)+")
_CONTINUED_LINE = re.compile(r"\n[ \t]+([^\n]*)")
_INLINE_COMMENT = re.compile(r"[ \t]+[;#]")
_SUBSECTION = re.compile(r"""\s*"([^"]*)"|\s+""")


def _section_path(header: str) -> str:
    """``[section]`` is ``section``; ``[remote "origin"]`` (git config) is ``remote.origin``."""
    header = header.strip()
    if '"' not in header and " " not in header:
        return header
    parts = [header.split(None, 1)[0].split('"', 1)[0]]
    parts.extend(m.group(1) for m in _SUBSECTION.finditer(header, len(parts[0])) if m.group(1))
    return ".".join(p for p in parts if p)


def _bare_value(raw: str, start: int, directive: bool) -> tuple[int, int, str]:
    """Offsets and quote of a one-line value: quotes stripped, or trailing comment and ';' cut."""
    if raw[:1] in ("'", '"'):
        close = raw.find(raw[0], 1)
        if close > 0:
            return start + 1, start + close, raw[0]
    comment = _INLINE_COMMENT.search(raw)
    if comment:
        raw = raw[: comment.start()]
    raw = raw.rstrip(" \t\r")
    if directive and raw.endswith(";"):
        raw = raw[:-1].rstrip(" \t")
        if raw[:1] in ("'", '"') and len(raw) >= 2 and raw[-1] == raw[0]:
            return start + 1, start + len(raw) - 1, raw[0]
    return start, start + len(raw), ""


class IniReader(Reader):
    name = "ini"
    patterns = ("*.ini", "*.cfg", "*.conf", "*.cnf", "*.cf", "my.cnf", ".my.cnf", "php.ini",
                "*.ini.dist", "*.ini.example", "*.ini.sample", "*.conf.dist", "*.conf.example",
                "*.conf.sample", "*.cfg.dist", "*.cfg.example", ".npmrc", ".pypirc", ".gitconfig",
                ".s3cfg", ".boto", ".pgpass.conf", ".odbc.ini", "odbc.ini", ".htpasswd.conf")

    def read(self, doc: Document) -> Iterator[Entry]:
        text = doc.text
        section = ""
        blocks: list[str] = []
        skip_until = -1
        for match in _LINE.finditer(text):
            if match.start() < skip_until:
                continue
            if match.group("section") is not None:
                section = _section_path(match.group("section"))
                blocks.clear()
                continue
            if match.group("unclosed"):
                raise ReaderError(f"malformed INI at line {doc.line_of(match.start())}: unclosed section header")
            if match.group("close"):
                if blocks:
                    blocks.pop()
                continue
            kind = match.lastgroup  # 'v1'..'v4' for an assignment: its digit names the form
            if kind is None or kind[0] != "v":
                continue
            group = kind[1]
            key = match.group("k" + group)
            vstart = match.start("v" + group)
            raw = match.group("v" + group)
            directive = group == "4"
            prefix = ".".join([section, *blocks] if section else blocks) if blocks else section
            if raw.rstrip(" \t\r;").endswith("{"):  # `server {`, `location /x {`: a block
                blocks.append(key)
                continue
            start, end, quote = _bare_value(raw, vstart, directive)
            value = text[start:end]
            is_raw = False
            if not directive and not match.group("indent"):
                cont = _CONTINUATION.match(text, match.end())
                if cont:
                    lines = [value] if value else []
                    lines.extend(m.group(1).rstrip(" \t\r") for m in _CONTINUED_LINE.finditer(cont.group()))
                    if not value:
                        first = _CONTINUED_LINE.match(cont.group())
                        start = cont.start() + (first.start(1) if first else 0)
                    end = cont.end()
                    while end > start and text[end - 1] in " \t\r":
                        end -= 1
                    value = "\n".join(lines)
                    quote = ""
                    is_raw = value != text[start:end]
                    skip_until = cont.end()
            if not value:
                continue
            yield Entry(self.join(prefix, key), key, value, start, end, quote, is_raw)
