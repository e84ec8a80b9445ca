"""``guard pre-commit``: scan what the index adds (staged lines only) before a commit is made."""

from __future__ import annotations

import time

from migrator.discover.models import ScanResult
from migrator.discover.scanner import Scanner
from migrator.git.blobscan import IGNORE_FILE, BlobScanner, ignore_spec
from migrator.git.changes import parse_raw
from migrator.git.objects import BlobReader
from migrator.git.repo import Git, GitError


def scan_staged(git: Git, scanner: Scanner, max_blob_size: int, exclude: tuple[str, ...] = ()) -> ScanResult:
    """Findings on the lines the index adds to HEAD (to nothing, before the first commit)."""
    started = time.perf_counter()
    git.check()
    if git.is_bare():
        raise GitError(f"{git.path}: a bare repository has no index (use the pre-receive hook)")
    base = git.resolve("HEAD") or git.empty_tree()
    raw = git.run("diff-index", "--cached", "-z", "-M", "--no-abbrev", base)
    result = ScanResult()
    ignore = ignore_spec([*exclude, *git.lines_of(f":{IGNORE_FILE}")])
    with BlobReader(git, max_blob_size) as blobs:
        scan = BlobScanner(scanner, blobs, ignore)
        for _, change in parse_raw(raw):
            found = scan.scan(change)
            result.findings.extend(found.findings)
            result.errors.extend(found.errors)
    result.findings.sort(key=lambda f: (f.path, f.span.start, f.rule))
    result.stats = scan.stats
    result.stats.findings = len(result.findings)
    result.stats.seconds = time.perf_counter() - started
    return result
