"""Commits as a source: which commits are new, and what each one adds."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from migrator.git.blobscan import BlobScanner, ChangeScan
from migrator.git.changes import parse_raw
from migrator.git.repo import Git

# Each commit's id heads its records; -c gives merges one old blob per parent; --root lists a
# root commit's files as added.
DIFF_TREE = ("diff-tree", "--stdin", "-r", "-z", "-c", "-M", "--no-abbrev", "--root")


class Deadline:
    """A time budget: ``expired()`` once ``seconds`` have passed since it was made (None: never)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.started = time.monotonic()
        self.stopped_work = False  # set by whoever stopped early because the budget ran out

    def expired(self) -> bool:
        return self.seconds is not None and time.monotonic() - self.started > self.seconds

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def rev_list(git: Git, include: Sequence[str] = (), exclude: Sequence[str] = (), *,
             every_ref: bool = False, not_existing_refs: bool = False) -> list[str]:
    """Commits reachable from ``include`` (and from every ref, with ``every_ref``) but not from
    ``exclude`` (nor from any existing ref, with ``not_existing_refs``), parents first."""
    if not include and not every_ref:
        return []
    args = ["rev-list", "--topo-order", "--reverse"]
    if every_ref:
        args.append("--all")
    if not_existing_refs:
        args += ["--not", "--all"]  # git reads the --stdin lines as positive all the same
    lines = [*include, *(f"^{rev}" for rev in exclude)]  # older git takes no --not on stdin
    out = git.run(*args, "--stdin", input=("\n".join(lines) + "\n").encode() if lines else b"")
    return out.decode().split()


@dataclass(slots=True)
class CommitScan:
    commit: str
    scan: ChangeScan


def scan_commits(git: Git, blobs: BlobScanner, commits: Sequence[str],
                 deadline: Deadline | None = None) -> Iterator[CommitScan]:
    """What each of ``commits`` adds, in order (commits that change nothing yield nothing). Stops
    early, setting ``deadline.stopped_work``, when ``deadline`` expires. One ``git diff-tree
    --stdin`` process lists every commit's changes."""
    if not commits:
        return
    output = git.run(*DIFF_TREE, input=("\n".join(commits) + "\n").encode())
    current: CommitScan | None = None
    for commit, change in parse_raw(output):
        if commit is None:
            continue
        if current is None or current.commit != commit:
            if current is not None:
                yield current
            if deadline is not None and deadline.expired():
                deadline.stopped_work = True
                return
            current = CommitScan(commit, ChangeScan())
        found = blobs.scan(change, where=commit[:12])
        current.scan.findings.extend(found.findings)
        current.scan.errors.extend(found.errors)
    if current is not None:
        yield current
