"""Atomic replacement of files: content, mode, owner and extended attributes kept; nothing left
behind when it fails (real permission errors, from a child that drops root). The pieces a batch
is written with: stage, make_durable (one syncfs, or an fsync per file), replace_staged."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest

from migrator.rewrite import atomic
from migrator.rewrite.atomic import (
    SYNCFS_MIN,
    AtomicWriteError,
    context_for,
    make_durable,
    read_exact,
    replace_staged,
    stage,
    write_atomic,
    write_companions,
)

NOBODY = 65534


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if "vaultshift-tmp" in p.name)


def as_nobody(action: Callable[[], None]) -> int:
    """Run ``action`` in a forked child that dropped root; 0 when it succeeded, else the errno
    of the OSError it raised (255 for anything else)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            action()
        except OSError as exc:
            code = exc.errno or 255
        except BaseException:
            code = 255
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_replaces_content_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "app.conf"
    target.write_bytes(b"password = old\n")
    target.chmod(0o640)
    write_atomic(target, b"password = __VAULTSHIFT_AGENT__\n")
    assert target.read_bytes() == b"password = __VAULTSHIFT_AGENT__\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert leftovers(tmp_path) == []
    # like= another file, and an explicit mode
    other = tmp_path / "other"
    other.write_bytes(b"x")
    other.chmod(0o604)
    write_atomic(target, b"y", like=other)
    assert stat.S_IMODE(target.stat().st_mode) == 0o604
    write_atomic(target, b"z", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_bytes() == b"z"


def test_new_file_is_private(tmp_path: Path) -> None:
    target = tmp_path / "new.hcl"
    write_atomic(target, b"vault {}\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_bytes() == b"vault {}\n"


def test_keeps_owner_when_root(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing the owner needs root")
    target = tmp_path / "owned"
    target.write_bytes(b"old")
    os.chown(target, NOBODY, NOBODY)
    target.chmod(0o4750)  # chown clears set-id bits: the mode is applied after it
    write_atomic(target, b"new")
    info = target.stat()
    assert (info.st_uid, info.st_gid) == (NOBODY, NOBODY)
    assert stat.S_IMODE(info.st_mode) == 0o4750
    assert target.read_bytes() == b"new"


def test_keeps_extended_attributes(tmp_path: Path) -> None:
    target = tmp_path / "labelled"
    target.write_bytes(b"old")
    try:
        os.setxattr(target, "user.vaultshift-test", b"kept")
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EPERM):
            pytest.skip("no user extended attributes on this filesystem")
        raise
    write_atomic(target, b"new")
    assert os.getxattr(target, "user.vaultshift-test") == b"kept"


def test_failed_rename_leaves_no_temp_file_and_the_target_intact(tmp_path: Path) -> None:
    target = tmp_path / "conf.d"
    target.mkdir()
    (target / "inside").write_bytes(b"keep")
    with pytest.raises(OSError):
        write_atomic(target, b"data", like=None)
    assert leftovers(tmp_path) == [] and (target / "inside").read_bytes() == b"keep"


def test_read_only_directory(public_dir: Path) -> None:
    """A directory the writer cannot write to: refused before anything is created."""
    directory = public_dir / "ro"
    directory.mkdir()
    target = directory / "app.conf"
    target.write_bytes(b"password = old\n")
    os.chown(target, NOBODY, NOBODY)
    directory.chmod(0o555)
    code = as_nobody(lambda: write_atomic(target, b"password = new\n"))
    assert code == errno.EACCES
    assert target.read_bytes() == b"password = old\n" and leftovers(directory) == []


def test_owner_that_cannot_be_kept_removes_the_temp_file(public_dir: Path) -> None:
    """A writable directory, a file owned by root: the temp file is created, the owner cannot be
    kept, so the write is refused and the temp file removed."""
    directory = public_dir / "rw"
    directory.mkdir()
    os.chown(directory, NOBODY, NOBODY)
    target = directory / "app.conf"
    target.write_bytes(b"password = old\n")
    target.chmod(0o644)
    code = as_nobody(lambda: write_atomic(target, b"password = new\n"))
    assert code == errno.EPERM
    assert target.read_bytes() == b"password = old\n"
    assert target.stat().st_uid == 0 and leftovers(directory) == []


def test_symlinks_are_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.conf"
    real.write_bytes(b"x")
    link = tmp_path / "link.conf"
    link.symlink_to(real)
    with pytest.raises(AtomicWriteError, match="symlink"):
        write_atomic(link, b"y")
    with pytest.raises(OSError) as info:
        read_exact(link)
    assert info.value.errno == errno.ELOOP
    assert real.read_bytes() == b"x" and link.is_symlink()


def test_read_exact(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000 + b"\r\n\x00tail"
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert read_exact(path) == data
    assert read_exact(tmp_path / "blob") == data
    (tmp_path / "empty").write_bytes(b"")
    assert read_exact(tmp_path / "empty") == b""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(AtomicWriteError, match="regular"):
        fd = os.open(fifo, os.O_RDWR)  # a writer, so opening for reading does not block
        try:
            read_exact(fifo)
        finally:
            os.close(fd)


def test_write_companions_makes_private_directories(tmp_path: Path) -> None:
    companions = {PurePosixPath("/etc/app/.vaultshift/app.conf.ctmpl"): b"t",
                  PurePosixPath("/etc/app/.vaultshift/app.conf.agent.hcl"): b"c"}
    modes = {PurePosixPath("/etc/app/.vaultshift/app.conf.ctmpl"): 0o640}
    written = write_companions(companions, modes, root=tmp_path)
    directory = tmp_path / "etc/app/.vaultshift"
    assert sorted(written) == sorted([directory / "app.conf.ctmpl", directory / "app.conf.agent.hcl"])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "app.conf.ctmpl").stat().st_mode) == 0o640
    assert stat.S_IMODE((directory / "app.conf.agent.hcl").stat().st_mode) == 0o600
    assert (directory / "app.conf.ctmpl").read_bytes() == b"t"


def test_context_for_takes_mode_and_owner(tmp_path: Path) -> None:
    path = tmp_path / "app.conf"
    path.write_bytes(b"x")
    path.chmod(0o640)
    ctx = context_for(path, default_backend="vault")
    assert ctx.path == str(path) and ctx.mode == 0o640
    assert (ctx.uid, ctx.gid) == (path.stat().st_uid, path.stat().st_gid)


# -- the pieces: stage, make_durable, replace_staged -----------------------------------------------


def test_stage_writes_a_private_temp_beside_the_target_and_leaves_the_target(tmp_path: Path) -> None:
    target = tmp_path / "app.conf"
    target.write_bytes(b"password = old\n")
    target.chmod(0o640)
    temp = stage(target, b"password = __VAULTSHIFT_AGENT__\n")
    assert temp.parent == tmp_path and temp.name.startswith(".") and temp.name.endswith(atomic.TEMP_SUFFIX)
    assert "app" not in temp.name  # the name says nothing of the file
    assert temp.read_bytes() == b"password = __VAULTSHIFT_AGENT__\n"
    assert stat.S_IMODE(temp.stat().st_mode) == 0o640  # the target's mode, given before any rename
    assert target.read_bytes() == b"password = old\n"
    # like=None and no mode: private; an explicit mode wins over like
    assert stat.S_IMODE(stage(target, b"x", like=None).stat().st_mode) == 0o600
    assert stat.S_IMODE(stage(target, b"x", mode=0o604).stat().st_mode) == 0o604
    assert len(leftovers(tmp_path)) == 3


def test_stage_keeps_owner_when_root(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing the owner needs root")
    target = tmp_path / "owned"
    target.write_bytes(b"old")
    os.chown(target, NOBODY, NOBODY)
    target.chmod(0o2750)
    info = stage(target, b"new").stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (NOBODY, NOBODY, 0o2750)


def test_stage_refuses_symlinks_and_leaves_nothing(tmp_path: Path) -> None:
    real = tmp_path / "real.conf"
    real.write_bytes(b"x")
    link = tmp_path / "link.conf"
    link.symlink_to(real)
    with pytest.raises(AtomicWriteError, match="symlink"):
        stage(link, b"y")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(AtomicWriteError, match="regular"):
        stage(real, b"y", like=fifo)
    assert leftovers(tmp_path) == [] and real.read_bytes() == b"x"


def test_stage_failure_removes_the_temp(public_dir: Path) -> None:
    """The temp file is created, the owner (root) cannot be kept by nobody: refused, temp removed."""
    directory = public_dir / "rw"
    directory.mkdir()
    os.chown(directory, NOBODY, NOBODY)
    target = directory / "app.conf"
    target.write_bytes(b"old")

    def attempt() -> None:
        stage(target, b"new")

    assert as_nobody(attempt) == errno.EPERM
    assert leftovers(directory) == [] and target.read_bytes() == b"old"


def test_replace_staged_renames_and_removes_the_temp_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "app.conf"
    target.write_bytes(b"old")
    target.chmod(0o640)
    replace_staged(stage(target, b"new"), target)
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert leftovers(tmp_path) == []
    directory = tmp_path / "conf.d"  # a non-empty directory cannot be replaced by a file
    directory.mkdir()
    (directory / "inside").write_bytes(b"keep")
    temp = stage(directory, b"data", like=None)
    with pytest.raises(OSError):
        replace_staged(temp, directory)
    assert leftovers(tmp_path) == [] and (directory / "inside").read_bytes() == b"keep"


class SyncCalls:
    """Counts the syncfs and fsync calls make_durable makes (and still makes them)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, syncfs_result: int | None = None) -> None:
        self.syncfs = 0
        self.fsynced: list[int] = []
        real_syncfs, real_fsync = atomic._syncfs, os.fsync
        assert real_syncfs is not None, "syncfs is found on Linux"

        def syncfs(fd: int) -> int:
            self.syncfs += 1
            result = real_syncfs(fd)
            return result if syncfs_result is None else syncfs_result

        def fsync(fd: int) -> None:
            self.fsynced.append(os.fstat(fd).st_ino)
            real_fsync(fd)

        monkeypatch.setattr(atomic, "_syncfs", syncfs)
        monkeypatch.setattr(atomic.os, "fsync", fsync)


def staged(directory: Path, count: int) -> list[Path]:
    return [stage(directory / f"f{index}.conf", b"data %d" % index, like=None) for index in range(count)]


def test_make_durable_syncs_a_large_batch_with_one_syncfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temps = staged(tmp_path, SYNCFS_MIN)
    calls = SyncCalls(monkeypatch)
    assert make_durable(temps) == {}
    assert calls.syncfs == 1 and calls.fsynced == []


def test_make_durable_groups_by_file_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large group on one file system is synced with syncfs, a small one on another fsynced."""
    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a second file system at /dev/shm")
    elsewhere = Path(tempfile.mkdtemp(dir=other))
    try:
        small = staged(elsewhere, 2)
        temps = staged(tmp_path, SYNCFS_MIN)
        calls = SyncCalls(monkeypatch)
        assert make_durable([*small[:1], *temps, *small[1:]]) == {}
        assert calls.syncfs == 1 and sorted(calls.fsynced) == sorted(temp.stat().st_ino for temp in small)
    finally:
        shutil.rmtree(elsewhere)


def test_make_durable_fsyncs_each_file_of_a_small_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temps = staged(tmp_path, SYNCFS_MIN - 1)
    calls = SyncCalls(monkeypatch)
    assert make_durable(temps) == {}
    assert calls.syncfs == 0
    assert sorted(calls.fsynced) == sorted(temp.stat().st_ino for temp in temps)


def test_make_durable_falls_back_to_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No syncfs (not Linux), or a syncfs that fails: every file fsynced instead."""
    temps = staged(tmp_path, SYNCFS_MIN + 2)
    inodes = sorted(temp.stat().st_ino for temp in temps)
    failing = SyncCalls(monkeypatch, syncfs_result=-1)
    assert make_durable(temps) == {}
    assert failing.syncfs == 1 and sorted(failing.fsynced) == inodes
    missing = SyncCalls(monkeypatch)
    monkeypatch.setattr(atomic, "_syncfs", None)
    assert make_durable(temps) == {}
    assert missing.syncfs == 0 and sorted(missing.fsynced) == inodes


def test_make_durable_reports_each_file_it_could_not_sync(tmp_path: Path) -> None:
    temps = staged(tmp_path, 3)
    gone = tmp_path / f".gone{atomic.TEMP_SUFFIX}"
    failed = make_durable([*temps, gone])
    assert list(failed) == [gone] and failed[gone].errno == errno.ENOENT
