"""Scanning what changes add: each new blob read once, findings kept where their lines are new.

A blob is scanned whole (structure-aware readers need the whole file: a key path, a YAML block)
and the findings are then narrowed to the lines the change added, so editing a file that already
held an accepted value never re-reports it. Old versions are read only when a blob has findings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pathspec import GitIgnoreSpec

from migrator.discover.document import Document
from migrator.discover.loader import is_binary
from migrator.discover.models import Finding, ScanError, ScanStats
from migrator.discover.scanner import Scanner
from migrator.discover.walker import too_large_reason
from migrator.git.changes import Change, added_lines
from migrator.git.objects import BlobReader

IGNORE_FILE = ".vaultshiftignore"


def ignore_spec(lines: Iterable[str]) -> GitIgnoreSpec | None:
    """A matcher for repository-relative paths from ``.vaultshiftignore`` lines and ``--exclude``
    patterns (gitignore syntax); invalid lines are skipped, as git skips them."""
    valid: list[str] = []
    for line in lines:
        try:
            GitIgnoreSpec.from_lines([line])
        except (ValueError, TypeError):
            continue
        valid.append(line)
    meaningful = any(line.strip() and not line.lstrip().startswith("#") for line in valid)
    return GitIgnoreSpec.from_lines(valid) if meaningful else None


@dataclass(slots=True)
class ChangeScan:
    """What scanning one change found: findings on added lines, and notes or errors."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)


class BlobScanner:
    """Scans changes' new blobs with the discovery engine; counts into ``stats``."""

    def __init__(self, scanner: Scanner, blobs: BlobReader, ignore: GitIgnoreSpec | None = None,
                 stats: ScanStats | None = None) -> None:
        self.scanner = scanner
        self.blobs = blobs
        self.ignore = ignore
        self.stats = stats if stats is not None else ScanStats()  # shared when several scanners add up
        self._cache: dict[tuple[str, bytes], list[Finding]] = {}

    def _skip(self, reason: str) -> None:
        self.stats.files_skipped += 1
        self.stats.skipped_reasons[reason] = self.stats.skipped_reasons.get(reason, 0) + 1

    def scan(self, change: Change, where: str = "") -> ChangeScan:
        """Findings of ``change`` on the lines it adds. ``where`` names it in errors (a commit)."""
        out = ChangeScan()
        if change.deleted or change.symlink:
            return out
        shown = f"{where}:{change.path}" if where else change.path
        if change.submodule:
            self._skip("submodule")
            out.errors.append(ScanError(shown, "submodule: not scanned here (scan its own repository)", fatal=False))
            return out
        if self.ignore is not None and self.ignore.match_file(change.path):
            self._skip("ignored")
            return out
        key = (change.new_oid, change.raw_path)
        findings = self._cache.get(key)
        if findings is None:
            findings = self._scan_blob(change, shown, out.errors)
            self._cache[key] = findings
        if not findings:
            return out
        new_text, old_texts = self._texts(change)
        new_lines = added_lines(new_text, old_texts)
        out.findings = [f for f in findings
                        if any(line in new_lines for line in range(f.span.line, f.span.end_line + 1))]
        return out

    def _scan_blob(self, change: Change, shown: str, errors: list[ScanError]) -> list[Finding]:
        data, _ = self.blobs.read(change.new_oid)
        if data is None:
            self._skip("too large")
            errors.append(ScanError(shown, too_large_reason(self.blobs.max_size)))
            return []
        if is_binary(data):
            self._skip("binary")
            return []
        doc, warning = Document.from_bytes(change.path, data)
        if warning:
            errors.append(ScanError(shown, warning, fatal=False))
        scanned = self.scanner.scan_loaded(doc, self.stats, errors, shown)
        return scanned.findings if scanned is not None else []

    def _texts(self, change: Change) -> tuple[str, list[str]]:
        texts: list[str] = []
        for oid in (change.new_oid, *change.old_oids):
            data, _ = self.blobs.read(oid)
            if data is None or is_binary(data):
                texts.append("")
            else:
                texts.append(Document.from_bytes(change.path, data)[0].text)
        return texts[0], texts[1:]
