"""LocalFiles.write: a batch staged, made durable together, then renamed into place, companions
before files. Modes and owners kept, failures confined to their item in one line, removals done,
no temporary file left, and a kill at any checkpoint leaving each file original or rewritten with
its companions present (real files; children killed with SIGKILL)."""

from __future__ import annotations

import errno
import os
import signal
import stat
from collections.abc import Iterable
from pathlib import Path

import pytest

from migrator.apply import checkpoints, files
from migrator.apply.files import FileWrite, LocalFiles, remove_stale_temporaries
from migrator.rewrite.atomic import TEMP_SUFFIX
from migrator.rewrite.base import COMPANION_DIR

NOBODY = 65534
NEW = b"password = __VAULTSHIFT_AGENT__\n"


def temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(TEMP_SUFFIX)]


def original(path: Path, index: int) -> bytes:
    data = f"password = original-{index}\n".encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def rewrite(path: Path, index: int) -> FileWrite:
    """The file rewritten, with a template and an agent configuration in its companion directory."""
    companions = path.parent / COMPANION_DIR
    template, config = str(companions / f"{path.name}.ctmpl"), str(companions / f"{path.name}.agent.hcl")
    return FileWrite(str(path), NEW, {template: b"template %d" % index, config: b"config %d" % index},
                     {template: 0o640})  # the configuration's mode left to the default, 0600


def test_a_batch_is_written_with_modes_owners_and_private_new_directories(tmp_path: Path) -> None:
    paths = [tmp_path / "etc" / "app" / "a.conf", tmp_path / "etc" / "app" / "b.conf",
             tmp_path / "srv" / "deep" / "er" / "c.conf"]
    for index, path in enumerate(paths):
        original(path, index)
    paths[0].chmod(0o640)
    paths[2].chmod(0o604)
    if os.geteuid() == 0:
        os.chown(paths[1], NOBODY, NOBODY)
    paths[1].chmod(0o660)
    # a companion in a new nested directory, not only in the file's .vaultshift
    nested = tmp_path / "etc" / "app" / "new" / "nested" / "unit.service"
    batch = [rewrite(path, index) for index, path in enumerate(paths)]
    batch[0] = FileWrite(batch[0].path, batch[0].data, {**batch[0].companions, str(nested): b"unit"},
                         {**batch[0].modes, str(nested): 0o644})
    assert LocalFiles().write(batch, workers=4) == [None, None, None]

    for index, path in enumerate(paths):
        assert path.read_bytes() == NEW
        directory = path.parent / COMPANION_DIR
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert (directory / f"{path.name}.ctmpl").read_bytes() == b"template %d" % index
        assert stat.S_IMODE((directory / f"{path.name}.ctmpl").stat().st_mode) == 0o640
        assert stat.S_IMODE((directory / f"{path.name}.agent.hcl").stat().st_mode) == 0o600
    assert [stat.S_IMODE(p.stat().st_mode) for p in paths] == [0o640, 0o660, 0o604]
    if os.geteuid() == 0:
        assert (paths[1].stat().st_uid, paths[1].stat().st_gid) == (NOBODY, NOBODY)
    assert nested.read_bytes() == b"unit" and stat.S_IMODE(nested.stat().st_mode) == 0o644
    assert [stat.S_IMODE(d.stat().st_mode) for d in (nested.parent, nested.parent.parent)] == [0o700, 0o700]
    assert temporaries(tmp_path) == []


def test_a_failed_item_fails_alone_in_one_line(tmp_path: Path) -> None:
    """A symlink target (refused), a companion directory under a regular file (cannot be made),
    a target that is a directory (not a regular file): each gets its error, the others are written."""
    good = [tmp_path / "ok" / f"{name}.conf" for name in ("a", "b", "c")]
    for index, path in enumerate(good):
        original(path, index)
    real = tmp_path / "ok" / "real.conf"
    real_data = original(real, 9)
    link = tmp_path / "ok" / "link.conf"
    link.symlink_to(real)
    blocked = tmp_path / "blocked" / "app.conf"
    blocked_data = original(blocked, 7)
    (blocked.parent / COMPANION_DIR).write_bytes(b"a regular file where the directory should be")
    directory = tmp_path / "ok" / "conf.d"
    directory.mkdir()
    (directory / "inside").write_bytes(b"keep")

    batch = [rewrite(good[0], 0), rewrite(link, 1), rewrite(good[1], 2), rewrite(blocked, 3),
             FileWrite(str(directory), NEW), rewrite(good[2], 4)]
    errors = LocalFiles().write(batch)

    assert errors[0] is None and errors[2] is None and errors[5] is None
    assert errors[1] == "refusing to replace a symlink"
    assert errors[3] == os.strerror(errno.ENOTDIR)
    assert errors[4] == "not a regular file"
    for error in errors:
        assert error is None or ("\n" not in error and "password" not in error and "template" not in error)
    assert all(path.read_bytes() == NEW for path in good)
    assert link.is_symlink() and real.read_bytes() == real_data
    assert blocked.read_bytes() == blocked_data  # its companion could not be written: not replaced
    assert (directory / "inside").read_bytes() == b"keep"
    assert temporaries(tmp_path) == []


def test_the_file_is_not_replaced_when_a_companion_cannot_be_staged(tmp_path: Path) -> None:
    """The second companion's name is taken by a directory: refused when staging, so no companion
    of the item is renamed and the file keeps its original bytes."""
    path = tmp_path / "app" / "app.conf"
    data = original(path, 0)
    write = rewrite(path, 0)
    first, second = (Path(name) for name in sorted(write.companions))
    second.mkdir(parents=True)
    other = tmp_path / "other" / "b.conf"
    original(other, 1)
    assert LocalFiles().write([write, rewrite(other, 1)]) == ["not a regular file", None]
    assert path.read_bytes() == data and other.read_bytes() == NEW
    assert not first.exists() and second.is_dir()
    assert temporaries(tmp_path) == []


def test_the_file_is_not_replaced_when_a_companion_cannot_be_renamed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second companion's name is taken (by a non-empty directory) after the batch was staged:
    its rename fails, the first companion stays written, the file keeps its original bytes, and
    no temporary file of the item is left; the other item is written."""
    path = tmp_path / "app" / "app.conf"
    data = original(path, 0)
    write = rewrite(path, 0)
    first, second = (Path(name) for name in sorted(write.companions))
    other = tmp_path / "other" / "b.conf"
    original(other, 1)
    real_durable = files.make_durable

    def durable_then_taken(paths: Iterable[str | os.PathLike[str]]) -> dict[Path, OSError]:
        staged = [Path(p) for p in paths]
        failed = real_durable(staged)
        if not second.exists() and all(p.name.endswith(TEMP_SUFFIX) for p in staged):  # the data, not directories
            second.mkdir()
            (second / "occupied").write_bytes(b"x")
        return failed

    monkeypatch.setattr(files, "make_durable", durable_then_taken)
    errors = LocalFiles().write([write, rewrite(other, 1)])
    assert errors == [os.strerror(errno.EISDIR), None]
    assert path.read_bytes() == data and other.read_bytes() == NEW
    assert first.read_bytes() == write.companions[str(first)] and (second / "occupied").read_bytes() == b"x"
    assert temporaries(tmp_path) == []


def test_an_item_whose_data_cannot_be_made_durable_is_not_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [tmp_path / "a.conf", tmp_path / "b.conf"]
    originals = [original(path, index) for index, path in enumerate(paths)]
    batch = [rewrite(path, index) for index, path in enumerate(paths)]
    real_durable = files.make_durable

    def one_fails(paths: Iterable[str | os.PathLike[str]]) -> dict[Path, OSError]:
        staged = [Path(p) for p in paths]
        failed = real_durable(staged)
        if all(p.name.endswith(TEMP_SUFFIX) for p in staged):  # the data, not the directories
            failed[staged[-1]] = OSError(errno.EIO, os.strerror(errno.EIO))  # the last staged: b.conf
        return failed

    monkeypatch.setattr(files, "make_durable", one_fails)
    assert LocalFiles().write(batch) == [None, os.strerror(errno.EIO)]
    assert paths[0].read_bytes() == NEW and paths[1].read_bytes() == originals[1]
    assert not any(Path(c).exists() for c in batch[1].companions)
    assert temporaries(tmp_path) == []


def test_companions_and_their_directories_are_durable_before_any_file_is_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[str, Path]] = []
    real_replace, real_durable = files.replace_staged, files.make_durable

    def replace_staged(temp: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        events.append(("rename", Path(target)))
        real_replace(temp, target)

    def make_durable(paths: Iterable[str | os.PathLike[str]]) -> dict[Path, OSError]:
        staged = [Path(p) for p in paths]
        if all(p.name.endswith(TEMP_SUFFIX) for p in staged):
            events.append(("durable", tmp_path))  # the staged data
        else:
            events.extend(("fsync", p) for p in staged)  # directories
        return real_durable(staged)

    monkeypatch.setattr(files, "replace_staged", replace_staged)
    monkeypatch.setattr(files, "make_durable", make_durable)
    paths = [tmp_path / "one" / "a.conf", tmp_path / "one" / "b.conf", tmp_path / "two" / "new" / "c.conf"]
    for index, path in enumerate(paths[:2]):
        original(path, index)
    paths[2].parent.mkdir(parents=True)  # c.conf is new, in a directory without a companion directory
    assert LocalFiles().write([rewrite(path, index) for index, path in enumerate(paths)]) == [None] * 3

    renames = [i for i, (kind, _) in enumerate(events) if kind == "rename"]
    assert events[0] == ("durable", tmp_path) and len([e for e in events if e[0] == "durable"]) == 1
    first_file = min(i for i in renames if events[i][1] in paths)
    companion_renames = [i for i in renames if events[i][1] not in paths]
    assert len(companion_renames) == 6 and max(companion_renames) < first_file
    synced_before = {path for kind, path in events[:first_file] if kind == "fsync"}
    # each companion directory, and the directories that received a new directory
    assert {p.parent / COMPANION_DIR for p in paths} | {p.parent for p in paths} <= synced_before
    synced_after = [path for kind, path in events[first_file:] if kind == "fsync"]
    assert sorted(synced_after) == sorted({p.parent for p in paths})  # once each
    assert all(kind == "rename" for kind, _ in events[first_file:first_file + 3])


def test_removals_happen_after_the_file_and_a_failed_item_removes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rollback's writes: the original back and its companions removed (the removals synced);
    companions alone removed (the file already original); an item whose file cannot be written
    keeps its companions."""
    restored, untouched, refused = (tmp_path / "etc" / f"{name}.conf" for name in ("r", "u", "x"))
    for index, path in enumerate((restored, untouched, refused)):
        original(path, index)
    first = rewrite(restored, 0)
    second = rewrite(untouched, 1)
    third = rewrite(refused, 2)
    assert LocalFiles().write([first, second, third]) == [None, None, None]
    companions = {name: [Path(c) for c in write.companions] for name, write in
                  (("r", first), ("u", second), ("x", third))}
    refused.unlink()
    refused.symlink_to(untouched)

    batch = [FileWrite(str(restored), b"password = original-0\n", remove=tuple(first.companions)),
             FileWrite(str(untouched), None, remove=tuple(second.companions)),
             FileWrite(str(refused), b"password = original-2\n", remove=tuple(third.companions))]
    synced: list[Path] = []
    real_durable = files.make_durable

    def make_durable(paths: Iterable[str | os.PathLike[str]]) -> dict[Path, OSError]:
        staged = [Path(p) for p in paths]
        synced.extend(p for p in staged if p.is_dir())
        return real_durable(staged)

    monkeypatch.setattr(files, "make_durable", make_durable)
    errors = LocalFiles().write(batch)
    assert errors == [None, None, "refusing to replace a symlink"]
    assert sorted(synced) == [restored.parent, restored.parent / COMPANION_DIR]  # once each
    assert restored.read_bytes() == b"password = original-0\n" and untouched.read_bytes() == NEW
    assert not any(c.exists() for c in companions["r"] + companions["u"])
    assert all(c.exists() for c in companions["x"])
    assert temporaries(tmp_path) == []


def test_each_item_passes_its_checkpoints(tmp_path: Path) -> None:
    """A checkpoint after each item's companions, after each file, after each item's removals."""
    paths = [tmp_path / f"{index}.conf" for index in range(3)]
    for index, path in enumerate(paths):
        original(path, index)
    before = checkpoints.passed()
    LocalFiles().write([rewrite(path, index) for index, path in enumerate(paths)]
                       + [FileWrite(str(paths[0]), None, remove=(str(tmp_path / "gone"),))])
    assert checkpoints.passed() - before == 3 * 2 + 1


def killed_at(step: int, batch: list[FileWrite]) -> bool:
    """Write ``batch`` in a child killed (SIGKILL) at its ``step``-th checkpoint; whether it was."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.environ[checkpoints.ENV] = str(checkpoints.passed() + step)
        try:
            LocalFiles().write(batch)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == -signal.SIGKILL


def test_a_kill_at_any_checkpoint_leaves_each_file_original_or_rewritten_with_its_companions(
        tmp_path: Path) -> None:
    step = 1
    while True:
        root = tmp_path / f"step{step}"
        paths = [root / "one" / "a.conf", root / "one" / "b.conf", root / "two" / "c.conf"]
        originals = {path: original(path, index) for index, path in enumerate(paths)}
        batch = [rewrite(path, index) for index, path in enumerate(paths)]
        if not killed_at(step, batch):
            break
        for write in batch:
            path = Path(write.path)
            if path.read_bytes() != originals[path]:
                assert path.read_bytes() == NEW
                assert all(Path(c).read_bytes() == data for c, data in write.companions.items())
        remove_stale_temporaries({str(p.parent) for p in paths})
        assert temporaries(root) == []
        step += 1
    assert step == 3 * 2 + 1  # every checkpoint tried: the run after the last finished
    assert all(path.read_bytes() == NEW for path in paths) and temporaries(root) == []
