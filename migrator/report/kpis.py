"""Where a migration stands, as the numbers a migration lead tracks: :class:`MigrationKpis` and
:func:`measure`, which computes them from a plan, its journal and (for ages) its backends.

- hardcoded: the plan's occurrences still in plaintext (target 0), overall and by host group;
- vault adoption: the files (and hosts) whose planned secrets all come from the vault now;
- rotation coverage: the share of stored secrets under rotation (static, dynamic, aws-staged);
- secret age: the average age in days and how many are older than 90 days, from the stores'
  own dates (:func:`migrator.rotate.age.current_age`); an age nobody recorded is unknown, and
  counted as such, never guessed.

Where each file stands is what the journal says, read without its run lock in one read-only
snapshot (a running apply or rollback goes on undisturbed; what it has committed is counted). A
file's latest record decides: rewritten (or verified) is migrated; rolled back, failed or never
touched is plaintext; an intent without its outcome (``rewriting``: a run under way, or one that
was killed) is plaintext until a run finishes it, and counted in ``files_in_progress``. A fleet
migrated with the Ansible collection keeps each host's file records in
``<state_dir>/hosts/<host>/``; those are read for that host's files, the controller's journal
(rotations) at ``<state_dir>``.

Nothing here reads a file or holds a value: the numbers come from fingerprints, paths, states
and dates (the backends' reads return fields too; they stay in memory and are dropped).
"""

from __future__ import annotations

import os
import posixpath
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from migrator.apply.executor import plan_digest
from migrator.backends.base import AuthError, Backend, BackendError, Sealed, Unavailable
from migrator.plan.models import Plan, PlannedSecret
from migrator.rotate.age import MAX_AGE_DAYS, Age, current_age
from migrator.rotate.database import DatabaseEngine
from migrator.rotate.inventory import AWS_STAGED, DYNAMIC, STATIC
from migrator.state.journal import DEFAULT_STATE_DIR, JOURNAL_NAME, SCHEMA_VERSION, RotationRecord

KPI_FORMAT = 1  # the version of MigrationKpis.to_dict(), for histories kept across releases
LOCAL = "local"  # the host group of files of this machine (a plan occurrence without a host), as waves name it
HOSTS_DIR = "hosts"  # <state_dir>/hosts/<host>: a fleet host's own journal (the Ansible collection's layout)
MIGRATED_STATES = ("rewritten", "verified")
IN_PROGRESS_STATES = ("rewriting",)
ROTATING_MODES = (STATIC, DYNAMIC, AWS_STAGED)
_STORED_STATES = ("stored", "referenced")
_JOURNAL_TABLES = frozenset({"meta", "runs", "secrets", "files", "rotations"})


class MeasureError(ValueError):
    """The state directory or its journal cannot be read; one line naming it."""


@dataclass(frozen=True, slots=True)
class MigrationKpis:
    """A migration's progress at ``measured_at`` (epoch seconds): plain counts, shares from 0 to
    1 (0 when there is nothing to share: no file, no stored secret, no known age), and days.

    The plan: ``secrets`` (distinct values), ``occurrences``, ``files`` and ``hosts`` (a plan
    without hosts is one host, ``local``). ``hardcoded``: occurrences still in plaintext;
    ``hardcoded_by_group``: the same per host group (every group of the plan, zeros included).
    ``stored``: secrets in their backend (written and read back equal); ``referenced``: those
    whose every occurrence is a reference now. ``files_migrated`` / ``hosts_migrated`` and their
    shares ``adoption`` / ``host_adoption``: files (hosts) whose every planned secret comes from
    the vault; ``apps`` / ``apps_migrated`` / ``app_adoption`` the same for apps (an app: the
    directory of its secrets' vault paths). ``rotating`` (``static`` + ``dynamic`` +
    ``aws_staged``) of the stored secrets, ``rotation_coverage`` its share of them. Ages:
    ``age_known`` / ``age_unknown`` secrets,
    ``age_average_days`` over the known ones (None: none known), ``too_old`` of them older than
    ``max_age_days``, ``too_old_share`` of the known; ``age_notes`` say why ages are unknown
    (``"2 secrets: not stored yet"``), ``unreachable`` names each backend that could not be read
    at all; ``ages_days`` are the known ages themselves. ``plan_digest`` and ``last_run`` tie the
    numbers to a plan and a journal's history."""

    secrets: int
    occurrences: int
    files: int
    hosts: int
    hardcoded: int
    hardcoded_by_group: Mapping[str, int]
    stored: int
    referenced: int
    files_migrated: int
    files_in_progress: int
    hosts_migrated: int
    adoption: float
    host_adoption: float
    rotating: int
    static: int
    dynamic: int
    aws_staged: int
    rotation_coverage: float
    age_known: int
    age_unknown: int
    age_average_days: float | None
    too_old: int
    too_old_share: float
    max_age_days: int
    age_notes: tuple[str, ...]
    unreachable: tuple[str, ...]
    plan_digest: str
    last_run: str
    measured_at: float
    ages_days: tuple[float, ...] = ()  # each known age, in days (for the age distribution)
    apps: int = 0  # apps of the plan: the directory of each secret's vault path ({app} of the default naming)
    apps_migrated: int = 0  # apps whose every secret comes from the vault in every place
    app_adoption: float = 0.0  # apps_migrated / apps

    def to_dict(self) -> dict[str, Any]:
        """Every number by its field's name (JSON-ready: lists, a plain dict), and ``format``."""
        out: dict[str, Any] = {"format": KPI_FORMAT}
        for item in fields(self):
            value = getattr(self, item.name)
            out[item.name] = dict(sorted(value.items())) if isinstance(value, Mapping) else \
                list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MigrationKpis:
        """What :meth:`to_dict` gave (a history's entry); ValueError when it is not one."""
        if data.get("format") != KPI_FORMAT:
            raise ValueError(f"KPI format {data.get('format')!r} is not {KPI_FORMAT}")
        optional = {"ages_days", "apps", "apps_migrated", "app_adoption"}
        try:
            given = {item.name: data[item.name] for item in fields(cls)
                     if item.name in data or item.name not in optional}
        except KeyError as exc:
            raise ValueError(f"KPI record without {exc}") from None
        given["hardcoded_by_group"] = dict(given["hardcoded_by_group"])
        given["age_notes"], given["unreachable"] = tuple(given["age_notes"]), tuple(given["unreachable"])
        given["ages_days"] = tuple(float(days) for days in given.get("ages_days", ()))
        given.setdefault("apps", 0)
        given.setdefault("apps_migrated", 0)
        given.setdefault("app_adoption", 0.0)
        return cls(**given)


def share(part: int, whole: int) -> float:
    """``part`` of ``whole`` from 0 to 1; 0 when ``whole`` is 0."""
    return part / whole if whole else 0.0


def host_state_dir(state_dir: str | os.PathLike[str], host: str) -> Path:
    """Where a fleet host's own journal lives below ``state_dir`` (as the Ansible collection names it)."""
    name = host.replace(os.sep, "_")
    if name in ("", ".", ".."):
        name = f"_{name}_"
    return Path(state_dir) / HOSTS_DIR / name


def app_of(path: str) -> str:
    """The app a vault path belongs to: its directory's name (``apps/shop/db`` -> ``shop``, the
    ``{app}`` of the default naming; the access model's default too), else the path itself."""
    return posixpath.basename(posixpath.dirname(path)) or path


@dataclass(frozen=True, slots=True)
class JournalProgress:
    """What the journal says of a plan's secrets and files now: the fingerprints stored, the
    (host, file) places migrated, each rotating secret's mode (by fingerprint)."""

    stored: frozenset[str]
    migrated: frozenset[tuple[str, str]]
    rotations: Mapping[str, str]


def _journal_views(plan: Plan, directory: Path) -> tuple[Any, list[Any], dict[tuple[str, str], str]]:
    """The controller's journal, every journal (each host's merged with the controller's), and
    each planned (host, file)'s latest state."""
    if not directory.is_dir():
        raise MeasureError(f"{directory}: no such state directory (vaultshift apply makes it; "
                           "give the one apply ran with)")
    main = _read_journal(directory / JOURNAL_NAME)
    hosts = sorted({o.host for s in plan.secrets for o in s.occurrences})
    by_host = {host: main.merged(_read_journal(host_state_dir(directory, host) / JOURNAL_NAME))
               for host in hosts if host}
    file_states = {(o.host, o.file): by_host.get(o.host, main).file_state(o.file)
                   for s in plan.secrets for o in s.occurrences}
    return main, [main, *by_host.values()], file_states


def measure_progress(plan: Plan, state_dir: str | os.PathLike[str] = DEFAULT_STATE_DIR,
                     backends: Mapping[str, Backend] | None = None, now: float | None = None, *,
                     engine: DatabaseEngine | None = None,
                     groups: Mapping[str, str] | None = None) -> tuple[MigrationKpis, JournalProgress]:
    """The KPIs of ``plan`` as the journal in ``state_dir`` has it now, and the progress they are
    counted from (:class:`JournalProgress`: one read of the journals for both).

    ``backends`` (by name, as the plan's references name them) give the ages: without them, or
    for a backend that is missing or cannot be reached, ages are unknown (a backend that fails
    as a whole, unreachable, sealed or refusing the login, is tried once). ``engine`` is the
    database engine static roles are read from (their age is that of their last rotation).
    ``groups`` maps a host to its host group (default: each host its own group, ``local`` for
    files of this machine). ``now`` (epoch seconds) is when ages are measured.

    Raises :class:`MeasureError` when ``state_dir`` is not a directory or its journal is not one
    this version reads. A directory without a journal yet means nothing was applied."""
    now = time.time() if now is None else now
    # Each (host, file) as its latest record has it; an occurrence is plaintext unless its file is migrated.
    main, views, file_states = _journal_views(plan, Path(state_dir))
    hosts = sorted({o.host for s in plan.secrets for o in s.occurrences})
    migrated = {place for place, state in file_states.items() if state in MIGRATED_STATES}
    plaintext = [o for s in plan.secrets for o in s.occurrences if (o.host, o.file) not in migrated]
    group_of = dict(groups or {})

    def group(host: str) -> str:
        return group_of.get(host) or host or LOCAL

    hardcoded = Counter({group(host): 0 for host in hosts})  # every group, zeros included
    for occurrence in plaintext:
        hardcoded[group(occurrence.host)] += 1
    all_hosts = {host for host, _ in file_states}
    hosts_migrated = all_hosts - {o.host for o in plaintext}

    apps = {app_of(s.ref.path) for s in plan.secrets}
    apps_plaintext = {app_of(s.ref.path) for s in plan.secrets
                      if any((o.host, o.file) not in migrated for o in s.occurrences)}

    stored = [s for s in plan.secrets if any(view.stored(s) for view in views)]
    modes = Counter(main.rotations[s.fingerprint].mode for s in stored if s.fingerprint in main.rotations)
    rotating = sum(modes[mode] for mode in ROTATING_MODES)
    stored_fingerprints = {s.fingerprint for s in stored}
    ages = _Ages(backends, engine, now)
    for secret in plan.secrets:
        ages.count(secret, main.rotations.get(secret.fingerprint), stored=secret.fingerprint in stored_fingerprints)
    known = ages.known
    too_old = sum(days > MAX_AGE_DAYS for days in known)
    last = max((view.last_run for view in views), key=lambda run: (run[1], run[0]))
    kpis = MigrationKpis(
        secrets=len(plan.secrets), occurrences=sum(len(s.occurrences) for s in plan.secrets),
        files=len(file_states), hosts=len(all_hosts),
        hardcoded=len(plaintext), hardcoded_by_group=dict(sorted(hardcoded.items())),
        stored=len(stored), referenced=sum(all((o.host, o.file) in migrated for o in s.occurrences)
                                           for s in plan.secrets),
        files_migrated=len(migrated),
        files_in_progress=sum(state in IN_PROGRESS_STATES for state in file_states.values()),
        hosts_migrated=len(hosts_migrated),
        adoption=share(len(migrated), len(file_states)), host_adoption=share(len(hosts_migrated), len(all_hosts)),
        rotating=rotating, static=modes[STATIC], dynamic=modes[DYNAMIC], aws_staged=modes[AWS_STAGED],
        rotation_coverage=share(rotating, len(stored)),
        age_known=len(known), age_unknown=len(plan.secrets) - len(known),
        age_average_days=sum(known) / len(known) if known else None,
        too_old=too_old, too_old_share=share(too_old, len(known)), max_age_days=MAX_AGE_DAYS,
        age_notes=ages.notes(), unreachable=tuple(reason for _, reason in sorted(ages.down.items())),
        plan_digest=plan_digest(plan), last_run=last[0], measured_at=now, ages_days=tuple(sorted(known)),
        apps=len(apps), apps_migrated=len(apps - apps_plaintext), app_adoption=share(len(apps - apps_plaintext),
                                                                                    len(apps)))
    progress = JournalProgress(frozenset(stored_fingerprints), frozenset(migrated),
                               {fp: record.mode for fp, record in main.rotations.items()})
    return kpis, progress


def measure(plan: Plan, state_dir: str | os.PathLike[str] = DEFAULT_STATE_DIR,
            backends: Mapping[str, Backend] | None = None, now: float | None = None, *,
            engine: DatabaseEngine | None = None, groups: Mapping[str, str] | None = None) -> MigrationKpis:
    """The KPIs of ``plan`` as the journal in ``state_dir`` has it now (:func:`measure_progress`
    says how, and what ``backends``, ``engine``, ``groups`` and ``now`` are)."""
    return measure_progress(plan, state_dir, backends, now, engine=engine, groups=groups)[0]


class _Ages:
    """The ages of a plan's secrets, each stored one read once per path and rotation state; a
    backend that fails as a whole is marked down and not asked again."""

    def __init__(self, backends: Mapping[str, Backend] | None, engine: DatabaseEngine | None, now: float) -> None:
        self.backends = backends
        self.engine = engine
        self.now = now
        self.known: list[float] = []  # the known ages, in days
        self.down: dict[str, str] = {}  # backend -> why it cannot be read (its error, which names it)
        self._unknown: Counter[str] = Counter()  # why an age is unknown -> how many secrets
        self._seen: dict[tuple[str, str, str, str], Age] = {}

    def count(self, secret: PlannedSecret, record: RotationRecord | None, stored: bool) -> None:
        age = self._age(secret, record) if stored else Age(None, "not stored yet")
        if age.days is None:
            self._unknown[age.note] += 1
        else:
            self.known.append(age.days)

    def notes(self) -> tuple[str, ...]:
        """Why ages are unknown, most frequent first: ``"2 secrets: not stored yet"``."""
        ranked = sorted(self._unknown.items(), key=lambda item: (-item[1], item[0]))
        return tuple(f"{count} secret{'s' if count != 1 else ''}: {note}" for note, count in ranked)

    def _age(self, secret: PlannedSecret, record: RotationRecord | None) -> Age:
        ref = secret.ref
        if self.backends is None:
            return Age(None, "no backends were given to read dates from")
        if ref.backend in self.down:
            return Age(None, f"backend {ref.backend!r} cannot be read")
        key = (ref.backend, ref.path, record.mode if record else "", record.static_role if record else "")
        if key not in self._seen:
            try:
                self._seen[key] = current_age(ref, record, self.backends, self.engine, self.now)
            except BackendError as exc:
                if isinstance(exc, AuthError | Sealed | Unavailable):
                    self.down[ref.backend] = str(exc)
                    return Age(None, f"backend {ref.backend!r} cannot be read")
                self._seen[key] = Age(None, f"cannot be read: {exc}")
        return self._seen[key]


@dataclass(slots=True)
class _JournalView:
    """What one journal (or a host's journal merged with the controller's) says, read at once:
    each file's latest record, the secrets stored, the rotations, the latest run."""

    files: dict[str, tuple[tuple[float, str], str]] = field(default_factory=dict)  # path -> ((started, run), state)
    stored_refs: set[tuple[str, str, str, str]] = field(default_factory=set)  # fingerprint, backend, path, field
    rotations: dict[str, RotationRecord] = field(default_factory=dict)
    last_run: tuple[str, float] = ("", 0.0)

    def file_state(self, path: str) -> str:
        found = self.files.get(path)
        return found[1] if found else ""

    def stored(self, secret: PlannedSecret) -> bool:
        ref = secret.ref
        return (secret.fingerprint, ref.backend, ref.path, ref.field) in self.stored_refs

    def merged(self, other: _JournalView) -> _JournalView:
        """This view's files and stored secrets with ``other``'s (a later run's record wins);
        rotations stay this view's (the controller's)."""
        files = dict(self.files)
        for path, record in other.files.items():
            if path not in files or record[0] > files[path][0]:
                files[path] = record
        last = max(self.last_run, other.last_run, key=lambda run: (run[1], run[0]))
        return _JournalView(files, self.stored_refs | other.stored_refs, self.rotations, last)


def _read_journal(path: Path) -> _JournalView:
    """The journal at ``path`` read in one read-only snapshot, without its run lock; empty when
    there is none (or it is being created)."""
    if not path.exists():
        return _JournalView()
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30, isolation_level=None)
        try:
            db.execute("BEGIN")  # every SELECT below sees the same committed state
            return _view(db, path)
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise MeasureError(f"{path}: cannot read the journal ({exc})") from None


def _view(db: sqlite3.Connection, path: Path) -> _JournalView:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        return _JournalView()  # created a moment ago, its schema not committed yet
    if not _JOURNAL_TABLES.issubset(tables):
        raise MeasureError(f"{path}: not a vaultshift journal")
    schema = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    if schema is not None and schema[0] != str(SCHEMA_VERSION):
        raise MeasureError(f"{path}: journal schema {schema[0]} is not supported")
    started = {run: (at, run) for run, at in db.execute("SELECT id, started FROM runs")}
    files: dict[str, tuple[tuple[float, str], str]] = {}
    for run, file, state in db.execute("SELECT run_id, path, state FROM files WHERE state != 'superseded'"):
        order = started.get(run, (0.0, run))
        if file not in files or order > files[file][0]:
            files[file] = (order, state)
    stored = set(_rows(db.execute("SELECT fingerprint, backend, path, field FROM secrets WHERE state IN (?, ?)",
                                  _STORED_STATES)))
    rotations = {row[0]: RotationRecord(*row) for row in db.execute(
        "SELECT fingerprint, backend, path, field, mode, connection, static_role, dynamic_role, username, wave, "
        "updated FROM rotations")}
    last = max(started.values(), default=(0.0, ""))
    return _JournalView(files, stored, rotations, (last[1], last[0]))


def _rows(cursor: Iterable[Any]) -> Iterable[tuple[str, str, str, str]]:
    for row in cursor:
        yield (str(row[0]), str(row[1]), str(row[2]), str(row[3]))
