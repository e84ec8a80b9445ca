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
    """Requests to the session of ``run`` (the current one by default)."""

    def __init__(self, run: Run | None = None, timeout: float = 60.0) -> None:
        self.run = run or Run.current()
        self.timeout = timeout
        self.directory = private_dir()
        self.socket_path = self.directory / f"{self.run.name}.sock"

    def read(self, options: Mapping[str, Any], path: str, version: int | None = None) -> dict[str, Any]:
        """The fields of the secret at ``path`` (one version when given) through the backend the
        lookup ``options`` describe. The answer is ``{"fields": {...}, "version": N}`` or
        ``{"error": "one line", "kind": "NotFound"}``."""
        return self.request({"op": "read", "options": dict(options), "cwd": os.getcwd(), "path": path,
                             "version": version})

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        message = {"protocol": PROTOCOL, **message}
        sock = self._connect()
        try:
            sock.settimeout(self.timeout)
            send(sock, message)
            with sock.makefile("rb") as stream:
                answer = receive(stream)
        except (OSError, ValueError) as exc:
            raise SessionUnavailable(f"the session at {self.socket_path} broke off: {exc}") from None
        finally:
            sock.close()
        if answer is None:
            raise SessionUnavailable(f"the session at {self.socket_path} closed without an answer")
        return answer

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
