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
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from migrator.apply.checkpoints import checkpoint
from migrator.rewrite.atomic import TEMP_SUFFIX, read_exact, write_atomic, write_companions
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
    """The files of the machine the engine runs on, as ``vaultshift apply`` has always written
    them: read whole and exactly, replaced atomically (``migrator.rewrite.atomic``), several at a
    time on a pool of threads, with a crash checkpoint between every two durable steps."""

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
        # Files are independent once their intents are durable: writing several at a time lets
        # their fsyncs share the file system's journal commits.
        workers = min(workers, len(batch))
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vaultshift-write") as pool:
                return list(pool.map(self._write, batch))
        return [self._write(item) for item in batch]

    def _write(self, item: FileWrite) -> str | None:
        """The file's companions, then the file itself, then what it no longer needs."""
        try:
            if item.data is not None:
                write_companions({PurePosixPath(p): data for p, data in item.companions.items()},
                                 {PurePosixPath(p): mode for p, mode in item.modes.items()})
                checkpoint()
                write_atomic(item.path, item.data)
                checkpoint()
            if item.remove:
                for path in item.remove:
                    Path(path).unlink(missing_ok=True)
                checkpoint()
        except OSError as exc:
            return str(exc.strerror or exc)
        return None

    def remove_stale_temporaries(self, directories: Iterable[str]) -> int:
        return remove_stale_temporaries(set(directories))


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
