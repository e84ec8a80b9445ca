"""``scan --git``: every commit of a repository's history, each blob scanned once, and each
finding attributed to the commits that introduced it.

A finding is one secret at one logical place (fingerprint, path, key path). Its location is where
it first appeared; ``commits`` lists every commit that added it there (a secret removed and added
back, or added on two branches, has several).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from migrator.discover.models import Finding, ScanError, ScanResult
from migrator.discover.scanner import Scanner
from migrator.git.blobscan import IGNORE_FILE, BlobScanner, ignore_spec
from migrator.git.commits import rev_list, scan_commits
from migrator.git.objects import BlobReader
from migrator.git.repo import Git, GitError


@dataclass(frozen=True, slots=True)
class Introduction:
    """A commit that added a finding: id, author, ISO date, subject."""

    commit: str
    author: str
    date: str
    subject: str

    def to_dict(self) -> dict[str, str]:
        return {"commit": self.commit, "author": self.author, "date": self.date, "subject": self.subject}


@dataclass(slots=True)
class HistoryScan:
    result: ScanResult = field(default_factory=ScanResult)
    commits: dict[tuple[str, str, str], list[Introduction]] = field(default_factory=dict)
    commits_scanned: int = 0
    shallow: bool = False

    def introductions(self, finding: Finding) -> list[Introduction]:
        return self.commits.get((finding.fingerprint, finding.path, finding.key_path), [])


def scan_history(git: Git, scanner: Scanner, max_blob_size: int, since: str | None = None,
                 exclude: tuple[str, ...] = ()) -> HistoryScan:
    """Scan every commit reachable from any ref (after ``since`` when given)."""
    started = time.perf_counter()
    git.check()
    history = HistoryScan(shallow=git.is_shallow())
    result = history.result
    head = git.resolve("HEAD")
    exclude_revs: list[str] = []
    if since is not None:
        resolved = git.resolve(since)
        if resolved is None:
            raise GitError(f"--since {since}: no such commit in {git.path}")
        exclude_revs.append(resolved)
    commits = rev_list(git, exclude=exclude_revs, every_ref=True)
    if history.shallow:
        result.errors.append(ScanError(str(git.path), "shallow clone: history before the shallow boundary is "
                                                      "missing; the boundary commits' files count as added there",
                                       fatal=False))
    ignore_lines = list(exclude)
    if head:
        ignore_lines += git.lines_of(f"{head}:{IGNORE_FILE}")
    with BlobReader(git, max_blob_size) as blobs:
        scan = BlobScanner(scanner, blobs, ignore_spec(ignore_lines))
        first: dict[tuple[str, str, str], Finding] = {}
        introduced: dict[tuple[str, str, str], list[str]] = {}
        for commit_scan in scan_commits(git, scan, commits):
            history.commits_scanned += 1
            result.errors.extend(commit_scan.scan.errors)
            for finding in commit_scan.scan.findings:
                key = (finding.fingerprint, finding.path, finding.key_path)
                first.setdefault(key, finding)
                shas = introduced.setdefault(key, [])
                if commit_scan.commit not in shas:
                    shas.append(commit_scan.commit)
    info = git.commit_info(sorted({sha for shas in introduced.values() for sha in shas}))
    for key, shas in introduced.items():
        history.commits[key] = [Introduction(sha, *info.get(sha, ("", "", ""))) for sha in shas]
    result.findings = sorted(first.values(), key=lambda f: (f.path, f.span.start, f.rule))
    result.stats = scan.stats
    result.stats.findings = len(result.findings)
    result.stats.seconds = time.perf_counter() - started
    return history

