"""No value leaves a migration: scan, plan, apply (with a real agent check) and rollback run in
this process with every log record captured at DEBUG and every process start audited; canaries
must appear in no output, log record, process argument, exception, plan, journal, companion or
stray file, and rollback must bring back exactly the originals."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys

import pytest
from migration import everything_written

from migrator.cli import main

_STARTED: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if event in ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.system"):
        _STARTED.append(repr(args))


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one only records


@pytest.fixture
def logs():
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))
            if record.exc_info:
                records.append(logging.Formatter().formatException(record.exc_info))

    root = logging.getLogger()
    handler, level = Keep(logging.DEBUG), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield records
    root.removeHandler(handler)
    root.setLevel(level)


def in_process(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue() + err.getvalue()


def test_canaries_never_leave_a_migration(fleet, vault_env, tmp_path, monkeypatch, logs):
    root, originals, canaries = fleet
    for name, value in vault_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    _STARTED.clear()
    outputs = []
    for argv in (["scan", str(root), "--format", "json", "--no-progress"],
                 ["scan", str(root), "--format", "sarif", "--no-progress"],
                 ["plan", str(root), "-o", "plan.json"],
                 ["apply", "plan.json", "--state-dir", "state", "--agent-check", "always"],
                 ["rollback", "--state-dir", "state"]):
        status, text = in_process(*argv)
        assert status in (0, 1), (argv, text)
        outputs.append(text)
    assert {name: (root / name).read_bytes() for name in originals} == originals
    assert _STARTED, "the agent check starts a real bao agent"
    everything = "\n".join([*outputs, *logs, *_STARTED, everything_written(tmp_path)])
    assert any("POST" in line and "/v1/secret/data/" in line for line in logs), "the DEBUG log was captured"
    for name, canary in canaries.items():
        # The restored originals hold each value once; nothing else may.
        assert everything.count(canary) == 1, name
        for piece in (canary[:8], canary[-8:]):
            assert everything.count(piece) == 1, name
    leftovers = [p for p in (os.environ.get("XDG_RUNTIME_DIR") or "/dev/shm",) if os.path.isdir(p)]
    for directory in leftovers:
        for dirpath, _, filenames in os.walk(directory):
            for filename in filenames:
                path = os.path.join(dirpath, filename)
                with contextlib.suppress(OSError), open(path, "rb") as handle:
                    data = handle.read(1 << 20)
                    assert not any(c.encode() in data for c in canaries.values()), path
