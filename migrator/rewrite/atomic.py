"""Reading a file exactly and replacing it atomically, keeping its mode, owner and extended attributes.

``write_atomic`` creates a temporary file in the target's directory (``O_EXCL``, mode 0600 from
the first instant, a random name that says nothing about the content), writes and fsyncs it,
gives it the owner, extended attributes (POSIX ACLs, SELinux label, where permitted) and mode of
``like``, renames it over the target and fsyncs the directory. Readers see the old file or the
new one, never a mix; after a crash the directory holds one or the other. On any error the
temporary file is removed and the target is untouched. Symlinks are refused on both sides: a
rename would replace the link, not its target; pass the target's path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from migrator.rewrite.base import RewriteContext

TEMP_SUFFIX = ".vaultshift-tmp"
DEFAULT_MODE = 0o600


class AtomicWriteError(OSError):
    """The file could not be replaced as asked; the original is untouched."""


_SAME = object()


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


def write_atomic(path: str | os.PathLike[str], data: bytes, like: object = _SAME,
                 mode: int | None = None, sync_directory: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically.

    The new file gets the mode, owner and extended attributes of ``like`` (by default ``path``
    itself; None, or a file that does not exist, means none: the new file is ``mode``, default
    0600, owned by the caller). ``mode``, when given, overrides the mode copied from ``like``.
    Changing the owner needs root; as another user a file owned by someone else is refused
    rather than silently given to the caller. ``sync_directory=False`` leaves the directory's
    fsync (which makes the rename durable) to the caller, who writes several files there.
    """
    target = Path(path)
    directory = target.parent
    if target.is_symlink():
        raise AtomicWriteError(errno.ELOOP, "refusing to replace a symlink", str(target))
    source = target if like is _SAME else (Path(like) if isinstance(like, str | os.PathLike) else None)
    info = None
    if source is not None:
        try:
            info = os.stat(source, follow_symlinks=False)
        except FileNotFoundError:
            info = None
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise AtomicWriteError(errno.EINVAL, "not a regular file", str(source))
    new_mode = mode if mode is not None else (stat.S_IMODE(info.st_mode) if info is not None else DEFAULT_MODE)

    temp = directory / f".{secrets.token_hex(8)}{TEMP_SUFFIX}"
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
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    if sync_directory:
        fsync_directory(directory)


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_companions(companions: Mapping[PurePath, bytes], modes: Mapping[PurePath, int],
                     root: str | os.PathLike[str] = "/") -> list[Path]:
    """Write a RewriteResult's generated files (each atomically, with its mode; directories made
    0700 as needed). ``root`` prefixes their absolute paths (a host's tree in tests, a chroot)."""
    written: list[Path] = []
    for path, data in sorted(companions.items()):
        target = Path(root) / PurePath(path).relative_to(PurePath(path).anchor)
        created = []
        parent = target.parent
        while not parent.exists():
            created.append(parent)
            parent = parent.parent
        for directory in reversed(created):
            # Another writer (apply writes files of one directory at once) may have made it since.
            directory.mkdir(mode=0o700, exist_ok=True)
            fsync_directory(directory.parent)
        write_atomic(target, data, like=target if target.exists() else None, mode=modes.get(path, DEFAULT_MODE),
                     sync_directory=False)
        written.append(target)
    for directory in sorted({target.parent for target in written}):
        fsync_directory(directory)  # every rename durable before the caller goes on (to the file itself)
    return written
