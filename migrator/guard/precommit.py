"""``guard pre-commit``: scan what the index adds (staged lines only) before a commit is made."""

from __future__ import annotations

import time
from dataclasses import replace

from migrator.discover.models import ScanResult
from migrator.discover.scanner import Scanner
from migrator.git.blobscan import IGNORE_FILE, BlobScanner, ignore_spec
from migrator.git.changes import parse_raw
from migrator.git.objects import BlobReader
from migrator.git.repo import Git, GitError


def scan_staged(git: Git, scanner: Scanner, max_blob_size: int, exclude: tuple[str, ...] = ()) -> ScanResult:
    """Findings on the lines the index adds to HEAD (to nothing, before the first commit; to HEAD
    and MERGE_HEAD while a merge is being concluded)."""
    started = time.perf_counter()
    git.check()
    if git.is_bare():
        raise GitError(f"{git.path}: a bare repository has no index (use the pre-receive hook)")
    base = git.resolve("HEAD") or git.empty_tree()
    raw = git.run("diff-index", "--cached", "-z", "-M", "--no-abbrev", base)
    result = ScanResult()
    ignore = ignore_spec([*exclude, *git.lines_of(f":{IGNORE_FILE}")])
    merging = _tree_blobs(git, "MERGE_HEAD") if git.resolve("MERGE_HEAD") else {}
    with BlobReader(git, max_blob_size) as blobs:
        scan = BlobScanner(scanner, blobs, ignore)
        for _, change in parse_raw(raw):
            other = merging.get(change.raw_path)
            if other is not None:  # concluding a merge: lines the other side brings are not new
                change = replace(change, old_oids=(*change.old_oids, other))
            found = scan.scan(change)
            result.findings.extend(found.findings)
            result.errors.extend(found.errors)
    result.findings.sort(key=lambda f: (f.path, f.span.start, f.rule))
    result.stats = scan.stats
    result.stats.findings = len(result.findings)
    result.stats.seconds = time.perf_counter() - started
    return result


def _tree_blobs(git: Git, rev: str) -> dict[bytes, str]:
    """``{path: blob id}`` of every file in ``rev``'s tree."""
    blobs: dict[bytes, str] = {}
    for record in git.run("ls-tree", "-r", "-z", "--full-tree", rev).split(b"\0"):
        meta, _, path = record.partition(b"\t")
        fields = meta.split()
        if len(fields) == 3 and fields[1] == b"blob":
            blobs[path] = fields[2].decode()
    return blobs
