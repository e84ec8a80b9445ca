"""What a commit (or the index) adds: git's raw diff, parsed, and the lines new to a file.

``git diff-tree --stdin -r -z -c -M --no-abbrev --root`` prints, for each commit, its id and one
raw record per changed path; a merge gets combined records (``::``), one old blob per parent, and
only for paths that differ from every parent. ``git diff-index --cached -z`` prints the same
records for the index against HEAD.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from migrator.git.repo import display_path, is_zero_oid

SUBMODULE_MODE = "160000"
SYMLINK_MODE = "120000"


@dataclass(frozen=True, slots=True)
class Change:
    """One path as a commit leaves it: the new blob and the blobs it replaces (one per parent)."""

    raw_path: bytes
    new_oid: str
    new_mode: str
    old_oids: tuple[str, ...]
    status: str

    @property
    def path(self) -> str:
        return display_path(self.raw_path)

    @property
    def deleted(self) -> bool:
        return is_zero_oid(self.new_oid)

    @property
    def submodule(self) -> bool:
        return self.new_mode == SUBMODULE_MODE

    @property
    def symlink(self) -> bool:
        return self.new_mode == SYMLINK_MODE


def parse_raw(output: bytes) -> Iterator[tuple[str | None, Change]]:
    """``(commit id or None, change)`` for each record of ``-z`` raw diff output."""
    tokens = output.split(b"\0")
    commit: str | None = None
    index, count = 0, len(tokens)
    while index < count:
        token = tokens[index]
        index += 1
        if not token:
            continue
        if not token.startswith(b":"):
            commit = token.decode("ascii", "replace").strip()
            continue
        parents = len(token) - len(token.lstrip(b":"))
        fields = token[parents:].decode("ascii", "replace").split()
        modes, oids, status = fields[:parents + 1], fields[parents + 1:2 * parents + 2], fields[-1]
        paths = 2 if parents == 1 and status[:1] in ("R", "C") else 1
        if index + paths > count:
            break  # truncated output
        raw_path = tokens[index + paths - 1]
        index += paths
        old = tuple(oid for oid in oids[:-1] if not is_zero_oid(oid))
        yield commit, Change(raw_path, oids[-1], modes[-1], old, status)


def added_lines(new_text: str, old_texts: Sequence[str]) -> frozenset[int]:
    """1-based numbers of the lines of ``new_text`` that no old version holds.

    A line is judged by its content, not its position: a line moved within the file is not new,
    so reordering a file never re-reports what it already held. A merge passes one old text per
    parent, and only lines new to every parent count (what the merge itself introduced).
    """
    new_lines = new_text.splitlines()
    if not old_texts:
        return frozenset(range(1, len(new_lines) + 1))
    olds = [frozenset(text.splitlines()) for text in old_texts]
    return frozenset(number for number, line in enumerate(new_lines, 1)
                     if all(line not in old for old in olds))
