"""A run's session: one login per backend and a short-lived read cache, shared by every lookup of
an Ansible run, in memory only.

Ansible runs each task of each host in a worker process of its own, so a lookup cannot keep a
token or a read from one call to the next. The session is a small server on a unix socket in the
user's private directory (see :mod:`migrator.session.wire`), started by the first lookup of the
run and ended with the run: it keeps one logged-in backend per distinct set of options, reads
through it, and keeps what it read for ``cache_ttl`` seconds (60 by default; 0 turns the cache
off), so a hundred hosts templating the same secret make one read. Tokens and values never
touch the disk. When the run's process is gone (or nothing has asked for ``idle`` seconds) the
server revokes the tokens it logged in for, removes its socket and exits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import socketserver
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrator.backends import Backend, BackendError
from migrator.config import ConfigError
from migrator.session.options import BackendChoice, choose_backend
from migrator.session.wire import PROTOCOL, Run, peer_uid, receive, send

log = logging.getLogger("migrator.session")

DEFAULT_CACHE_TTL = 60.0
DEFAULT_IDLE = 4 * 3600.0


@dataclass
class _Store:
    """One backend of the session, with a lock (a backend is not thread-safe; holding it while
    reading also makes concurrent asks for one secret a single read)."""

    backend: Backend
    lock: threading.Lock = field(default_factory=threading.Lock)
    cache: dict[tuple[str, int | None], tuple[float, dict[str, str], int]] = field(default_factory=dict)


@dataclass
class Counters:
    backends: int = 0
    reads: int = 0
    hits: int = 0
    requests: int = 0


class Session:
    """What the server knows: its backends by options, their caches, and counters."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)  # names option sets in memory; never leaves the process
        self._stores: dict[str, _Store] = {}
        self._lock = threading.Lock()
        self.counters = Counters()
        self.last_request = time.monotonic()

    def handle(self, message: Mapping[str, Any]) -> dict[str, Any]:
        self.last_request = time.monotonic()
        with self._lock:
            self.counters.requests += 1
        if message.get("protocol") != PROTOCOL:
            return {"error": f"protocol {message.get('protocol')!r} is not {PROTOCOL}: the lookup and the session "
                             "come from different vaultshift versions", "kind": "ProtocolError"}
        operation = message.get("op")
        if operation == "stats":
            return {"stats": vars(self.counters).copy()}
        if operation != "read":
            return {"error": f"unknown operation {operation!r}", "kind": "ProtocolError"}
        path, version = message.get("path"), message.get("version")
        if not isinstance(path, str) or not path or (version is not None and not isinstance(version, int)):
            return {"error": "a read needs a path (and a whole-number version, if any)", "kind": "ProtocolError"}
        options = dict(message.get("options") or {})
        ttl = float(options.pop("cache_ttl", DEFAULT_CACHE_TTL) or 0)
        try:
            store = self._store(options, str(message.get("cwd") or "."))
            return self._read(store, path.strip("/"), version, ttl)
        except (ConfigError, BackendError, ValueError) as exc:
            return {"error": str(exc), "kind": type(exc).__name__}

    def _store(self, options: Mapping[str, Any], cwd: str) -> _Store:
        name = hmac.new(self._key, json.dumps([options, cwd], sort_keys=True, default=str).encode(),
                        hashlib.sha256).hexdigest()
        with self._lock:
            store = self._stores.get(name)
            if store is None:
                choice: BackendChoice = choose_backend(options, cwd)
                store = self._stores[name] = _Store(choice.build())
                self.counters.backends += 1
        return store

    def _read(self, store: _Store, path: str, version: int | None, ttl: float) -> dict[str, Any]:
        with store.lock:
            now = time.monotonic()
            cached = store.cache.get((path, version))
            if cached is not None and now - cached[0] < ttl:
                with self._lock:
                    self.counters.hits += 1
                return {"fields": cached[1], "version": cached[2]}
            found = store.backend.read_secret(path, version=version)
            with self._lock:
                self.counters.reads += 1
            if found is None or found.deleted:
                what = f"version {version}" if version is not None else "the secret"
                state = f"{what} is deleted" if found is not None else \
                    f"no version {version} at this path" if version is not None else "no secret at this path"
                return {"error": f"{store.backend.name}: read {path}: {state}", "kind": "NotFound"}
            if ttl > 0:
                store.cache[(path, version)] = (now, dict(found.fields), found.version)
            return {"fields": dict(found.fields), "version": found.version}

    def close(self) -> None:
        """Revoke the tokens this session logged in for (a token it was given is left alone)."""
        for store in self._stores.values():
            backend = store.backend
            try:
                backend.close()
            except Exception as exc:  # the run is over either way; say so without detail
                log.info("%s: could not revoke the session's token: %s", backend.name, type(exc).__name__)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    session: Session

    def verify_request(self, request: Any, client_address: Any) -> bool:
        uid = peer_uid(request)
        return uid is None or uid == os.getuid()


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        """Answer each request of the connection in turn (a worker keeps its connection for all
        its lookups) until the client closes it."""
        while True:
            try:
                message = receive(self.rfile)
            except ValueError as exc:
                send(self.request, {"error": f"unreadable request: {exc}", "kind": "ProtocolError"})
                return
            if message is None:
                return
            send(self.request, self.server.session.handle(message))


def serve(socket_path: Path, run: Run, idle: float = DEFAULT_IDLE, poll: float = 0.5) -> None:
    """Serve the run's lookups on ``socket_path`` until the run ends or nothing asks for ``idle``
    seconds; then revoke the session's tokens and remove the socket."""
    previous = os.umask(0o177)  # the socket: 0600
    try:
        server = _Server(str(socket_path), _Handler)
    finally:
        os.umask(previous)
    server.session = Session()
    worker = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": poll}, daemon=True)
    worker.start()
    try:
        while run.alive() and time.monotonic() - server.session.last_request < idle:
            time.sleep(poll)
    finally:
        server.shutdown()
        server.server_close()
        socket_path.unlink(missing_ok=True)
        for leftover in (socket_path.with_suffix(".lock"), socket_path.with_suffix(".log")):
            leftover.unlink(missing_ok=True)
        server.session.close()
