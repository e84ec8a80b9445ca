"""Where a run's session lives and how its messages travel. Standard library only: the lookup
plugin imports this in every Ansible worker process, where each import costs start-up time.

A *run* is one ``ansible-playbook`` (or ``ansible``) process: the session serves every worker it
forks and ends with it. Its socket lives in a private directory (0700, owned by the user,
checked before use): ``$XDG_RUNTIME_DIR/vaultshift`` when that is the user's (and short enough for a socket's path),
else ``/tmp/vaultshift-<uid>``. Messages are one JSON object per line, in both directions; the
server accepts connections only from processes of its own user (``SO_PEERCRED``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import stat
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROTOCOL = 1
MAX_MESSAGE = 4 * 1024 * 1024
# A unix socket's path has at most 107 bytes; "/vaultshift/session-<pid>-<ticks>.sock" takes up to
# about 50 of them, so a longer runtime directory is passed over for /tmp.
_MAX_BASE = 56


class SessionUnavailable(Exception):
    """The session cannot be reached or started (the message says why; never a value)."""


@dataclass(frozen=True, slots=True)
class Run:
    """The process whose lifetime the session shares: its pid and start time (a reused pid is
    not the same run)."""

    pid: int
    started: str

    @classmethod
    def current(cls) -> Run:
        """The run of the calling process: the parent when this is a forked Ansible worker
        (a multiprocessing child), else this process."""
        parent = multiprocessing.parent_process()
        pid = parent.pid if parent is not None and parent.pid else os.getpid()
        return cls(pid, process_start(pid))

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return process_start(self.pid) == self.started

    @property
    def name(self) -> str:
        return f"session-{self.pid}-{self.started}"


def process_start(pid: int) -> str:
    """When ``pid`` started, in clock ticks since boot (Linux); "0" where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return "0"
    return fields[19] if len(fields) > 19 else "0"


def private_dir() -> Path:
    """The user's session directory, made 0700 when missing; refused when another user owns it,
    it is a symlink, or others can enter it."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = None
    if runtime and len(os.fsencode(runtime)) <= _MAX_BASE:
        try:
            info = os.stat(runtime)
            if info.st_uid == os.getuid() and stat.S_ISDIR(info.st_mode):
                base = Path(runtime) / "vaultshift"
        except OSError:
            base = None
    if base is None:
        temp = tempfile.gettempdir()
        base = Path(temp if len(os.fsencode(temp)) <= _MAX_BASE else "/tmp") / f"vaultshift-{os.getuid()}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(base)
    except OSError as exc:
        raise SessionUnavailable(f"{base}: cannot make the session directory: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise SessionUnavailable(f"{base}: not a private directory of this user (0700, owned by uid "
                                 f"{os.getuid()}): refusing to use it")
    return base


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(json.dumps(message, separators=(",", ":")).encode() + b"\n")


def receive(stream: Any) -> dict[str, Any] | None:
    """The next message from a socket's file object; None at the end of the stream."""
    line = stream.readline(MAX_MESSAGE + 1)
    if not line:
        return None
    if len(line) > MAX_MESSAGE or not line.endswith(b"\n"):
        raise ValueError("message too long or cut short")
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError("a message must be a JSON object")
    return message


def peer_uid(sock: socket.socket) -> int | None:
    """The user id of the process at the other end of a unix socket (None where unknown)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", data)
    return int(uid)
