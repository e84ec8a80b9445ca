"""Where apply and rollback read and write the files they migrate: an interface, and the local disk.

The executor and rollback never open a planned file themselves: they ask a :class:`FileAccess`
to read files (bytes, and mode / owner for the rewrite), to write a batch of prepared files with
their companions, and to remove the temporary files a killed run left. :class:`LocalFiles` is the
machine the engine runs on (``vaultshift apply``); the Ansible collection's actions implement the
same interface over a module on each managed host, so that one engine decides everything while
the files stay where they are. The journal is never behind this interface: it stays with the
engine.

A :class:`FileWrite` is one file's step, in the order crash safety needs: its companions (agent
template, configuration, unit) written first, then the file itself replaced atomically, then the
files it no longer needs removed (rollback's companions). ``expected`` is what the caller read
from the file: an implementation whose files are out of the engine's sight between the read and
the write (a remote host's) refuses a file whose content changed since; the local one does not
compare (the file was read moments before on this machine), as ``vaultshift apply`` never did.

:class:`LocalFiles` makes a whole batch durable at once rather than each file: every new file
(companions and files) is written to a temporary file beside its target, the data of all of them
is flushed (one ``syncfs(2)`` for a large batch), then the companions are renamed into place and
their directories made durable (again one syncfs when there are many), and only then are the
files renamed over the originals, the files no longer needed removed, and those directories made
durable. A file is therefore never replaced before
its companions are durable, and a ``kill -9`` at any point leaves every file original or
rewritten with its companions present; the temporary files it leaves are removed by
:meth:`FileAccess.remove_stale_temporaries` on the next run.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from migrator.apply.checkpoints import checkpoint
from migrator.rewrite.atomic import (
    DEFAULT_MODE,
    TEMP_SUFFIX,
    make_directories,
    make_durable,
    read_exact,
    replace_staged,
    stage,
)
from migrator.rewrite.base import COMPANION_DIR


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What the rewriters need of a file besides its bytes: permission bits and owner."""

    mode: int
    uid: int
    gid: int


@dataclass(frozen=True, slots=True)
class FileWrite:
    """One file's write: ``companions`` (absolute path -> bytes, each with its mode in ``modes``)
    written first, then ``data`` over ``path`` atomically (None: the file is left as it is),
    then ``remove`` (paths) removed. ``expected``: the bytes the caller read from ``path`` and
    built ``data`` from; an implementation that compares them with the file's current content
    (a remote host's) refuses to write ``data`` without them."""

    path: str
    data: bytes | None
    companions: Mapping[str, bytes] = field(default_factory=dict)
    modes: Mapping[str, int] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    expected: bytes | None = None


class FileAccess(Protocol):
    """Reads and writes the files of one machine (paths as that machine sees them)."""

    def read(self, paths: Sequence[str]) -> dict[str, bytes | OSError]:
        """Each path's bytes (a regular file, not through a symlink), or the OSError that
        prevented reading it."""
        ...

    def stat(self, path: str) -> FileInfo:
        """The mode and owner of ``path``; OSError when it cannot be had."""
        ...

    def write(self, batch: Sequence[FileWrite], workers: int = 1) -> list[str | None]:
        """Carry out each write of ``batch`` (``workers`` at a time, where that helps); for each,
        None when done, else why not (one line, never a value). A failed write leaves its file
        as it was; its companions may have been written."""
        ...

    def remove_stale_temporaries(self, directories: Iterable[str]) -> int:
        """Remove the temporary files a killed run left in ``directories`` and their companion
        directories; how many. The caller holds the journal's lock: no run of it is writing."""
        ...


class LocalFiles:
    """The files of the machine the engine runs on: read whole and exactly, and written a batch at
    a time (``migrator.rewrite.atomic``'s pieces: staged, made durable together, renamed into
    place), with a crash checkpoint between every two durable steps."""

    def read(self, paths: Sequence[str]) -> dict[str, bytes | OSError]:
        out: dict[str, bytes | OSError] = {}
        for path in paths:
            try:
                out[path] = read_exact(path)
            except OSError as exc:
                out[path] = exc
        return out

    def stat(self, path: str) -> FileInfo:
        info = os.stat(path)
        return FileInfo(stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)

    def write(self, batch: Sequence[FileWrite], workers: int = 1) -> list[str | None]:
        """Carry out ``batch`` in steps, each over every item, so that the whole batch costs one
        flush of the data (rather than an fsync per file) and one of the directories:

        1. stage every companion (missing directories made 0700) and every file;
        2. make all the staged data durable (:func:`make_durable`);
        3. rename each item's companions into place (checkpoint after each item's);
        4. make the directories that received a companion or a new directory durable;
        5. rename each file over its original (checkpoint after each);
        6. remove each item's ``remove`` paths (checkpoint after each item's);
        7. make the directories that received a file or lost one durable.

        An item that fails at a step gets its error (one line, never a value), its temporary files
        are removed and it goes no further; the others go on. A file is never replaced unless its
        companions are durable. ``workers`` is not used: the steps' system calls are cheap once
        the per-file fsyncs are gone, and one thread keeps their order plain.
        """
        del workers  # part of the FileAccess interface; see the docstring
        items = [_Pending(item) for item in batch]
        try:
            created: set[Path] = set()  # directories made for companions, by any item
            present: set[Path] = set()  # companion directories there now (made or found)
            for pending in items:
                if pending.item.data is not None:
                    pending.stage(created, present)
            for pending in items:
                pending.include_parents_of(created)
            failed = make_durable(temp for pending in items for temp in pending.temps())
            for pending in items:
                problem = next((failed[temp] for temp in pending.temps() if temp in failed), None)
                if problem is not None:
                    pending.fail(problem)

            for pending in _writing(items):
                if pending.replace_companions():
                    checkpoint()
            _sync_directories(_writing(items), lambda pending: pending.companion_directories)
            for pending in _writing(items):
                if pending.replace_file():
                    checkpoint()
            for pending in [p for p in items if p.error is None and p.item.remove]:
                if pending.remove_unneeded():
                    checkpoint()
            _sync_directories([p for p in items if p.error is None], lambda pending: pending.file_directories())
        finally:
            for pending in items:
                pending.discard()
        return [pending.error for pending in items]

    def remove_stale_temporaries(self, directories: Iterable[str]) -> int:
        return remove_stale_temporaries(set(directories))


def _writing(items: Sequence[_Pending]) -> list[_Pending]:
    """The items that write a file and have not failed."""
    return [pending for pending in items if pending.error is None and pending.item.data is not None]


def _reason(exc: OSError) -> str:
    """Why a write failed, in one line: the system's message, never a value."""
    return str(exc.strerror or exc)


class _Pending:
    """One FileWrite on its way through :meth:`LocalFiles.write`: its staged temporary files
    (temporary path -> target) not yet renamed, and its error once it failed."""

    def __init__(self, item: FileWrite) -> None:
        self.item = item
        self.companions: dict[Path, Path] = {}
        self.file: tuple[Path, Path] | None = None
        self.companion_directories: set[Path] = set()  # made durable before the file is replaced
        self.error: str | None = None

    def temps(self) -> list[Path]:
        """The temporary files staged and not yet renamed."""
        return [*self.companions, *([self.file[0]] if self.file is not None else [])]

    def stage(self, created: set[Path], present: set[Path]) -> None:
        """Stage the companions (missing directories made, and added to ``created``; ``present``:
        the directories the batch already made sure of), then the file; on failure the item
        fails and its temporary files are removed."""
        assert self.item.data is not None
        try:
            for name, data in sorted(self.item.companions.items()):
                target = Path(name)
                if target.parent not in present:
                    created.update(make_directories(target.parent))
                    present.add(target.parent)
                # like the companion already there, if any (its owner and extended attributes)
                temp = stage(target, data, mode=self.item.modes.get(name, DEFAULT_MODE))
                self.companions[temp] = target
                self.companion_directories.add(target.parent)
            target = Path(self.item.path)
            self.file = (stage(target, self.item.data), target)
        except OSError as exc:
            self.fail(exc)

    def include_parents_of(self, created: set[Path]) -> None:
        """A directory made in this batch (by this item or another) is durable once its parent is
        synced: add those parents to the directories synced before the file is replaced."""
        for directory in list(self.companion_directories):
            while directory in created:
                directory = directory.parent
                self.companion_directories.add(directory)

    def replace_companions(self) -> bool:
        """Rename the staged companions into place; False (the item failed) when one could not be."""
        def rename_all() -> None:
            for temp, target in list(self.companions.items()):
                del self.companions[temp]
                replace_staged(temp, target)

        return self._attempt(rename_all)

    def replace_file(self) -> bool:
        """Rename the staged file over the original; False (the item failed) when it could not be."""
        assert self.file is not None
        temp, target = self.file
        self.file = None
        return self._attempt(lambda: replace_staged(temp, target))

    def remove_unneeded(self) -> bool:
        """Remove the paths the item no longer needs; False (the item failed) when one could not be."""
        def remove_all() -> None:
            for path in self.item.remove:
                Path(path).unlink(missing_ok=True)

        return self._attempt(remove_all)

    def _attempt(self, step: Callable[[], None]) -> bool:
        """Run one of the item's steps; an OSError fails the item (its temporary files removed)."""
        try:
            step()
        except OSError as exc:
            self.fail(exc)
            return False
        return True

    def file_directories(self) -> set[Path]:
        """The directories whose entries the item changed last: its file's, its removals'."""
        directories = {Path(path).parent for path in self.item.remove}
        if self.item.data is not None:
            directories.add(Path(self.item.path).parent)
        return directories

    def fail(self, exc: OSError) -> None:
        self.error = _reason(exc)
        self.discard()

    def discard(self) -> None:
        """Remove the temporary files not renamed (the item failed, or the batch was cut short)."""
        for temp in self.temps():
            with contextlib.suppress(OSError):
                temp.unlink()
        self.companions.clear()
        self.file = None


def _sync_directories(items: Sequence[_Pending], directories_of: Callable[[_Pending], set[Path]]) -> None:
    """Make the distinct directories of ``items`` durable (their renames and removals): one
    syncfs for many, else an fsync each, as :func:`make_durable` does for files; an item whose
    directory could not be synced fails (its changes there are not durable)."""
    failures = make_durable(sorted({directory for pending in items for directory in directories_of(pending)}))
    if failures:
        for pending in items:
            problem = next((failures[d] for d in sorted(directories_of(pending)) if d in failures), None)
            if problem is not None:
                pending.fail(problem)


LOCAL_FILES = LocalFiles()  # the default of the executor and rollback


def remove_stale_temporaries(directories: set[str]) -> int:
    """Remove temporary files a killed run left in ``directories`` (and their companion
    directories); the caller holds the journal's lock, so no other run is writing them."""
    removed = 0
    for directory in sorted(directories):
        for folder in (Path(directory), Path(directory) / COMPANION_DIR):
            try:
                stale = [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX)]
            except OSError:
                continue
            for path in stale:
                path.unlink(missing_ok=True)
                removed += 1
    return removed
