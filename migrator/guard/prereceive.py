"""``guard pre-receive``: a server-side hook that rejects pushes adding secrets.

git runs it once per push with ``old new ref`` lines on stdin, before any ref moves (the pushed
objects sit in a quarantine git already points the hook at). Only what the push adds is scanned:
commits not reachable from any existing ref, each diffed against its parents, findings kept on
added lines. A time budget bounds the hook; past it, the configured policy decides.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from migrator.discover.models import Finding, ScanError, ScanStats
from migrator.discover.scanner import Scanner
from migrator.git.blobscan import IGNORE_FILE, BlobScanner, ignore_spec
from migrator.git.commits import Deadline, rev_list, scan_commits
from migrator.git.objects import BlobReader
from migrator.git.repo import Git, GitError, is_zero_oid


class PushInputError(ValueError):
    """A line on stdin that is not ``old new ref``."""


@dataclass(frozen=True, slots=True)
class RefUpdate:
    old: str
    new: str
    ref: str

    @property
    def deleted(self) -> bool:
        return is_zero_oid(self.new)

    @property
    def created(self) -> bool:
        return is_zero_oid(self.old)


def parse_updates(text: str) -> list[RefUpdate]:
    updates = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3 or not all(_is_oid(p) for p in parts[:2]):
            raise PushInputError(f"stdin line {number}: expected 'OLD NEW REF' (object ids and a ref name)")
        updates.append(RefUpdate(*parts))
    return updates


def _is_oid(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


@dataclass(frozen=True, slots=True)
class PushFinding:
    commit: str
    ref: str
    finding: Finding


@dataclass(slots=True)
class PushScan:
    findings: list[PushFinding] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)
    commits_total: int = 0
    commits_scanned: int = 0
    timed_out: bool = False
    seconds: float = 0.0


def scan_push(git: Git, updates: Sequence[RefUpdate], scanner_for: Callable[[RefUpdate], Scanner],
              max_blob_size: int, budget: float | None, exclude: tuple[str, ...] = ()) -> PushScan:
    """What ``updates`` add, ref by ref: commits already scanned for an earlier ref of the same
    push are not scanned again. Stops when ``budget`` seconds have passed (``timed_out``)."""
    started = time.perf_counter()
    deadline = Deadline(budget)
    push = PushScan()
    done: list[str] = []
    plans: list[tuple[RefUpdate, list[str]]] = []
    for update in updates:
        if update.deleted:
            continue
        try:
            commits = rev_list(git, [update.new], exclude=done, not_existing_refs=True)
        except GitError as exc:
            push.errors.append(ScanError(update.ref, f"cannot list the pushed commits: {exc}"))
            continue
        done.append(update.new)
        plans.append((update, commits))
        push.commits_total += len(commits)
    with BlobReader(git, max_blob_size) as blobs:
        for update, commits in plans:
            if deadline.expired():
                deadline.stopped_work = True
                break
            ignore = ignore_spec([*exclude, *git.lines_of(f"{update.new}:{IGNORE_FILE}")])
            scan = BlobScanner(scanner_for(update), blobs, ignore, push.stats)
            for commit_scan in scan_commits(git, scan, commits, deadline):
                push.commits_scanned += 1
                push.errors.extend(commit_scan.scan.errors)
                push.findings.extend(PushFinding(commit_scan.commit, update.ref, f)
                                     for f in commit_scan.scan.findings)
            if deadline.stopped_work:
                break
    push.timed_out = deadline.stopped_work
    push.stats.findings = len(push.findings)
    push.seconds = push.stats.seconds = time.perf_counter() - started
    return push

