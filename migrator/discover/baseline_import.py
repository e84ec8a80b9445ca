"""Import the baselines of detect-secrets and gitleaks.

Neither tool's file can be turned into vaultshift entries by itself (detect-secrets keeps SHA-1
hashes of values, gitleaks keeps the values), so an import scans the current tree and accepts the
findings the other tool's entries point at:

- detect-secrets 1.x (``.secrets.baseline``): ``results: {filename: [{hashed_secret, line_number,
  type, is_secret?}]}``; a finding matches when SHA-1 of its value is the entry's hashed_secret,
  in the same file (line numbers in those files drift, so they are not used).
- gitleaks 8 (a JSON report used as ``--baseline-path``): a list of ``{File, StartLine, EndLine,
  Secret, RuleID, ...}``; a finding matches on its value, in the same file. When the report
  is redacted (``--redact``), a finding on the entry's lines matches; when the entry's Secret
  is not the finding's value but one holds the other (a password inside a URL), a finding on the
  entry's lines matches too. A different value now on those lines is never accepted.

A gitleaks report holds plaintext: its Secret strings live only in memory for the scan, are
compared and dropped; no error message or output quotes them. Paths are matched as the other
tool wrote them, relative to the scanned tree (leading ``./`` ignored; an absolute path is made
relative to the scanned root), so import from the directory the other tool scanned.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from migrator.discover.baseline import Baseline, BaselineEntry, BaselineError
from migrator.discover.models import Finding

DETECT_SECRETS, GITLEAKS = "detect-secrets", "gitleaks"
SOURCES = (DETECT_SECRETS, GITLEAKS)
_SHA1 = re.compile(r"[0-9a-f]{40}")
_MIN_CONTAINED = 8  # a shorter value inside another is a coincidence, not the same secret


@dataclass(frozen=True, slots=True)
class Record:
    """One entry of the other tool's baseline. ``secret`` is a gitleaks plaintext value: it is
    never shown (not even by repr) and never leaves the process."""

    path: str
    line: int
    end_line: int
    rule: str
    reason: str
    hashed_secret: str = ""  # detect-secrets: SHA-1 hex of the value
    secret: str = field(default="", repr=False)
    redacted: bool = False

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The imported baseline, the other tool's entries it matched and missed, and how many of the
    current findings it does not accept (new since the other tool's baseline)."""

    baseline: Baseline
    matched: tuple[Record, ...]
    missing: tuple[Record, ...]
    uncovered: int


def _read_json(path: str | os.PathLike[str], what: str) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BaselineError(f"{path}: {what} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}: {what} is not valid JSON (line {exc.lineno})") from None


def _normalise_path(name: str) -> str:
    name = name.replace(os.sep, "/")
    while name.startswith("./"):
        name = name[2:]
    return name


def read_detect_secrets(path: str | os.PathLike[str]) -> list[Record]:
    what = "detect-secrets baseline"
    data = _read_json(path, what)
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise BaselineError(f"{path}: not a {what} (no 'results' object)")
    records = []
    for filename, items in data["results"].items():
        if not isinstance(items, list):
            raise BaselineError(f"{path}: not a {what}: results for a file must be a list")
        for number, item in enumerate(items, 1):
            if not isinstance(item, dict):
                raise BaselineError(f"{path}: not a {what}: entry {number} of a file is not an object")
            hashed, line, kind = item.get("hashed_secret"), item.get("line_number", 0), item.get("type", "")
            if not isinstance(hashed, str) or not _SHA1.fullmatch(hashed.lower()):
                raise BaselineError(f"{path}: {filename}: entry {number} has no hashed_secret (40 hex digits)")
            if not isinstance(line, int) or isinstance(line, bool) or not isinstance(kind, str):
                raise BaselineError(f"{path}: {filename}: entry {number}: bad line_number or type")
            verdict = item.get("is_secret")
            audited = "" if verdict is None else " (audited: a real secret)" if verdict else " (audited: not a secret)"
            records.append(Record(_normalise_path(filename), line, line, kind,
                                  f"imported from detect-secrets{audited}", hashed_secret=hashed.lower()))
    return records


def read_gitleaks(path: str | os.PathLike[str]) -> list[Record]:
    what = "gitleaks report"
    data = _read_json(path, what)
    if not isinstance(data, list):
        raise BaselineError(f"{path}: not a {what} (a JSON list of findings)")
    records = []
    for number, item in enumerate(data, 1):
        if not isinstance(item, dict) or not isinstance(item.get("File"), str) or not item["File"]:
            raise BaselineError(f"{path}: not a {what}: finding {number} has no File")
        start, end = item.get("StartLine", 0), item.get("EndLine", 0)
        secret, rule = item.get("Secret", ""), item.get("RuleID", "")
        if not isinstance(start, int) or isinstance(start, bool) or not isinstance(end, int) or isinstance(end, bool):
            raise BaselineError(f"{path}: finding {number}: StartLine and EndLine must be numbers")
        if not isinstance(secret, str) or not isinstance(rule, str):
            raise BaselineError(f"{path}: finding {number}: Secret and RuleID must be strings")
        redacted = not secret or "REDACTED" in secret or secret.endswith("...")
        records.append(Record(_normalise_path(item["File"]), start, max(start, end), rule, "imported from gitleaks",
                              secret="" if redacted else secret, redacted=redacted))
    return records


def read(source: str, path: str | os.PathLike[str]) -> list[Record]:
    if source == DETECT_SECRETS:
        return read_detect_secrets(path)
    if source == GITLEAKS:
        return read_gitleaks(path)
    raise BaselineError(f"cannot import from {source!r}: use one of {', '.join(SOURCES)}")


def _display_path(name: str, roots: Sequence[str | os.PathLike[str]]) -> str:
    """The scan's name for a file the other tool named by an absolute path (as the walker names it)."""
    if not os.path.isabs(name):
        return name
    for root in roots:
        absolute = os.path.abspath(root)
        if not os.path.isdir(absolute):
            if os.path.abspath(name) == absolute:
                return os.fspath(root).replace(os.sep, "/")
            continue
        relative = os.path.relpath(name, absolute)
        if relative == ".." or relative.startswith("../"):
            continue
        given = os.fspath(root).replace(os.sep, "/").rstrip("/")
        prefix = "" if len(roots) == 1 or given in ("", ".") else given.removeprefix("./") + "/"
        return prefix + relative.replace(os.sep, "/")
    return name


class Matcher:
    """Matches a scan's findings to the records; pass it as ``ScanOptions.value_observer``.

    It compares each value as the scan reports it and keeps only which findings matched.
    """

    def __init__(self, records: Iterable[Record], roots: Sequence[str | os.PathLike[str]] = (".",)) -> None:
        self.records = list(dict.fromkeys(records))  # the same entry twice (gitleaks: several commits) counts once
        self._by_path: dict[str, list[int]] = {}
        for index, record in enumerate(self.records):
            self._by_path.setdefault(_display_path(record.path, roots), []).append(index)
        self._exact: dict[int, list[Finding]] = {}
        self._near: dict[int, list[Finding]] = {}

    def __call__(self, finding: Finding, value: str) -> None:
        indexes = self._by_path.get(finding.path)
        if not indexes:
            return
        digest = ""
        for index in indexes:
            record = self.records[index]
            if record.hashed_secret:
                digest = digest or hashlib.sha1(value.encode("utf-8", "surrogatepass")).hexdigest()
                if digest == record.hashed_secret:
                    self._exact.setdefault(index, []).append(finding)
            elif record.secret and value == record.secret:
                self._exact.setdefault(index, []).append(finding)
            elif (finding.span.line <= record.end_line and record.line <= finding.span.end_line
                  and (record.redacted or _holds(record.secret, value))):
                self._near.setdefault(index, []).append(finding)

    def result(self, findings: Iterable[Finding], key_id: str = "") -> ImportResult:
        """Once the scan is done: the baseline of the matched findings (``findings``: the scan's)."""
        entries: list[BaselineEntry] = []
        matched, missing = [], []
        for index, record in enumerate(self.records):
            found = self._exact.get(index) or self._near.get(index)
            if not found:
                missing.append(record)
                continue
            matched.append(record)
            entries.extend(BaselineEntry(f.fingerprint, f.path, f.key_path, f.rule, record.reason) for f in found)
        baseline = Baseline(tuple(entries), key_id)
        uncovered = sum(1 for f in findings if not baseline.accepts_finding(f))
        return ImportResult(baseline, tuple(matched), tuple(missing), uncovered)


def _holds(secret: str, value: str) -> bool:
    shorter, longer = sorted((secret, value), key=len)
    return len(shorter) >= _MIN_CONTAINED and shorter in longer
