"""A file's text with the index that turns character offsets into exact spans."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

from migrator.discover.models import Span


class DecodeError(ValueError):
    """The bytes are not valid UTF-8; the document was decoded as Latin-1 so offsets stay exact."""


@dataclass
class Document:
    """The decoded text of one file, and helpers to locate character offsets.

    ``path`` is the path shown to users (relative to the scanned root); ``name`` is the file's
    base name, lower-cased, which readers use to decide whether a file is theirs.
    """

    path: str
    text: str
    data: bytes
    encoding: str = "utf-8"
    _line_starts: list[int] = field(default_factory=list, repr=False)
    _lower: str | None = field(default=None, repr=False)
    _line_bytes: list[int] = field(default_factory=list, repr=False)

    @classmethod
    def from_bytes(cls, path: str, data: bytes) -> tuple[Document, str | None]:
        """Decode ``data``; return the document and a warning when it is not valid UTF-8."""
        try:
            return cls(path, data.decode("utf-8"), data), None
        except UnicodeDecodeError as exc:
            warning = f"invalid UTF-8 at byte {exc.start}; scanned as Latin-1"
            return cls(path, data.decode("latin-1"), data, encoding="latin-1"), warning

    @classmethod
    def from_text(cls, path: str, text: str) -> Document:
        return cls(path, text, text.encode("utf-8"))

    @property
    def name(self) -> str:
        return self.path.replace("\\", "/").rsplit("/", 1)[-1].lower()

    @property
    def lower(self) -> str:
        """The text with ASCII letters lower-cased; same length and offsets as ``text``."""
        if self._lower is None:
            if self.is_ascii:  # one byte per character; bytes.lower is an order of magnitude faster than str.lower
                self._lower = self.data.lower().decode("latin-1")
            else:
                # Only U+0130 (capital I with dot) grows when lower-cased; keep offsets exact.
                low = self.text.replace("\u0130", "i").lower()
                if len(low) != len(self.text):  # pragma: no cover - a future Unicode mapping
                    low = "".join(c.lower() if len(c.lower()) == 1 else c for c in self.text)
                self._lower = low
        return self._lower

    @property
    def line_starts(self) -> list[int]:
        """Character offset of the start of each line."""
        if not self._line_starts:
            self._line_starts = [0, *accumulate(len(line) + 1 for line in self.text.split("\n")[:-1])]
        return self._line_starts

    @property
    def is_ascii(self) -> bool:
        return len(self.data) == len(self.text)

    def line_of(self, offset: int) -> int:
        """1-based line number of a character offset."""
        return bisect_right(self.line_starts, offset)

    def line_text(self, line: int) -> str:
        starts = self.line_starts
        begin = starts[line - 1]
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[begin:end]

    def line_span(self, line: int) -> tuple[int, int]:
        starts = self.line_starts
        begin = starts[line - 1]
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return begin, end

    def byte_offset(self, offset: int) -> int:
        if self.is_ascii or self.encoding == "latin-1":
            return offset
        if not self._line_bytes:  # byte offset of each line start, for files with multi-byte text
            lines = self.text.split("\n")[:-1]
            self._line_bytes = [0, *accumulate(len(line.encode("utf-8", "surrogatepass")) + 1 for line in lines)]
        line = self.line_of(offset)
        begin = self.line_starts[line - 1]
        return self._line_bytes[line - 1] + len(self.text[begin:offset].encode("utf-8", "surrogatepass"))

    def span(self, start: int, end: int) -> Span:
        """The span of characters ``text[start:end]``."""
        line = self.line_of(start)
        end_line = self.line_of(end - 1) if end > start else line
        starts = self.line_starts
        column = start - starts[line - 1] + 1
        end_column = end - starts[end_line - 1] + 1
        return Span(line, column, end_line, end_column, self.byte_offset(start), self.byte_offset(end))

    def offset(self, line: int, column: int) -> int:
        """Character offset of a 1-based line and 0-based column."""
        return self.line_starts[line - 1] + column
