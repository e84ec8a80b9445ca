"""The values that flow through discovery: spans, entries, candidates, findings, scan errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple


class Confidence(IntEnum):
    """How sure a detector is that a candidate is a live credential."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @classmethod
    def parse(cls, text: str) -> Confidence:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown confidence {text!r}: use low, medium or high") from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Span:
    """Where a value sits in a file: 1-based lines and columns (in characters), 0-based byte offsets.

    ``start``/``end`` are byte offsets into the file as stored on disk, end exclusive: replacing
    ``data[start:end]`` replaces exactly the value and nothing else.
    """

    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int


class Entry(NamedTuple):
    """One key/value pair a reader found: the key path, the decoded value and where it is written.

    ``start``/``end`` are character offsets into the document's text (the document turns them
    into a Span only for the few entries that become findings). ``quote`` is the quoting
    character around the value as written ('' when unquoted; '|' or '>' for YAML block scalars,
    whose offsets then cover the indicator and the block); for quoted values the offsets cover
    the characters inside the quotes. ``raw`` is True when the written characters are not the
    value itself (escapes, folding), so a rewrite must re-encode. A named tuple, because readers
    make hundreds of thousands of them and a tuple is built several times faster than a frozen
    dataclass.
    """

    key_path: str
    key: str
    value: str
    start: int
    end: int
    quote: str = ""
    raw: bool = False


@dataclass(slots=True)
class Candidate:
    """A value a detector thinks may be a secret, before filters have had their say."""

    rule: str
    kind: str
    value: str
    span: Span
    key_path: str
    key: str
    confidence: Confidence
    detector: str
    in_code: bool = False  # the file is program source (its reader says so)


@dataclass(frozen=True, slots=True)
class Finding:
    """A secret that survived every filter. It holds a fingerprint and a hint, never the value."""

    path: str
    span: Span
    key_path: str
    kind: str
    rule: str
    confidence: Confidence
    fingerprint: str
    hint: str
    reader: str

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.span.line,
            "end_line": self.span.end_line,
            "column": self.span.column,
            "end_column": self.span.end_column,
            "start_byte": self.span.start,
            "end_byte": self.span.end,
            "key_path": self.key_path,
            "kind": self.kind,
            "rule": self.rule,
            "confidence": str(self.confidence),
            "fingerprint": self.fingerprint,
            "hint": self.hint,
            "reader": self.reader,
        }


@dataclass(frozen=True, slots=True)
class ScanError:
    """One file or item that could not be scanned (fully), and why, in one line.

    ``fatal`` errors leave content unscanned that should have been scanned, so the report is
    incomplete (permission denied, I/O errors, a file over the size cap, a path that does not
    exist): the scan's exit status says so. Non-fatal ones are notes: a file scanned with a
    caveat (malformed, so read line by line; invalid UTF-8) or an entry with nothing to scan
    (a FIFO or device, a symlink out of the root or in a loop, a broken symlink).
    """

    path: str
    reason: str
    fatal: bool = True

    @property
    def severity(self) -> str:
        return "error" if self.fatal else "note"

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "reason": self.reason, "severity": self.severity}

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(slots=True)
class ScanStats:
    files_scanned: int = 0
    files_skipped: int = 0
    bytes_scanned: int = 0
    candidates: int = 0
    findings: int = 0
    dropped_by_filter: dict[str, int] = field(default_factory=dict)
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "files_scanned": self.files_scanned,
            "files_skipped": self.files_skipped,
            "bytes_scanned": self.bytes_scanned,
            "candidates": self.candidates,
            "findings": self.findings,
            "dropped_by_filter": dict(sorted(self.dropped_by_filter.items())),
            "skipped": dict(sorted(self.skipped_reasons.items())),
            "seconds": round(self.seconds, 3),
        }


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)
