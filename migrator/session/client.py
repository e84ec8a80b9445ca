"""The lookup's side of a run's session: connect to it, starting it when it is not there yet.
Standard library only (see :mod:`migrator.session.wire`).

Several workers may ask at once: one takes the run's lock file, starts the server
(``python -m migrator.session``, in a session of its own so that it outlives the worker that
started it) and waits until it answers; the others wait on the lock and then connect.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migrator.session.wire import PROTOCOL, Run, SessionUnavailable, private_dir, receive, send

START_TIMEOUT = 15.0


class SessionClient:
    """Requests to the session of ``run`` (the current one by default), over one connection kept
    for the life of the process (a worker's lookups share it): :func:`session_client`."""

    def __init__(self, run: Run | None = None, timeout: float = 60.0) -> None:
        self.run = run or Run.current()
        self.timeout = timeout
        self.directory = private_dir()
        self.socket_path = self.directory / f"{self.run.name}.sock"
        self._sock: socket.socket | None = None
        self._stream: Any = None

    def read(self, options: Mapping[str, Any], path: str, version: int | None = None) -> dict[str, Any]:
        """The fields of the secret at ``path`` (one version when given) through the backend the
        lookup ``options`` describe. The answer is ``{"fields": {...}, "version": N}`` or
        ``{"error": "one line", "kind": "NotFound"}``."""
        return self.request({"op": "read", "options": dict(options), "cwd": os.getcwd(), "path": path,
                             "version": version})

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        message = {"protocol": PROTOCOL, **message}
        for attempt in (1, 2):  # a kept connection the server closed (it restarted): once more
            fresh = self._sock is None
            try:
                if self._sock is None:
                    self._sock = self._connect()
                    self._sock.settimeout(self.timeout)
                    self._stream = self._sock.makefile("rb")
                send(self._sock, message)
                answer = receive(self._stream)
            except (OSError, ValueError) as exc:
                self.close()
                if fresh or attempt == 2:
                    raise SessionUnavailable(f"the session at {self.socket_path} broke off: {exc}") from None
                continue
            if answer is not None:
                return answer
            self.close()
            if fresh or attempt == 2:
                break
        raise SessionUnavailable(f"the session at {self.socket_path} closed without an answer")

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._stream = None

    def _connect(self) -> socket.socket:
        sock = self._try_connect()
        if sock is not None:
            return sock
        lock = self.directory / f"{self.run.name}.lock"
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            sock = self._try_connect()  # another worker may have started it meanwhile
            if sock is None:
                self._start()
                sock = self._wait_for_server()
        finally:
            os.close(descriptor)
        return sock

    def _try_connect(self) -> socket.socket | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.socket_path))
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            return None
        except OSError as exc:
            sock.close()
            raise SessionUnavailable(f"cannot connect to the session at {self.socket_path}: "
                                     f"{exc.strerror or exc}") from None
        return sock

    def _start(self) -> None:
        self.socket_path.unlink(missing_ok=True)  # a socket a dead server left
        log = self.directory / f"{self.run.name}.log"
        with open(log, "ab") as errors:
            os.chmod(log, 0o600)
            subprocess.Popen([sys.executable, "-m", "migrator.session", "--socket", str(self.socket_path),
                              "--run-pid", str(self.run.pid), "--run-started", self.run.started],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
                             start_new_session=True, close_fds=True, cwd="/")

    def _wait_for_server(self) -> socket.socket:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            sock = self._try_connect()
            if sock is not None:
                return sock
            time.sleep(0.02)
        log = self.directory / f"{self.run.name}.log"
        tail = _last_line(log)
        raise SessionUnavailable(f"the session did not start within {START_TIMEOUT:g} s"
                                 + (f": {tail}" if tail else f" (see {log})"))


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


_CLIENTS: dict[int, SessionClient] = {}  # by process id: a forked worker makes its own


def session_client() -> SessionClient:
    """This process's client of its run's session (made on first use, its connection kept)."""
    client = _CLIENTS.get(os.getpid())
    if client is None:
        _CLIENTS.clear()  # a parent's client, inherited by fork: never share its socket
        client = _CLIENTS[os.getpid()] = SessionClient()
    return client
