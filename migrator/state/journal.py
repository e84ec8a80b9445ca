"""The journal: every run, every secret it stored and every file it rewrote, in one SQLite file.

It is what makes apply idempotent and crash-safe and rollback possible. It never holds a value:
secrets are known by fingerprint and vault reference, files by keyed digests (HMAC) of their
bytes before and after the rewrite, and rewritten spans by byte offsets. The file is created
0600 in a 0700 state directory (``.vaultshift/`` under the current directory by default); every
step is committed before the next begins (WAL, synchronous=FULL), so a crash at any point leaves
a journal that says exactly what is done. Records of steps already done can be grouped in one
commit (:meth:`Journal.transaction`); a crash before it commits loses only records of things a
re-run recognises (a secret already in its backend, a file already rewritten after its intent).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_STATE_DIR = ".vaultshift"
JOURNAL_NAME = "journal.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,                 -- apply | rollback | rotate
    plan_digest TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL                -- running | done | failed | interrupted
);
CREATE TABLE IF NOT EXISTS secrets (
    run_id TEXT NOT NULL REFERENCES runs(id),
    fingerprint TEXT NOT NULL,
    backend TEXT NOT NULL,
    path TEXT NOT NULL,
    field TEXT NOT NULL,
    state TEXT NOT NULL,                -- stored (written and read back equal) | referenced | failed
    version INTEGER,
    error TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL,
    PRIMARY KEY (run_id, fingerprint)
);
CREATE TABLE IF NOT EXISTS files (
    run_id TEXT NOT NULL REFERENCES runs(id),
    path TEXT NOT NULL,
    original_digest TEXT NOT NULL,      -- keyed HMAC of the bytes before the rewrite
    rewritten_digest TEXT NOT NULL,     -- keyed HMAC of the bytes after it
    spans TEXT NOT NULL,                -- JSON edits: [new_start, new_end, pieces (literal text | secret ref)]
    companions TEXT NOT NULL,           -- JSON: generated files (agent template, config, unit)
    state TEXT NOT NULL,                -- rewriting (intent) | rewritten | verified | superseded | rolled_back | failed
    error TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL,
    PRIMARY KEY (run_id, path)
);
CREATE TABLE IF NOT EXISTS rotations (
    fingerprint TEXT PRIMARY KEY,       -- the secret (its KV reference is backend, path, field)
    backend TEXT NOT NULL,
    path TEXT NOT NULL,
    field TEXT NOT NULL,
    mode TEXT NOT NULL,                 -- kv (rolled back) | static | dynamic | aws-staged
    connection TEXT NOT NULL DEFAULT '',
    static_role TEXT NOT NULL DEFAULT '',
    dynamic_role TEXT NOT NULL DEFAULT '',
    username TEXT NOT NULL DEFAULT '',  -- the database user a static role manages (not a secret)
    wave TEXT NOT NULL DEFAULT '',
    run_id TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    at REAL NOT NULL,
    what TEXT NOT NULL,
    item TEXT NOT NULL
);
"""


class JournalError(RuntimeError):
    """The journal cannot be opened or is not vaultshift's; one line naming the file."""


@dataclass(frozen=True, slots=True)
class FileRecord:
    run_id: str
    path: str
    original_digest: str
    rewritten_digest: str
    edits: tuple[Any, ...]  # [new_start, new_end, pieces]: how to put the original back (no values)
    companions: tuple[str, ...]
    state: str
    error: str


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    kind: str
    plan_digest: str
    started: float
    finished: float | None
    status: str


@dataclass(frozen=True, slots=True)
class RotationRecord:
    """Where one secret's rotation stands: ``mode`` kv (as migrated, or rolled back), static (a
    static role manages its user), dynamic (its consumers get users of their own), aws-staged."""

    fingerprint: str
    backend: str
    path: str
    field: str
    mode: str
    connection: str = ""
    static_role: str = ""
    dynamic_role: str = ""
    username: str = ""
    wave: str = ""
    updated: float = 0.0


class Journal:
    """An open journal. Use as a context manager, or call ``close()``."""

    def __init__(self, state_dir: str | os.PathLike[str] = DEFAULT_STATE_DIR) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / JOURNAL_NAME
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self.path.exists():
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.close(fd)
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
            found = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if found is None:
                self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif found[0] != str(SCHEMA_VERSION):
                raise JournalError(f"{self.path}: journal schema {found[0]} is not supported")
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: not a vaultshift journal ({exc})") from None
        except OSError as exc:
            raise JournalError(f"{self.path}: cannot open the journal: {exc.strerror or exc}") from None
        # One run at a time: a second apply or rollback on the same state waits for nothing, it stops.
        self._lock = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            self.db.close()
            raise JournalError(f"{self.path}: another vaultshift run is using this state directory") from None
        # SQLite's -wal and -shm files get the process umask; the 0700 directory keeps them private.
        if self.dir.stat().st_mode & 0o077:
            os.chmod(self.dir, 0o700)

    def close(self) -> None:
        self.db.close()
        os.close(self._lock)  # releases the run lock

    def let_go_in_child(self) -> None:
        """In a forked child that never uses the journal: close its copy of the run lock, so that
        the lock ends with the parent's run even if the child outlives it (a flock is held until
        every copy of its descriptor is closed)."""
        os.close(self._lock)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """The records made inside, committed together when it ends (one write to disk instead of
        one each); if the process dies first, none of them is. Inside another, the outer one commits."""
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            if self.db.in_transaction:
                self.db.execute("COMMIT")  # what was recorded happened, even if the caller then failed

    # -- runs -------------------------------------------------------------------------------
    def start_run(self, kind: str, plan_digest: str) -> str:
        """A new run id: sortable by time, unique (``20261127T234736-3f9a``)."""
        now = time.time()
        run_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"-{os.urandom(2).hex()}"
        # A run that never finished was interrupted (killed): say so, its steps stay recorded.
        self.db.execute("UPDATE runs SET status='interrupted' WHERE status='running'")
        self.db.execute("INSERT INTO runs VALUES (?, ?, ?, ?, NULL, 'running')", (run_id, kind, plan_digest, now))
        self.event(run_id, "run started", kind)
        return run_id

    def finish_run(self, run_id: str, status: str) -> None:
        self.db.execute("UPDATE runs SET finished=?, status=? WHERE id=?", (time.time(), status, run_id))
        self.event(run_id, "run finished", status)

    def runs(self, kind: str | None = None) -> list[RunRecord]:
        query = "SELECT id, kind, plan_digest, started, finished, status FROM runs"
        rows = self.db.execute(query + (" WHERE kind=?" if kind else "") + " ORDER BY started, id",
                               (kind,) if kind else ()).fetchall()
        return [RunRecord(*row) for row in rows]

    def last_run(self, kind: str = "apply") -> RunRecord | None:
        runs = self.runs(kind)
        return runs[-1] if runs else None

    # -- secrets -----------------------------------------------------------------------------
    def record_secret(self, run_id: str, fingerprint: str, backend: str, path: str, field: str, state: str,
                      version: int | None = None, error: str = "") -> None:
        self.db.execute(
            "INSERT INTO secrets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id, fingerprint) DO UPDATE SET "
            "backend=excluded.backend, path=excluded.path, field=excluded.field, state=excluded.state, "
            "version=excluded.version, error=excluded.error, updated=excluded.updated",
            (run_id, fingerprint, backend, path, field, state, version, error, time.time()))
        self.event(run_id, f"secret {state}", f"{backend}:{path}#{field}")

    def known_paths(self) -> set[tuple[str, str]]:
        """Every (backend, path) a run recorded a secret at, in any state (a failed write may
        have left something there): anywhere else, no run of this journal stored anything."""
        return {(row[0], row[1]) for row in self.db.execute("SELECT DISTINCT backend, path FROM secrets")}

    def stored_secret(self, fingerprint: str, backend: str, path: str, field: str) -> bool:
        """True when any run stored this fingerprint at this reference and read it back equal."""
        row = self.db.execute("SELECT 1 FROM secrets WHERE fingerprint=? AND backend=? AND path=? AND field=? "
                              "AND state IN ('stored', 'referenced') LIMIT 1",
                              (fingerprint, backend, path, field)).fetchone()
        return row is not None

    def secret_states(self, run_id: str) -> dict[str, str]:
        rows = self.db.execute("SELECT fingerprint, state FROM secrets WHERE run_id=?", (run_id,)).fetchall()
        return dict(rows)

    # -- files -------------------------------------------------------------------------------
    def record_file(self, run_id: str, path: str, original_digest: str, rewritten_digest: str,
                    edits: list[Any], companions: list[str], state: str,
                    error: str = "") -> None:
        self.db.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id, path) DO UPDATE SET "
            "original_digest=excluded.original_digest, rewritten_digest=excluded.rewritten_digest, "
            "spans=excluded.spans, companions=excluded.companions, state=excluded.state, error=excluded.error, "
            "updated=excluded.updated",
            (run_id, path, original_digest, rewritten_digest, json.dumps(edits), json.dumps(companions), state,
             error, time.time()))
        self.event(run_id, f"file {state}", path)

    def set_file_state(self, run_id: str, path: str, state: str, error: str = "") -> None:
        self.db.execute("UPDATE files SET state=?, error=?, updated=? WHERE run_id=? AND path=?",
                        (state, error, time.time(), run_id, path))
        self.event(run_id, f"file {state}", path)

    def files(self, run_id: str) -> list[FileRecord]:
        rows = self.db.execute("SELECT run_id, path, original_digest, rewritten_digest, spans, companions, state, "
                               "error FROM files WHERE run_id=? ORDER BY path", (run_id,)).fetchall()
        return [_file_record(row) for row in rows]

    def file_by_digest(self, path: str, rewritten_digest: str) -> FileRecord | None:
        """The latest record of ``path`` rewritten to exactly these bytes (what a re-run finds)."""
        row = self.db.execute("SELECT run_id, path, original_digest, rewritten_digest, spans, companions, state, "
                              "error FROM files WHERE path=? AND rewritten_digest=? AND state IN "
                              "('rewriting', 'rewritten', 'verified') ORDER BY updated DESC LIMIT 1",
                              (path, rewritten_digest)).fetchone()
        return _file_record(row) if row else None

    # -- rotations ---------------------------------------------------------------------------
    def record_rotation(self, run_id: str, rotation: RotationRecord) -> None:
        self.db.execute(
            "INSERT INTO rotations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(fingerprint) DO UPDATE SET "
            "backend=excluded.backend, path=excluded.path, field=excluded.field, mode=excluded.mode, "
            "connection=excluded.connection, static_role=excluded.static_role, dynamic_role=excluded.dynamic_role, "
            "username=excluded.username, wave=excluded.wave, run_id=excluded.run_id, updated=excluded.updated",
            (rotation.fingerprint, rotation.backend, rotation.path, rotation.field, rotation.mode, rotation.connection,
             rotation.static_role, rotation.dynamic_role, rotation.username, rotation.wave, run_id, time.time()))
        self.event(run_id, f"secret {rotation.mode}", f"{rotation.backend}:{rotation.path}#{rotation.field}")

    def rotations(self) -> dict[str, RotationRecord]:
        """Every secret rotation has touched, by fingerprint, as it stands now."""
        return _rotation_records(self.db)

    # -- events ------------------------------------------------------------------------------
    def event(self, run_id: str, what: str, item: str) -> None:
        self.db.execute("INSERT INTO events (run_id, at, what, item) VALUES (?, ?, ?, ?)",
                        (run_id, time.time(), what, item))

    def events(self, run_id: str) -> Iterator[tuple[float, str, str]]:
        yield from self.db.execute("SELECT at, what, item FROM events WHERE run_id=? ORDER BY seq", (run_id,))


def read_rotations(state_dir: str | os.PathLike[str] = DEFAULT_STATE_DIR) -> dict[str, RotationRecord]:
    """The ``rotations`` records of the journal in ``state_dir``, read without taking its run lock
    (a fleet's per-host steps read where each secret stands while the controller's journal is
    theirs to read, not to write); empty when there is no journal yet."""
    path = Path(state_dir) / JOURNAL_NAME
    if not path.exists():
        return {}
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            return _rotation_records(db)
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            return {}
        raise JournalError(f"{path}: cannot read the rotation records ({exc})") from None


def _rotation_records(db: sqlite3.Connection) -> dict[str, RotationRecord]:
    rows = db.execute("SELECT fingerprint, backend, path, field, mode, connection, static_role, dynamic_role, "
                      "username, wave, updated FROM rotations").fetchall()
    return {row[0]: RotationRecord(*row) for row in rows}


def _file_record(row: Any) -> FileRecord:
    return FileRecord(row[0], row[1], row[2], row[3], tuple(json.loads(row[4])),
                      tuple(json.loads(row[5])), row[6], row[7])
