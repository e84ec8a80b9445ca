"""The migration inventory and its KPI history: :class:`Tracker`, one store that every scan,
plan, apply, rotate and status run adds to, so a migration can say where it stands and how it
got there.

    with Tracker.open(".vaultshift") as tracker:                 # SQLite: .vaultshift/inventory.sqlite
        tracker.record_scan(result, "/srv/app", host="web1", group="web")
    with Tracker.open("postgresql://team@db/migrations") as tracker:   # one store for a whole team
        tracker.points()

What it holds, per migration (one store can track several: ``Tracker.open(target, migration=...)``,
``"default"`` unless told; every table is keyed by it, so two migrations never see each other):

- ``vs_secrets``: each secret by fingerprint, its kind, where it is stored (backend, path, field)
  and its state: discovered, stored, referenced (every occurrence a reference), rotating (a
  static role or a staged rotation manages it), dynamic (its consumers get users of their own);
- ``vs_occurrences``: each place a secret sits, keyed by (fingerprint, host, file, line), with the
  repository (scanned root) it was found under, its host group and its state: plaintext,
  referenced, or gone (a later complete scan of its root no longer finds it: deleted or moved).
  The repository is an attribute, not part of the key: the same file scanned under two roots
  (``/srv`` and ``/srv/app``) is one occurrence, not two hardcoded secrets;
- ``vs_points``: one data point per scan / apply / rotate / status: when, from what, the
  :class:`~migrator.report.kpis.MigrationKpis` as JSON (``to_dict()``; empty for a scan) and the
  inventory's own counts at that moment (hardcoded overall, by repository and by host group,
  secrets and occurrences by state; a scan's point also says what it scanned);
- ``vs_guards``: the hooks installed per repository (pre-commit, pre-receive), when, and when
  removed;
- ``vs_history_scans``: each history scan of a repository: when, its head commit, how many
  findings, and when the newest of them entered history (for phase 1: "no new secret since").

The store is SQLite by default (``<state dir>/inventory.sqlite``, private, WAL, writers wait for
each other up to :data:`BUSY_TIMEOUT` seconds) or PostgreSQL given a ``postgresql://`` URL (psycopg
3). Both run the same SQL (``?`` placeholders become ``%s``; upserts are
``INSERT ... ON CONFLICT``, which both speak; JSON is kept as text). Each ``record_*`` call is one
transaction that holds the migration's write lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a
transaction-scoped advisory lock), so concurrent writers (two CI jobs, a team) are serialized and
lose nothing, and a point's counts are those of the inventory as that call left it. The schema is
created on first open and versioned (``vs_meta``); a store of another version is refused.

Nothing here holds a value: fingerprints, kinds, paths, line numbers, counts and times only (a
finding's redacted hint is not kept either). Every failure is a :class:`TrackingError`, one line
naming the store (a URL with its password redacted) and the reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from migrator.discover.models import Finding, ScanResult
    from migrator.git.history import HistoryScan
    from migrator.plan.models import Occurrence, Plan
    from migrator.report.kpis import MigrationKpis

_T = TypeVar("_T")

SCHEMA_VERSION = 1
INVENTORY_NAME = "inventory.sqlite"  # below the state directory
DEFAULT_MIGRATION = "default"
LOCAL_GROUP = "local"  # the group of a host-less occurrence (migrator.report.kpis.LOCAL)
CONNECT_TIMEOUT = 5  # seconds, for PostgreSQL
BUSY_TIMEOUT = 30.0  # seconds a SQLite writer waits for another
POSTGRES_SCHEMES = ("postgresql", "postgres")

# Secret states, in the order a migration moves them.
DISCOVERED, STORED, REFERENCED, ROTATING, DYNAMIC = "discovered", "stored", "referenced", "rotating", "dynamic"
SECRET_STATES = (DISCOVERED, STORED, REFERENCED, ROTATING, DYNAMIC)
# Occurrence states (REFERENCED as above).
PLAINTEXT, GONE = "plaintext", "gone"
OCCURRENCE_STATES = (PLAINTEXT, REFERENCED, GONE)
# A journal rotation mode (migrator.rotate.inventory) -> the secret's state; "kv" (rolled back) is none.
ROTATION_STATES = {"static": ROTATING, "aws-staged": ROTATING, "dynamic": DYNAMIC}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vs_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS vs_secrets (
    migration TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT '',
    backend TEXT NOT NULL DEFAULT '',   -- where it is (to be) stored: empty until a plan says
    path TEXT NOT NULL DEFAULT '',
    field TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,                -- discovered | stored | referenced | rotating | dynamic
    first_seen DOUBLE PRECISION NOT NULL,
    updated DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (migration, fingerprint)
);
CREATE TABLE IF NOT EXISTS vs_occurrences (
    migration TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    host TEXT NOT NULL,                 -- '' for this machine's files
    file TEXT NOT NULL,                 -- absolute (as on its host)
    line INTEGER NOT NULL,
    repo TEXT NOT NULL,                 -- the scanned root (or git repository) it was found under
    host_group TEXT NOT NULL,
    state TEXT NOT NULL,                -- plaintext | referenced | gone
    first_seen DOUBLE PRECISION NOT NULL,
    updated DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (migration, fingerprint, host, file, line)
);
CREATE TABLE IF NOT EXISTS vs_points (
    id {serial},
    migration TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    source TEXT NOT NULL,               -- scan | apply | rollback | rotate | status | ...
    kpis TEXT NOT NULL,                 -- JSON: MigrationKpis.to_dict(), empty for a scan
    inventory TEXT NOT NULL             -- JSON: the inventory's counts at that moment
);
CREATE INDEX IF NOT EXISTS vs_points_by_time ON vs_points (migration, at);
CREATE TABLE IF NOT EXISTS vs_guards (
    migration TEXT NOT NULL,
    repo TEXT NOT NULL,
    hook TEXT NOT NULL,                 -- pre-commit | pre-receive
    installed_at DOUBLE PRECISION NOT NULL,
    removed_at DOUBLE PRECISION,
    PRIMARY KEY (migration, repo, hook)
);
CREATE TABLE IF NOT EXISTS vs_history_scans (
    id {serial},
    migration TEXT NOT NULL,
    repo TEXT NOT NULL,
    scanned_at DOUBLE PRECISION NOT NULL,
    head TEXT NOT NULL,
    findings INTEGER NOT NULL,
    newest_introduced DOUBLE PRECISION  -- when the newest finding entered history (NULL: none)
);
"""
_TABLES = ("vs_secrets", "vs_occurrences", "vs_points", "vs_guards", "vs_history_scans")
_APP = "vaultshift inventory"
_SCHEMA_LOCK = "\0schema"  # the schema's writers' lock (no migration name holds a NUL)


class TrackingError(RuntimeError):
    """The inventory cannot be opened, read or written; one line naming the store."""


@dataclass(frozen=True, slots=True)
class TrackedSecret:
    """One secret of the inventory (never its value): ``state`` is one of :data:`SECRET_STATES`;
    ``backend``/``path``/``field`` are empty until a plan places it. Times in epoch seconds."""

    fingerprint: str
    kind: str
    backend: str
    path: str
    field: str
    state: str
    first_seen: float
    updated: float


@dataclass(frozen=True, slots=True)
class TrackedOccurrence:
    """One place a secret sits: ``file`` (absolute, on ``host``; "" for this machine) at ``line``,
    found under ``repo``, in ``host_group``; ``state`` is one of :data:`OCCURRENCE_STATES`."""

    fingerprint: str
    repo: str
    host: str
    host_group: str
    file: str
    line: int
    state: str
    first_seen: float
    updated: float


@dataclass(frozen=True, slots=True)
class KpiPoint:
    """One data point of a migration's history: at ``at`` (epoch seconds), from ``source``;
    ``kpis`` is ``MigrationKpis.to_dict()`` (empty for a scan), ``inventory`` the inventory's
    counts then: ``hardcoded``, ``hardcoded_by_repo``, ``hardcoded_by_group`` (every repository
    and group with an occurrence, zeros included), ``secrets_by_state``, ``occurrences_by_state``,
    and for a scan ``scanned`` (``repo``, ``host``, ``findings``, ``complete``)."""

    at: float
    source: str
    migration: str
    kpis: Mapping[str, Any]
    inventory: Mapping[str, Any]

    def migration_kpis(self) -> MigrationKpis | None:
        """The KPIs as :class:`~migrator.report.kpis.MigrationKpis`; None for a scan's point."""
        if not self.kpis:
            return None
        from migrator.report.kpis import MigrationKpis

        return MigrationKpis.from_dict(self.kpis)


@dataclass(frozen=True, slots=True)
class GuardRecord:
    """A hook vaultshift installed in ``repo``: when, and when it was removed (None: in place)."""

    repo: str
    hook: str
    installed_at: float
    removed_at: float | None

    @property
    def active(self) -> bool:
        return self.removed_at is None


@dataclass(frozen=True, slots=True)
class HistoryScanRecord:
    """One history scan of ``repo``: when, at which ``head`` commit, how many ``findings``, and
    when the newest of them entered history (``newest_introduced``, None: no finding)."""

    repo: str
    scanned_at: float
    head: str
    findings: int
    newest_introduced: float | None


# ---- Helpers callers use -----------------------------------------------------------------------


def redact_url(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) shown as ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, hostport = netloc.rsplit("@", 1)
            if ":" in userinfo:
                netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*")
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:  # not even a URL: redact what looks like a password anyway
        text = re.sub(r"(://[^:/@]*:)[^/]*@", r"\1***@", url)
        return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", text)


def newest_introduction(history: HistoryScan) -> float | None:
    """When the newest finding of a history scan entered history (epoch seconds, from the
    introducing commits' dates); None when it found nothing dated."""
    newest: float | None = None
    for introductions in history.commits.values():
        for introduction in introductions:
            try:
                at = datetime.fromisoformat(introduction.date).timestamp()
            except ValueError:
                continue
            newest = at if newest is None else max(newest, at)
    return newest


def repo_key(repo: str | os.PathLike[str]) -> str:
    """How the inventory names a repository: a local path made absolute (and normalized); a URL
    (``https://...``, ``git@host:org/repo``) as given."""
    text = os.fspath(repo)
    if "://" in text or re.match(r"^[\w.-]+@[\w.-]+:", text):
        return text
    return os.path.abspath(text)


# ---- The store: one connection, the same SQL ---------------------------------------------------


class _Store(Protocol):
    name: str  # how errors name it (a URL with its password redacted)
    serial: str  # the schema's auto-numbered key column

    def execute(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def executemany(self, query: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def write(self, migration: str) -> contextlib.AbstractContextManager[None]: ...

    def reason(self, exc: BaseException) -> str | None: ...

    def close(self) -> None: ...


class _SqliteStore:
    """``<dir>/inventory.sqlite``: a private file, WAL, writers wait for each other."""

    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self, directory: Path) -> None:
        self.path = directory / INVENTORY_NAME
        self.name = str(self.path)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():
            with contextlib.suppress(FileExistsError):  # another writer made it a moment ago
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT, check_same_thread=False)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
        except BaseException:
            self.db.close()
            raise

    def execute(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.db.execute(query, tuple(params)).fetchall()]

    def executemany(self, query: str, rows: Sequence[Sequence[Any]]) -> None:
        self.db.executemany(query, rows)

    @contextlib.contextmanager
    def write(self, migration: str) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")  # the write lock now, not at the first write
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def reason(self, exc: BaseException) -> str | None:
        return _sqlite_reason(exc)

    def close(self) -> None:
        self.db.close()


class _PostgresStore:
    """A PostgreSQL database given by URL: autocommit outside the transactions this opens."""

    serial = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"

    def __init__(self, url: str) -> None:
        import psycopg

        self.name = redact_url(url)
        self._url = url
        self.db = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True,
                                  application_name="vaultshift")

    def execute(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.db.cursor() as cursor:
            cursor.execute(query.replace("?", "%s"), tuple(params))
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    def executemany(self, query: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.db.cursor() as cursor:
                cursor.executemany(query.replace("?", "%s"), rows)

    @contextlib.contextmanager
    def write(self, migration: str) -> Iterator[None]:
        with self.db.transaction():
            # One writer per migration at a time, until this transaction ends.
            self.execute("SELECT pg_advisory_xact_lock(?)", (_lock_key(migration),))
            yield

    def reason(self, exc: BaseException) -> str | None:
        return _postgres_reason(exc, self._url)

    def close(self) -> None:
        self.db.close()


def _sqlite_reason(exc: BaseException) -> str | None:
    """Why SQLite failed, in one line; None when ``exc`` is not SQLite's."""
    if isinstance(exc, sqlite3.DatabaseError) and "file is not a database" in str(exc):
        return "not a vaultshift inventory (not an SQLite database)"
    if isinstance(exc, sqlite3.Error):
        return _first_line(str(exc)) or type(exc).__name__
    return None


def _postgres_reason(exc: BaseException, url: str) -> str | None:
    """Why PostgreSQL (at ``url``) failed: psycopg's first line, the URL's password scrubbed from
    it; None when ``exc`` is not psycopg's."""
    import psycopg

    if not isinstance(exc, psycopg.Error):
        return None
    text = _first_line(str(exc)) or type(exc).__name__
    for hidden in _url_passwords(url):
        text = text.replace(hidden, "***")
    return text


def _url_passwords(url: str) -> list[str]:
    """Every form of the password ``url`` carries (raw and decoded), longest first, to scrub from messages."""
    found: set[str] = set()
    with contextlib.suppress(ValueError):
        parts = urlsplit(url)
        userinfo = parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else ""
        if ":" in userinfo:
            found.add(userinfo.split(":", 1)[1])
        found.update(v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() == "password")
    found |= {unquote(item) for item in found}
    return sorted((item for item in found if item), key=len, reverse=True)


def _lock_key(migration: str) -> int:
    """A signed 64-bit advisory lock key for ``migration``'s writers."""
    return int.from_bytes(hashlib.sha256(f"vaultshift inventory:{migration}".encode()).digest()[:8], "big",
                          signed=True)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


# ---- The tracker -------------------------------------------------------------------------------


class Tracker:
    """An open inventory of one migration. Use as a context manager, or call :meth:`close`. One
    tracker may be shared by threads (its calls take turns); separate trackers (processes, CI
    jobs) on one store wait for each other's writes."""

    def __init__(self, store: _Store, migration: str) -> None:
        self._store = store
        self.migration = migration
        self.name = store.name
        self._lock = threading.Lock()

    @classmethod
    def open(cls, target: str | os.PathLike[str], migration: str = DEFAULT_MIGRATION) -> Tracker:
        """The inventory at ``target``: a state directory (``<dir>/inventory.sqlite``, made if
        missing) or a ``postgresql://`` URL; its schema made on first open. Raises
        :class:`TrackingError` (naming the store, never its password) when it cannot be opened or
        is not an inventory this version reads."""
        text = os.fspath(target)
        if not text or not migration:
            raise TrackingError(f"{text or '(empty)'}: the inventory needs a state directory or a postgresql:// URL"
                                f"{'' if migration else ' and a migration name'}")
        scheme = text.split("://", 1)[0].lower() if "://" in text else ""
        name = redact_url(text) if scheme else str(Path(text) / INVENTORY_NAME)
        if scheme and scheme not in POSTGRES_SCHEMES:
            raise TrackingError(f"{name}: not a state directory or a postgresql:// URL")
        store: _Store | None = None
        try:
            store = _PostgresStore(text) if scheme else _SqliteStore(Path(text))
            tracker = cls(store, migration)
            tracker._ensure_schema()
            return tracker
        except TrackingError:
            if store is not None:
                store.close()
            raise
        except (OSError, ValueError) as exc:
            if store is not None:
                store.close()
            why = _first_line(exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc))
            for hidden in _url_passwords(text) if scheme else ():
                why = why.replace(hidden, "***")
            raise TrackingError(f"{name}: cannot open the inventory: {why}") from None
        except Exception as exc:
            reason = _postgres_reason(exc, text) if scheme else _sqlite_reason(exc)
            if store is not None:
                store.close()
            if reason is None:
                raise
            raise TrackingError(f"{name}: cannot open the inventory: {reason}") from None

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Tracker({self.name!r}, migration={self.migration!r})"

    # -- recording ---------------------------------------------------------------------------
    def record_scan(self, scan: ScanResult | Iterable[Finding], root: str | os.PathLike[str], *, host: str = "",
                    group: str = "", now: float | None = None) -> KpiPoint:
        """A scan of ``root`` (the scanned directory or git work tree; a finding's path is
        relative to it) on ``host`` ("" for this machine) in host ``group`` (default: the host,
        or ``local``), and the data point it makes (source ``scan``).

        Each finding is an occurrence in plaintext (a secret new to the inventory is
        discovered; a referenced secret found in plaintext again is stored, no longer
        referenced). A complete scan (a :class:`ScanResult` without fatal errors, or plain
        findings) is a snapshot of ``root``: that host's plaintext occurrences under it that it
        did not find are gone. A scan seen twice changes nothing but times."""
        at = _now(now)
        repo = repo_key(root)
        result = cast("ScanResult", scan) if hasattr(scan, "findings") else None
        findings = list(result.findings) if result is not None else list(cast("Iterable[Finding]", scan))
        complete = result is None or not any(error.fatal for error in result.errors)
        group = group or host or LOCAL_GROUP
        single_file = os.path.isfile(repo)  # a file given as the root: its findings' paths name it as given
        found = {(f.fingerprint, repo if single_file else _file_of(repo, f.path), f.span.line): f.kind
                 for f in findings}

        def record() -> KpiPoint:
            self._execute_many(
                "INSERT INTO vs_secrets (migration, fingerprint, kind, state, first_seen, updated) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (migration, fingerprint) DO UPDATE SET "
                "kind = CASE WHEN vs_secrets.kind = '' THEN excluded.kind ELSE vs_secrets.kind END, "
                "state = CASE WHEN vs_secrets.state = ? THEN ? ELSE vs_secrets.state END, updated = excluded.updated",
                [(self.migration, fp, kind, DISCOVERED, at, at, REFERENCED, STORED)
                 for fp, kind in sorted({(fp, kind) for (fp, _, _), kind in found.items()})])
            self._execute_many(
                "INSERT INTO vs_occurrences VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (migration, fingerprint, host, file, line) DO UPDATE SET repo = excluded.repo, "
                "host_group = excluded.host_group, state = excluded.state, updated = excluded.updated",
                [(self.migration, fp, host, file, line, repo, group, PLAINTEXT, at, at)
                 for (fp, file, line) in sorted(found)])
            if complete:
                rows = self._store.execute(
                    "SELECT fingerprint, file, line FROM vs_occurrences WHERE migration = ? AND host = ? AND state = ?",
                    (self.migration, host, PLAINTEXT))
                gone = [(GONE, at, self.migration, fp, host, file, line) for fp, file, line in rows
                        if _under(file, repo) and (fp, file, line) not in found]
                self._execute_many("UPDATE vs_occurrences SET state = ?, updated = ? WHERE migration = ? AND "
                                   "fingerprint = ? AND host = ? AND file = ? AND line = ?", gone)
            scanned = {"repo": repo, "host": host, "findings": len(findings), "complete": complete}
            return self._add_point("scan", {}, at, scanned)

        return self._write("record the scan", record)

    def record_plan(self, plan: Plan, groups: Mapping[str, str] | None = None, *, now: float | None = None) -> None:
        """A plan's secrets (with where each will be stored) and occurrences, ``groups`` mapping
        a host to its host group (as :func:`~migrator.report.kpis.measure` takes it). New ones
        start discovered / plaintext; states already recorded are kept (a plan says where things
        go, not where they are: :meth:`record_progress` does)."""
        at = _now(now)
        self._write("record the plan", lambda: self._upsert_plan(plan, groups or {}, at))

    def record_progress(self, plan: Plan, *, stored: Iterable[str], migrated: Iterable[tuple[str, str]],
                        rotations: Mapping[str, str] | None = None, groups: Mapping[str, str] | None = None,
                        now: float | None = None) -> None:
        """Where ``plan``'s secrets stand now, as the journal says, recorded as their states (the
        plan recorded too, as :meth:`record_plan`): ``stored``, the fingerprints in their
        backend; ``migrated``, the ``(host, file)`` pairs (``Occurrence.host``,
        ``Occurrence.file``) rewritten to references; ``rotations``, fingerprint -> the journal's
        rotation mode (``static``, ``aws-staged``: rotating; ``dynamic``; ``kv``: none).

        An occurrence in a migrated file is referenced; one that was referenced and whose file
        is not migrated any more is plaintext (rolled back); a gone one stays gone. A secret is
        dynamic or rotating as its mode says, else referenced when every occurrence is, else
        stored, else discovered: after a rollback it moves back."""
        at = _now(now)
        stored_fingerprints = set(stored)
        migrated_files = set(migrated)
        modes = dict(rotations or {})

        def record() -> None:
            self._upsert_plan(plan, groups or {}, at)
            now_referenced: list[tuple[Any, ...]] = []
            rolled_back: list[tuple[Any, ...]] = []
            secret_rows: list[tuple[Any, ...]] = []
            for secret in plan.secrets:
                referenced = [(o.host, o.file) in migrated_files for o in secret.occurrences]
                for occurrence, is_referenced in zip(secret.occurrences, referenced, strict=True):
                    key = (at, self.migration, secret.fingerprint, occurrence.host, _plan_file(occurrence),
                           occurrence.line)
                    (now_referenced if is_referenced else rolled_back).append(key)
                state = ROTATION_STATES.get(modes.get(secret.fingerprint, "")) or (
                    REFERENCED if referenced and all(referenced) else
                    STORED if secret.fingerprint in stored_fingerprints else DISCOVERED)
                secret_rows.append((state, at, self.migration, secret.fingerprint))
            where = "WHERE migration = ? AND fingerprint = ? AND host = ? AND file = ? AND line = ?"
            self._execute_many(f"UPDATE vs_occurrences SET state = '{REFERENCED}', updated = ? {where} "
                               f"AND state != '{GONE}'", now_referenced)
            self._execute_many(f"UPDATE vs_occurrences SET state = '{PLAINTEXT}', updated = ? {where} "
                               f"AND state = '{REFERENCED}'", rolled_back)
            self._execute_many("UPDATE vs_secrets SET state = ?, updated = ? WHERE migration = ? AND fingerprint = ?",
                               secret_rows)

        self._write("record the progress", record)

    def record_kpis(self, source: str, kpis: MigrationKpis | Mapping[str, Any], *,
                    now: float | None = None) -> KpiPoint:
        """A data point from ``source`` (``apply``, ``rotate``, ``status``, ...): ``kpis``
        (a :class:`~migrator.report.kpis.MigrationKpis` or its ``to_dict()``) and the
        inventory's counts now. Returns the point."""
        if not source:
            raise TrackingError(f"{self.name}: a data point needs a source")
        data = dict(kpis) if isinstance(kpis, Mapping) else kpis.to_dict()
        at = _now(now)
        return self._write("record the KPIs", lambda: self._add_point(source, data, at))

    def record_guard(self, repo: str | os.PathLike[str], hook: str, *, removed: bool = False,
                     now: float | None = None) -> None:
        """``hook`` (``pre-commit``, ``pre-receive``) installed in ``repo`` now (again, after a
        removal: from now on), or with ``removed``, taken out of it (nothing, when it was never
        recorded)."""
        at, key = _now(now), repo_key(repo)
        if removed:
            self._write("record the guard", lambda: self._store.execute(
                "UPDATE vs_guards SET removed_at = ? WHERE migration = ? AND repo = ? AND hook = ?",
                (at, self.migration, key, hook)))
            return
        self._write("record the guard", lambda: self._store.execute(
            "INSERT INTO vs_guards VALUES (?, ?, ?, ?, NULL) ON CONFLICT (migration, repo, hook) DO UPDATE SET "
            "installed_at = CASE WHEN vs_guards.removed_at IS NULL THEN vs_guards.installed_at "
            "ELSE excluded.installed_at END, removed_at = NULL", (self.migration, key, hook, at)))

    def record_history_scan(self, repo: str | os.PathLike[str], head: str, findings: int,
                            newest_introduced: float | None, *, now: float | None = None) -> None:
        """A history scan of ``repo`` at commit ``head``: ``findings`` found, the newest entered
        history at ``newest_introduced`` (epoch seconds; :func:`newest_introduction` reads it off
        a :class:`~migrator.git.history.HistoryScan`; None when nothing was found)."""
        at, key = _now(now), repo_key(repo)
        self._write("record the history scan", lambda: self._store.execute(
            "INSERT INTO vs_history_scans (migration, repo, scanned_at, head, findings, newest_introduced) "
            "VALUES (?, ?, ?, ?, ?, ?)", (self.migration, key, at, head, int(findings), newest_introduced)))

    # -- reading -----------------------------------------------------------------------------
    def points(self, since: float | None = None) -> list[KpiPoint]:
        """This migration's data points in time order (recording order among equal times),
        those at or after ``since`` (epoch seconds) when given."""
        rows = self._read("read the data points", lambda: self._store.execute(
            "SELECT at, source, kpis, inventory FROM vs_points WHERE migration = ? AND at >= ? ORDER BY at, id",
            (self.migration, float("-inf") if since is None else since)))
        return [self._point(row) for row in rows]

    def latest(self) -> KpiPoint | None:
        """This migration's newest data point, or None."""
        rows = self._read("read the data points", lambda: self._store.execute(
            "SELECT at, source, kpis, inventory FROM vs_points WHERE migration = ? ORDER BY at DESC, id DESC "
            "LIMIT 1", (self.migration,)))
        return self._point(rows[0]) if rows else None

    def secrets(self, state: str | None = None) -> list[TrackedSecret]:
        """The migration's secrets (in ``state`` when given), by fingerprint."""
        rows = self._read("read the secrets", lambda: self._store.execute(
            "SELECT fingerprint, kind, backend, path, field, state, first_seen, updated FROM vs_secrets "
            "WHERE migration = ? AND (state = ? OR ? = '') ORDER BY fingerprint",
            (self.migration, state or "", state or "")))
        return [TrackedSecret(*row) for row in rows]

    def occurrences(self, state: str | None = None) -> list[TrackedOccurrence]:
        """The migration's occurrences (in ``state`` when given), by host, file, line."""
        rows = self._read("read the occurrences", lambda: self._store.execute(
            "SELECT fingerprint, repo, host, host_group, file, line, state, first_seen, updated FROM vs_occurrences "
            "WHERE migration = ? AND (state = ? OR ? = '') ORDER BY host, file, line, fingerprint",
            (self.migration, state or "", state or "")))
        return [TrackedOccurrence(*row) for row in rows]

    def guards(self) -> list[GuardRecord]:
        """Every hook recorded, removed ones included (``active`` says), by repository and hook."""
        rows = self._read("read the guards", lambda: self._store.execute(
            "SELECT repo, hook, installed_at, removed_at FROM vs_guards WHERE migration = ? ORDER BY repo, hook",
            (self.migration,)))
        return [GuardRecord(*row) for row in rows]

    def history_scans(self, repo: str | os.PathLike[str] | None = None) -> list[HistoryScanRecord]:
        """The history scans (of ``repo`` when given) in time order."""
        key = "" if repo is None else repo_key(repo)
        rows = self._read("read the history scans", lambda: self._store.execute(
            "SELECT repo, scanned_at, head, findings, newest_introduced FROM vs_history_scans "
            "WHERE migration = ? AND (repo = ? OR ? = '') ORDER BY scanned_at, id", (self.migration, key, key)))
        return [HistoryScanRecord(*row) for row in rows]

    def repos(self) -> list[str]:
        """Every repository the migration tracks: scanned, guarded or history-scanned."""
        rows = self._read("read the repositories", lambda: self._store.execute(
            "SELECT repo FROM vs_occurrences WHERE migration = ? UNION SELECT repo FROM vs_guards WHERE migration = ? "
            "UNION SELECT repo FROM vs_history_scans WHERE migration = ?", (self.migration,) * 3))
        return sorted(str(row[0]) for row in rows)

    def migrations(self) -> list[str]:
        """Every migration this store holds anything of."""
        queries = " UNION ".join(f"SELECT DISTINCT migration FROM {table}" for table in _TABLES)
        rows = self._read("read the migrations", lambda: self._store.execute(queries))
        return sorted(str(row[0]) for row in rows)

    # -- inside ------------------------------------------------------------------------------
    def _ensure_schema(self) -> None:
        store = self._store
        with store.write(_SCHEMA_LOCK):  # writers of a new store wait while the first makes it
            for statement in _SCHEMA.replace("{serial}", store.serial).split(";\n"):
                if statement.strip():
                    store.execute(statement)
            found = dict(store.execute("SELECT key, value FROM vs_meta"))
            if not found:
                store.executemany("INSERT INTO vs_meta VALUES (?, ?)",
                                  [("app", _APP), ("schema", str(SCHEMA_VERSION))])
                return
        if found.get("app") != _APP:
            raise TrackingError(f"{self.name}: not a vaultshift inventory")
        if found.get("schema") != str(SCHEMA_VERSION):
            raise TrackingError(f"{self.name}: inventory schema {found.get('schema')} is not supported "
                                f"(this vaultshift reads {SCHEMA_VERSION})")

    def _upsert_plan(self, plan: Plan, groups: Mapping[str, str], at: float) -> None:
        self._execute_many(
            "INSERT INTO vs_secrets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (migration, fingerprint) DO UPDATE "
            "SET kind = excluded.kind, backend = excluded.backend, path = excluded.path, field = excluded.field, "
            "updated = excluded.updated",
            [(self.migration, s.fingerprint, s.kind, s.ref.backend, s.ref.path, s.ref.field, DISCOVERED, at, at)
             for s in plan.secrets])
        self._execute_many(
            "INSERT INTO vs_occurrences VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (migration, fingerprint, host, file, line) DO UPDATE SET host_group = excluded.host_group, "
            "updated = excluded.updated",
            sorted({(self.migration, s.fingerprint, o.host, _plan_file(o), o.line, _plan_repo(plan, o),
                     groups.get(o.host) or o.host or LOCAL_GROUP, PLAINTEXT, at, at)
                    for s in plan.secrets for o in s.occurrences}))

    def _add_point(self, source: str, kpis: Mapping[str, Any], at: float,
                   scanned: Mapping[str, Any] | None = None) -> KpiPoint:
        inventory = self._counts()
        if scanned is not None:
            inventory["scanned"] = dict(scanned)
        self._store.execute("INSERT INTO vs_points (migration, at, source, kpis, inventory) VALUES (?, ?, ?, ?, ?)",
                            (self.migration, at, source, _json(kpis), _json(inventory)))
        return KpiPoint(at, source, self.migration, json.loads(_json(kpis)), inventory)

    def _counts(self) -> dict[str, Any]:
        by_repo: Counter[str] = Counter()
        by_group: Counter[str] = Counter()
        occurrences: Counter[str] = Counter()
        for repo, group, state, count in self._store.execute(
                "SELECT repo, host_group, state, COUNT(*) FROM vs_occurrences WHERE migration = ? "
                "GROUP BY repo, host_group, state", (self.migration,)):
            plaintext = int(count) if state == PLAINTEXT else 0
            by_repo[repo] += plaintext  # every repository and group, zeros included
            by_group[group] += plaintext
            occurrences[state] += int(count)
        secrets = dict(self._store.execute(
            "SELECT state, COUNT(*) FROM vs_secrets WHERE migration = ? GROUP BY state", (self.migration,)))
        return {"hardcoded": occurrences[PLAINTEXT], "hardcoded_by_repo": dict(sorted(by_repo.items())),
                "hardcoded_by_group": dict(sorted(by_group.items())),
                "secrets_by_state": {state: int(secrets.get(state, 0)) for state in SECRET_STATES},
                "occurrences_by_state": {state: occurrences[state] for state in OCCURRENCE_STATES}}

    def _point(self, row: tuple[Any, ...]) -> KpiPoint:
        return KpiPoint(float(row[0]), str(row[1]), self.migration, json.loads(row[2]), json.loads(row[3]))

    def _execute_many(self, query: str, rows: Sequence[Sequence[Any]]) -> None:
        self._store.executemany(query, rows)

    def _write(self, action: str, work: Callable[[], _T]) -> _T:
        with self._lock, self._errors(action), self._store.write(self.migration):
            return work()

    def _read(self, action: str, work: Callable[[], _T]) -> _T:
        with self._lock, self._errors(action):  # one SELECT each: it sees one committed state
            return work()

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except TrackingError:
            raise
        except Exception as exc:
            reason = self._store.reason(exc)
            if reason is None:
                raise
            raise TrackingError(f"{self.name}: cannot {action}: {reason}") from None


def _now(now: float | None) -> float:
    return time.time() if now is None else float(now)


def _json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _file_of(repo: str, path: str) -> str:
    """A scanned file's absolute path: ``path`` below ``repo``."""
    return os.path.normpath(os.path.join(repo, path))


def _under(file: str, repo: str) -> bool:
    return file == repo or file.startswith(repo.rstrip("/") + "/")


def _plan_file(occurrence: Occurrence) -> str:
    file = occurrence.file
    return os.path.normpath(file if os.path.isabs(file) else os.path.abspath(file))


def _plan_repo(plan: Plan, occurrence: Occurrence) -> str:
    """The plan root an occurrence lies under (the longest; a fleet root ``host:/dir`` for its
    host), else its own root, else its file's directory."""
    file = _plan_file(occurrence)
    roots = []
    for root in plan.roots:
        host, sep, rest = root.partition(":")
        if sep and occurrence.host and host == occurrence.host and rest.startswith("/"):
            root = rest
        elif sep and not root.startswith("/"):
            continue
        roots.append(os.path.normpath(os.path.abspath(root)))
    inside = [root for root in roots if _under(file, root)]
    if inside:
        return max(inside, key=len)
    return repo_key(occurrence.root) if occurrence.root else os.path.dirname(file)
