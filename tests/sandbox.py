"""Helpers for file-system tests that need a FIFO watcher or an unprivileged child process."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NOBODY = 65534


@contextmanager
def watch_fifo(path: Path) -> Iterator[threading.Event]:
    """Create a FIFO with a writer blocked on it; the event is set if anything opens it to read.

    Opening a FIFO for writing blocks until a reader opens it, so the writer thread wakes up
    exactly when someone (the code under test) opens the FIFO. The writer closes at once, so
    even a reader that blocked would get EOF and the test could not hang.
    """
    os.mkfifo(path)
    opened = threading.Event()
    done = threading.Event()

    def writer() -> None:
        fd = os.open(path, os.O_WRONLY)
        if not done.is_set():
            opened.set()
        os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield opened
    finally:
        done.set()
        # Release the writer by opening the read end ourselves (non-blocking).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        thread.join(5)
        os.close(fd)
        assert not thread.is_alive()


def run_as_nobody(fn: Callable[[], object]) -> object:
    """Run ``fn`` in a forked child that dropped root to nobody; return its JSON result.

    Root bypasses file modes, so permission errors can only be observed without privileges.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read_fd)
            try:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                assert os.geteuid() == NOBODY and os.getegid() == NOBODY
                payload: dict[str, object] = {"ok": fn()}
            except (OSError, AssertionError) as exc:
                payload = {"skip": f"cannot drop privileges to uid {NOBODY}: {exc}"}
            except BaseException as exc:
                payload = {"error": f"{type(exc).__name__}: {exc}"}
            data = json.dumps(payload).encode()
            while data:
                data = data[os.write(write_fd, data) :]
        finally:
            os._exit(0)
    os.close(write_fd)
    chunks = []
    with os.fdopen(read_fd, "rb") as pipe:
        chunks.append(pipe.read())
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    result = json.loads(b"".join(chunks) or b'{"error": "child wrote nothing"}')
    if "skip" in result:
        pytest.skip(result["skip"])
    assert "error" not in result, result["error"]
    return result["ok"]
