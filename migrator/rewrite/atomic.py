"""Reading a file exactly and replacing it atomically, keeping its mode, owner and extended attributes.

A replacement is built of pieces, which ``write_atomic`` puts together for one file and a caller
writing many files (``migrator.apply.files``) puts together for a whole batch:

* :func:`stage` creates a temporary file in the target's directory (``O_EXCL``, mode 0600 from
  the first instant, a random name that says nothing about the content), writes the data and
  gives it the owner, extended attributes (POSIX ACLs, SELinux label, where permitted) and mode
  of ``like``; nothing is synced yet;
* :func:`make_durable` gets the data of staged files to the disk (one ``syncfs(2)`` for a large
  batch, an fsync per file otherwise);
* :func:`replace_staged` renames a staged file over its target;
* :func:`fsync_directory` makes the renames in a directory durable.

Readers see the old file or the new one, never a mix; after a crash the directory holds one or the
other (and perhaps a temporary file, which the next run removes). On any error the temporary file
is removed and the target is untouched. Symlinks are refused on both sides: a rename would replace
the link, not its target; pass the target's path.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePath
from typing import Any

from migrator.rewrite.base import RewriteContext

TEMP_SUFFIX = ".vaultshift-tmp"
DEFAULT_MODE = 0o600
# Staged files of one file system from which make_durable calls syncfs(2) once instead of
# fsyncing each: below it, flushing the file system's other dirty data costs more than it saves.
SYNCFS_MIN = 16


class AtomicWriteError(OSError):
    """The file could not be replaced as asked; the original is untouched."""


_SAME = object()


def _load_syncfs() -> Callable[[int], int] | None:
    """libc's ``syncfs(2)`` (Linux), or None where there is none."""
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


_syncfs = _load_syncfs()  # looked up once; tests set it to None to take the fallback


def read_exact(path: str | os.PathLike[str]) -> bytes:
    """Every byte of the regular file at ``path`` (not through a symlink), read to end of file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise AtomicWriteError(errno.EINVAL, "not a regular file", str(path))
        chunks = []
        while True:
            chunk = os.read(fd, max(info.st_size, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def context_for(path: str | os.PathLike[str], **fields: Any) -> RewriteContext:
    """A RewriteContext for the file at ``path`` (absolute), with its mode and owner, which the
    agent styles give the rendered file."""
    absolute = os.path.abspath(path)
    info = os.stat(absolute, follow_symlinks=False)
    return RewriteContext(absolute, mode=stat.S_IMODE(info.st_mode), uid=info.st_uid, gid=info.st_gid, **fields)


def _copy_xattrs(source: str | os.PathLike[str], fd: int) -> None:
    """Best effort: extended attributes (ACLs, security labels) the process may set."""
    if not hasattr(os, "listxattr"):  # pragma: no cover - not Linux
        return
    try:
        names = os.listxattr(source, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        with contextlib.suppress(OSError):
            os.setxattr(fd, name, os.getxattr(source, name, follow_symlinks=False))


def stage(path: str | os.PathLike[str], data: bytes, like: object = _SAME, mode: int | None = None) -> Path:
    """Write ``data`` to a new temporary file beside ``path`` and return the temporary file's path;
    ``path`` itself is not touched and nothing is synced (see :func:`make_durable`,
    :func:`replace_staged`).

    The temporary file (``.{random hex}{TEMP_SUFFIX}``, created with ``O_EXCL`` and mode 0600)
    gets the mode, owner and extended attributes of ``like`` (by default ``path`` itself; None,
    or a file that does not exist, means none: the file is ``mode``, default 0600, owned by the
    caller). ``mode``, when given, overrides the mode copied from ``like``. Changing the owner
    needs root; as another user a file owned by someone else is refused rather than silently
    given to the caller. A symlink at ``path`` is refused. On any error the temporary file is
    removed and the error (AtomicWriteError or another OSError) raised.
    """
    return _stage(Path(path), data, like, mode, sync=False)


def _stage(target: Path, data: bytes, like: object, mode: int | None, sync: bool) -> Path:
    """:func:`stage`, fsyncing the temporary file before closing it when ``sync``."""
    try:
        current = os.lstat(target)
    except FileNotFoundError:
        current = None
    if current is not None and stat.S_ISLNK(current.st_mode):
        raise AtomicWriteError(errno.ELOOP, "refusing to replace a symlink", str(target))
    source = target if like is _SAME else (Path(like) if isinstance(like, str | os.PathLike) else None)
    info = None
    if source is not None:
        if source is target:
            info = current  # the one lstat serves both checks
        else:
            try:
                info = os.stat(source, follow_symlinks=False)
            except FileNotFoundError:
                info = None
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise AtomicWriteError(errno.EINVAL, "not a regular file", str(source))
    new_mode = mode if mode is not None else (stat.S_IMODE(info.st_mode) if info is not None else DEFAULT_MODE)

    temp = target.parent / f".{secrets.token_hex(8)}{TEMP_SUFFIX}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if info is not None and (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(fd, info.st_uid, info.st_gid)
                except PermissionError:
                    raise AtomicWriteError(errno.EPERM, f"cannot keep the owner ({info.st_uid}:{info.st_gid}); "
                                                        "run as root or as the owner", str(target)) from None
            if source is not None and info is not None:
                _copy_xattrs(source, fd)
            os.fchmod(fd, new_mode)  # after fchown, which clears set-id bits
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return temp


def make_durable(paths: Iterable[str | os.PathLike[str]]) -> dict[Path, OSError]:
    """Get the data of the files at ``paths`` (staged temporary files) to the disk; return those
    that could not be, each with its error (empty: all of them are durable).

    The files are grouped by file system. A group of at least ``SYNCFS_MIN`` files is flushed
    with one ``syncfs(2)`` of its file system: on a journalling file system each fsync forces a
    journal commit of its own (measured at up to 0.75 ms of system CPU apiece, ext4 in a VM),
    while syncfs writes all the dirty data and commits the journal once. syncfs also flushes
    every other dirty file of that file system, which is why a small group (where that could
    cost more than it saves) fsyncs each of its files instead, as does a group whose syncfs is
    missing (not Linux) or fails; an fsync that fails then names the file it failed for.
    (Before Linux 5.8 syncfs reported no writeback errors; a file whose data could not be
    written then goes unnoticed, as it would with ``sync``.)
    """
    failed: dict[Path, OSError] = {}
    groups: dict[int, list[Path]] = {}
    for path in map(Path, paths):
        try:
            groups.setdefault(os.stat(path, follow_symlinks=False).st_dev, []).append(path)
        except OSError as exc:
            failed[path] = exc
    for group in groups.values():
        if len(group) >= SYNCFS_MIN and _sync_filesystem(group[0]):
            continue
        for path in group:
            try:
                _fsync_file(path)
            except OSError as exc:
                failed[path] = exc
    return failed


def _sync_filesystem(path: Path) -> bool:
    """syncfs(2) of the file system holding ``path``; False when that could not be done."""
    if _syncfs is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return _syncfs(fd) == 0
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_staged(temp: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Rename the staged file ``temp`` over ``target``; when that fails, ``temp`` is removed and
    the error raised (``target`` is untouched). The rename is durable once the directory is
    fsynced (:func:`fsync_directory`)."""
    try:
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def write_atomic(path: str | os.PathLike[str], data: bytes, like: object = _SAME,
                 mode: int | None = None, sync_directory: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically: :func:`stage`, an fsync of the temporary file,
    :func:`replace_staged` and :func:`fsync_directory`.

    The new file gets the mode, owner and extended attributes of ``like`` (by default ``path``
    itself; None, or a file that does not exist, means none: the new file is ``mode``, default
    0600, owned by the caller). ``mode``, when given, overrides the mode copied from ``like``.
    Changing the owner needs root; as another user a file owned by someone else is refused
    rather than silently given to the caller. ``sync_directory=False`` leaves the directory's
    fsync (which makes the rename durable) to the caller, who writes several files there.
    """
    target = Path(path)
    replace_staged(_stage(target, data, like, mode, sync=True), target)
    if sync_directory:
        fsync_directory(target.parent)


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """fsync ``directory``: the entries created, renamed or removed in it are durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_directories(directory: Path, mode: int = 0o700) -> list[Path]:
    """Create ``directory`` and its missing parents (each ``mode``); the ones created, outermost
    first. Nothing is synced: each created directory is durable once its parent is fsynced."""
    missing = []
    parent = directory
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    created = []
    for folder in reversed(missing):
        # Another writer (apply writes files of one directory at once) may have made it since.
        try:
            folder.mkdir(mode=mode)
        except FileExistsError:
            if folder.is_dir():
                continue
            raise
        created.append(folder)
    return created


def write_companions(companions: Mapping[PurePath, bytes], modes: Mapping[PurePath, int],
                     root: str | os.PathLike[str] = "/") -> list[Path]:
    """Write a RewriteResult's generated files (each atomically, with its mode; directories made
    0700 as needed). ``root`` prefixes their absolute paths (a host's tree in tests, a chroot)."""
    written: list[Path] = []
    for path, data in sorted(companions.items()):
        target = Path(root) / PurePath(path).relative_to(PurePath(path).anchor)
        for directory in make_directories(target.parent):
            fsync_directory(directory.parent)
        write_atomic(target, data, like=target if target.exists() else None, mode=modes.get(path, DEFAULT_MODE),
                     sync_directory=False)
        written.append(target)
    for directory in sorted({target.parent for target in written}):
        fsync_directory(directory)  # every rename durable before the caller goes on (to the file itself)
    return written
