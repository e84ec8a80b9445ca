"""Staged rotation of a secret in AWS Secrets Manager, run by vaultshift itself (no rotation Lambda).

It holds :class:`StagedRotation` (a rotation and the rotation schedule of the secrets of one
:class:`AwsBackend`, through the backend's public calls for stages, versions and tags), the
:class:`Setter` protocol through which a rotation reaches the system
that issues the credential (a database's ``ALTER ROLE``), :class:`GeneratedSecret` (the setter
for values vaultshift alone owns), :func:`generate_password`, and what a rotation reports
(:class:`RotationOutcome`) or a schedule says (:class:`Schedule`).

A rotation goes through the four steps of AWS's own rotation Lambdas:

1. createSecret: a new version with every current field, the rotated one replaced by a generated
   value, staged ``AWSPENDING`` only (numbered by the backend's version tokens). A leftover
   ``AWSPENDING`` version of an earlier rotation that died half way is resumed instead.
2. setSecret: ``setter.set(current, pending)`` makes the issuing system accept the pending value.
3. testSecret: ``setter.test(pending)`` proves the pending value works.
4. finishSecret: ``AWSCURRENT`` moves to the pending version (AWS moves ``AWSPREVIOUS`` to the
   old one), ``AWSPENDING`` is removed and the ``vaultshift:rotated-at`` tag records the time.

When setSecret, testSecret or the move fails, ``setter.undo(current, pending)`` puts the issuing
system back on the current value, ``AWSPENDING`` is removed and ``AWSCURRENT`` stays where it was;
the :class:`RotationError` names the path and the step. When the undo itself fails the pending
version keeps its stage (the issuing system may accept only that value now): ``rotate`` again
resumes it, :meth:`StagedRotation.cancel` gives up on it.

The schedule is two tags of the secret, beside the backend's other metadata:
``vaultshift:rotation-days`` (rotate every so many days) and ``vaultshift:rotated-at`` (ISO-8601
UTC, set by each rotation). A secret vaultshift never rotated is as old as its current version.

No value is logged or put in a message: setters' messages are used only when they are one-line
errors of vaultshift's own (:class:`RotationError`, :class:`BackendError`), and even then withheld
when they quote the old or the new value.
"""

from __future__ import annotations

import json
import logging
import secrets
import string
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, NoReturn, Protocol, TypeVar

from migrator.backends.aws import CURRENT, VERSION_TOKEN, AwsBackend, StagedVersion, version_number
from migrator.backends.base import BackendError, check_path
from migrator.backends.errors import one_line, scrub
from migrator.rotate.errors import RotationError

__all__ = [
    "PENDING",
    "PREVIOUS",
    "ROTATED_AT_TAG",
    "ROTATION_DAYS_TAG",
    "GeneratedSecret",
    "RotationOutcome",
    "Schedule",
    "Setter",
    "StagedRotation",
    "StagedVersion",
    "generate_password",
    "read_stage",
]

log = logging.getLogger("migrator.rotate")
T = TypeVar("T")

PENDING, PREVIOUS = "AWSPENDING", "AWSPREVIOUS"
CREATE, SET, TEST, FINISH = "createSecret", "setSecret", "testSecret", "finishSecret"
ROTATION_DAYS_TAG = "vaultshift:rotation-days"
ROTATED_AT_TAG = "vaultshift:rotated-at"
MAX_ROTATION_DAYS = 1000  # what Secrets Manager's own rotation schedules allow
PASSWORD_ALPHABET = string.ascii_letters + string.digits
MIN_PASSWORD_LENGTH = 12


def generate_password(length: int = 32) -> str:
    """A random password of ``length`` letters and digits (safe in URLs and SQL literals, no
    quoting needed), with at least one lower-case letter, one upper-case letter and one digit."""
    if isinstance(length, bool) or not isinstance(length, int) or length < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password length must be a whole number from {MIN_PASSWORD_LENGTH}, not {length!r}")
    while True:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))
        if (any(c.islower() for c in password) and any(c.isupper() for c in password)
                and any(c.isdigit() for c in password)):
            return password


class Setter(Protocol):
    """The system that issues a credential, as a rotation drives it. ``current`` and ``pending``
    are every field of the secret's current and pending versions (read-only)."""

    def set(self, current: Mapping[str, str], pending: Mapping[str, str]) -> None:
        """Make the issuing system accept the pending value (a database: ALTER ROLE ... PASSWORD)."""

    def test(self, pending: Mapping[str, str]) -> None:
        """Raise :class:`RotationError` when the pending value does not work (a database: log in with it)."""

    def undo(self, current: Mapping[str, str], pending: Mapping[str, str]) -> None:
        """Put the issuing system back on the current value."""


@dataclass(frozen=True, slots=True)
class RotationOutcome:
    """What a rotation did: the ``field`` rotated at ``path``, the ``version`` now current and the
    ``previous_version`` (now AWSPREVIOUS; None when the earlier run that moved it is not known),
    how long it took in ``seconds``, and whether it ``resumed`` a rotation that died half way."""

    path: str
    field: str
    version: int
    previous_version: int | None
    seconds: float
    resumed: bool = False


@dataclass(frozen=True, slots=True)
class Schedule:
    """A secret's rotation schedule: rotate every ``days`` days (None: no schedule); last rotated
    at ``rotated_at`` (UTC; when vaultshift never rotated it, when its current version was made);
    ``next_due`` is when the next rotation is due (None without a schedule)."""

    days: int | None
    rotated_at: datetime
    next_due: datetime | None


def read_stage(backend: AwsBackend, path: str, stage: str) -> StagedVersion | None:
    """The version of the secret at ``path`` that holds ``stage`` (``AWSCURRENT``, ``AWSPENDING``,
    ...), asked for by stage; None when the secret or the stage is absent (the backend's
    :meth:`AwsBackend.read_stage`; failures are its one-line :class:`BackendError`)."""
    return backend.read_stage(path, stage)


def _version_dates(backend: AwsBackend, path: str) -> dict[str, datetime]:
    """When each version AWS keeps of the secret at ``path`` was made (no values are read)."""
    return {str(v["VersionId"]): v["CreatedDate"] for v in backend.list_versions(path)
            if isinstance(v.get("CreatedDate"), datetime)}


def _stage_holder(info: Mapping[str, Any], stage: str) -> str | None:
    """The VersionId that holds ``stage`` according to DescribeSecret's ``info``."""
    stages: dict[str, list[str]] = info.get("VersionIdsToStages") or {}
    return next((vid for vid, names in stages.items() if stage in names), None)


def _tags(info: Mapping[str, Any]) -> dict[str, str]:
    """The secret's tags as the backend's metadata (``aws:`` tags belong to AWS)."""
    return {t["Key"]: t.get("Value", "") for t in info.get("Tags") or [] if not t["Key"].startswith("aws:")}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_only(fields: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(fields))


def _rotates_only(current: Mapping[str, str], pending: Mapping[str, str], field: str) -> bool:
    """Whether ``pending`` is ``current`` with a new value of ``field`` and nothing else changed."""
    return (set(current) == set(pending) and pending[field] != current.get(field)
            and all(pending[k] == v for k, v in current.items() if k != field))


def _changed_values(current: Mapping[str, str], pending: Mapping[str, str]) -> list[str]:
    """The values that differ between ``current`` and ``pending`` (the rotated one, old and new):
    what a setter's message must not quote. Unchanged fields (a user name) may be named."""
    changed = {k for k in current.keys() | pending.keys() if current.get(k) != pending.get(k)}
    return [v for fields in (current, pending) for k, v in fields.items() if k in changed]


def _reason(exc: BaseException, values: Iterable[str]) -> tuple[str, bool]:
    """A one-line, value-free account of ``exc`` raised by a setter, and whether its own message
    was kept (then chaining it keeps tracebacks value-free too). Only vaultshift's own one-line
    errors are quoted: another exception's message may hold what the setter was given."""
    if isinstance(exc, RotationError | BackendError):
        text = one_line(str(exc))
        kept = scrub(text, values)
        return kept, kept == text
    return f"{type(exc).__name__} (its message is withheld)", False


class StagedRotation:
    """Rotations of the secrets of one :class:`AwsBackend`, and their schedule. Not thread-safe
    (like the backend: use one per thread, over :meth:`AwsBackend.clone`)."""

    def __init__(self, backend: AwsBackend) -> None:
        self.backend = backend

    def __repr__(self) -> str:
        return f"<StagedRotation {self.backend!r}>"

    # ---- rotation ------------------------------------------------------------------------------

    def rotate(self, path: str, field: str, setter: Setter,
               generate: Callable[[], str] = generate_password) -> RotationOutcome:
        """Rotate ``field`` of the secret at ``path`` through the four steps (see the module);
        ``generate()`` makes the new value. Raises a one-line :class:`RotationError` naming the
        path and the step; after it, AWSCURRENT still holds the value it held before (and the
        issuing system is back on it), except where the message says otherwise."""
        started = time.monotonic()
        problem = check_path(path)
        if problem:
            raise RotationError(path or "(empty path)", f"{CREATE}: {problem}")
        info = self._require(path, CREATE)
        current = self._stage(path, CURRENT, CREATE)
        if current is None:
            raise RotationError(path, f"{CREATE}: the secret has no {CURRENT} version")
        if field not in current.fields:
            raise RotationError(path, f"{CREATE}: the secret has no field {field!r}")
        pending_id = _stage_holder(info, PENDING)
        if pending_id is not None and pending_id == current.version_id:
            # An earlier run moved AWSCURRENT and died before removing AWSPENDING: only that is left.
            log.info("%s: rotate %s: %s is already %s; finishing the earlier rotation", self.backend.name, path,
                     pending_id, CURRENT)
            self._clear_pending(path, pending_id, FINISH)
            self._stamp(path, info)
            previous_id = _stage_holder(info, PREVIOUS)
            return RotationOutcome(path, field, self._number(path, current.version_id, FINISH),
                                   version_number(previous_id) if previous_id else None,
                                   time.monotonic() - started, resumed=True)
        previous_number = self._number(path, current.version_id, CREATE)
        if pending_id is not None:
            pending = self._stage(path, PENDING, CREATE)
            if pending is None or pending.version_id != pending_id:
                raise RotationError(path, f"{CREATE}: {PENDING} moved while it was read (another rotation is "
                                          "running?)")
            if not _rotates_only(current.fields, pending.fields, field):
                raise RotationError(path, f"{CREATE}: an unfinished rotation left version {pending_id} as {PENDING}, "
                                          f"and it is not a new value of {field!r} alone: cancel it first")
            log.info("%s: rotate %s#%s: resuming the %s version %s", self.backend.name, path, field, PENDING,
                     pending_id)
            resumed = True
        else:
            pending = self._create_pending(path, field, current, generate)
            resumed = False
        values = _changed_values(current.fields, pending.fields)
        steps: tuple[tuple[str, Callable[[], None]], ...] = (
            (SET, lambda: setter.set(_read_only(current.fields), _read_only(pending.fields))),
            (TEST, lambda: setter.test(_read_only(pending.fields))))
        for step, run in steps:
            try:
                run()
            except Exception as exc:
                self._abandon(path, setter, current, pending, step, exc, values)
            log.info("%s: rotate %s#%s: %s done", self.backend.name, path, field, step)
        self._finish(path, setter, current, pending, values)
        self._stamp(path, info)
        version = self._number(path, pending.version_id, FINISH)
        seconds = time.monotonic() - started
        log.info("%s: rotated %s#%s: version %d is %s (was %d) in %.2f s", self.backend.name, path, field, version,
                 CURRENT, previous_number, seconds)
        return RotationOutcome(path, field, version, previous_number, seconds, resumed)

    def cancel(self, path: str, setter: Setter) -> bool:
        """Give up on an unfinished rotation at ``path``: ``setter.undo`` puts the issuing system back
        on the current value, then AWSPENDING is removed. False when nothing was pending."""
        info = self._require(path, "cancel")
        pending_id = _stage_holder(info, PENDING)
        if pending_id is None:
            return False
        current = self._stage(path, CURRENT, "cancel")
        if current is not None and current.version_id != pending_id:
            pending = self._stage(path, PENDING, "cancel")
            if pending is not None:
                values = _changed_values(current.fields, pending.fields)
                try:
                    setter.undo(_read_only(current.fields), _read_only(pending.fields))
                except Exception as exc:
                    reason, _ = _reason(exc, values)
                    raise RotationError(path, f"cancel: undo failed ({reason}); {PENDING} version {pending_id} "
                                              "is kept") from None
        self._clear_pending(path, pending_id, "cancel")
        log.info("%s: cancelled the rotation of %s (%s version %s)", self.backend.name, path, PENDING, pending_id)
        return True

    def _create_pending(self, path: str, field: str, current: StagedVersion,
                        generate: Callable[[], str]) -> StagedVersion:
        value = generate()
        if not isinstance(value, str) or not value:
            raise RotationError(path, f"{CREATE}: the generator gave no text value")
        if value == current.fields[field]:
            raise RotationError(path, f"{CREATE}: the generator gave the current value again")
        fields = {**current.fields, field: value}
        number = self._next_number(path, current)
        token = VERSION_TOKEN.format(number)
        name = self.backend.secret_name(path)
        text = json.dumps(fields, ensure_ascii=False, sort_keys=True)  # as the backend writes a version
        self._aws(CREATE, "write", path, lambda client: client.put_secret_value(
            SecretId=name, SecretString=text, ClientRequestToken=token, VersionStages=[PENDING]),
            values=[*fields.values()])
        log.info("%s: rotate %s#%s: version %d created as %s", self.backend.name, path, field, number, PENDING)
        return StagedVersion(token, fields)

    def _next_number(self, path: str, current: StagedVersion) -> int:
        """The version after the current one and after every version vaultshift numbered (a failed
        rotation leaves its version without a stage: its token cannot be used again)."""
        current_number = self._number(path, current.version_id, CREATE)
        return self._guard(CREATE, path, lambda: self.backend.next_version(path, current_number))

    def _finish(self, path: str, setter: Setter, current: StagedVersion, pending: StagedVersion,
                values: Iterable[str]) -> None:
        """Move AWSCURRENT to the pending version, check it by reading AWSCURRENT by stage, then
        remove AWSPENDING. A refused move is undone; an unknown outcome keeps everything to resume."""
        name = self.backend.secret_name(path)
        refused: RotationError | None = None
        try:
            self._aws(FINISH, "finish", path, lambda client: client.update_secret_version_stage(
                SecretId=name, VersionStage=CURRENT, MoveToVersionId=pending.version_id,
                RemoveFromVersionId=current.version_id))
        except RotationError as exc:
            refused = exc  # or the reply was lost after it was done: AWSCURRENT tells
        try:
            now_current = self._stage(path, CURRENT, FINISH)
        except RotationError as exc:
            raise RotationError(path, f"{FINISH}: whether {CURRENT} moved to version {pending.version_id} is not "
                                      f"known ({exc.reason}): rotate again to resume") from exc
        if now_current is None or now_current.version_id != pending.version_id:
            if refused is not None:
                self._abandon(path, setter, current, pending, FINISH, refused, values)
            holder = now_current.version_id if now_current else "no version"
            raise RotationError(path, f"{FINISH}: {CURRENT} is on {holder} after the move, not on "
                                      f"{pending.version_id} (another writer?); {PENDING} is kept")
        if now_current.fields != pending.fields:
            raise RotationError(path, f"{FINISH}: {CURRENT} version {pending.version_id} does not read back as "
                                      "it was written")
        self._clear_pending(path, pending.version_id, FINISH)

    def _abandon(self, path: str, setter: Setter, current: StagedVersion, pending: StagedVersion, step: str,
                 exc: BaseException, values: Iterable[str]) -> NoReturn:
        """``step`` failed with ``exc``: undo it on the issuing system, remove AWSPENDING, raise."""
        values = tuple(values)
        reason, quotable = _reason(exc, values)
        try:
            setter.undo(_read_only(current.fields), _read_only(pending.fields))
        except Exception as undo_exc:
            undo_reason, _ = _reason(undo_exc, values)
            raise RotationError(path, f"{step}: {reason}; undo failed as well ({undo_reason}): {PENDING} version "
                                      f"{pending.version_id} is kept (the issuing system may hold it): rotate "
                                      "again to resume or cancel") from None
        try:
            self._clear_pending(path, pending.version_id, step)
        except RotationError as clear_exc:
            raise RotationError(path, f"{step}: {reason}; undone, but {PENDING} could not be removed "
                                      f"({clear_exc.reason})") from None
        log.warning("%s: rotate %s: %s failed, undone; %s unchanged, %s removed", self.backend.name, path, step,
                    CURRENT, PENDING)
        raise RotationError(path, f"{step}: {reason} ({CURRENT} unchanged, undone, {PENDING} removed)") from (
            exc if quotable else None)

    def _clear_pending(self, path: str, version_id: str, step: str) -> None:
        """Remove AWSPENDING from ``version_id`` (already gone: a retried request that had done it)."""
        name = self.backend.secret_name(path)
        try:
            self._aws(step, "remove stage", path, lambda client: client.update_secret_version_stage(
                SecretId=name, VersionStage=PENDING, RemoveFromVersionId=version_id))
        except RotationError:
            info = self._require(path, step)
            if _stage_holder(info, PENDING) == version_id:
                raise

    def _stamp(self, path: str, info: Mapping[str, Any]) -> None:
        """Record the rotation's time in the ``vaultshift:rotated-at`` tag, other tags kept."""
        rotated_at = {ROTATED_AT_TAG: _iso(datetime.now(UTC))}
        try:
            self._guard(FINISH, path, lambda: self.backend.update_tags(path, rotated_at, (), _tags(info)))
        except RotationError as exc:
            raise RotationError(path, f"{exc.reason} (the rotation itself is done: only {ROTATED_AT_TAG} was not "
                                      "recorded)") from exc

    # ---- schedule ------------------------------------------------------------------------------

    def schedule(self, path: str, days: int | None) -> None:
        """Rotate the secret at ``path`` every ``days`` days (None: no schedule); its other tags are kept."""
        if days is not None and (isinstance(days, bool) or not isinstance(days, int)
                                 or not 1 <= days <= MAX_ROTATION_DAYS):
            raise ValueError(f"schedule {path}: days must be a whole number from 1 to {MAX_ROTATION_DAYS}, "
                             f"not {days!r}")
        info = self._require(path, "schedule")
        tags = _tags(info)
        if days is None:
            changes: tuple[dict[str, str], tuple[str, ...]] = ({}, (ROTATION_DAYS_TAG,) if ROTATION_DAYS_TAG in tags
                                                                else ())
        else:
            changes = ({ROTATION_DAYS_TAG: str(days)}, ())
        if changes[0] or changes[1]:
            self._guard("schedule", path, lambda: self.backend.update_tags(path, *changes, tags))

    def schedule_of(self, path: str) -> Schedule:
        """The rotation schedule of the secret at ``path`` (:class:`RotationError` when there is none)."""
        found = self._schedule(path)
        if found is None:
            raise RotationError(path, "schedule: no such secret (or it is scheduled for deletion)")
        return found

    def due(self, paths: Iterable[str], now: datetime | None = None) -> list[str]:
        """Those of ``paths`` whose rotation is due at ``now`` (default: now), in the order given.
        Secrets without a schedule are never due; absent ones (deleted since listed) are skipped."""
        moment = now if now is not None else datetime.now(UTC)
        if moment.tzinfo is None:
            raise ValueError("due: now must carry a time zone")
        out = []
        for path in paths:
            found = self._schedule(path)
            if found is not None and found.next_due is not None and found.next_due <= moment:
                out.append(path)
        return out

    def _schedule(self, path: str) -> Schedule | None:
        info = self._describe(path, "schedule")
        if info is None or info.get("DeletedDate") is not None:
            return None
        tags = _tags(info)
        days: int | None = None
        if ROTATION_DAYS_TAG in tags:
            text = tags[ROTATION_DAYS_TAG]
            if not text.isdigit() or not 1 <= int(text) <= MAX_ROTATION_DAYS:
                raise RotationError(path, f"schedule: the tag {ROTATION_DAYS_TAG} holds {one_line(text, 40)!r}, not "
                                          f"a number of days from 1 to {MAX_ROTATION_DAYS}")
            days = int(text)
        rotated_at = self._rotated_at(path, info, tags)
        return Schedule(days, rotated_at, rotated_at + timedelta(days=days) if days is not None else None)

    def _rotated_at(self, path: str, info: Mapping[str, Any], tags: Mapping[str, str]) -> datetime:
        """The ``rotated-at`` tag, else when the current version was made, else when the secret was."""
        text = tags.get(ROTATED_AT_TAG)
        if text is not None:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                moment = None
            if moment is None or moment.tzinfo is None:
                raise RotationError(path, f"schedule: the tag {ROTATED_AT_TAG} holds {one_line(text, 40)!r}, not "
                                          "an ISO-8601 time in UTC")
            return moment.astimezone(UTC)
        current_id = _stage_holder(info, CURRENT)
        made = self._guard("schedule", path, lambda: _version_dates(self.backend, path)).get(
            current_id) if current_id else None
        made = made or info.get("CreatedDate")
        if not isinstance(made, datetime):
            raise RotationError(path, "schedule: Secrets Manager gave no creation date for the secret")
        return made.astimezone(UTC)

    # ---- the backend, step by step ------------------------------------------------------------

    def _aws(self, step: str, operation: str, path: str, fn: Callable[[Any], T], values: Iterable[str] = ()) -> T:
        """``fn(client)`` through the backend (its retries, its value-free errors), a failure
        raised as the :class:`RotationError` of ``step``."""
        return self._guard(step, path, lambda: self.backend.call(operation, path, fn, tuple(values)))

    def _guard(self, step: str, path: str, call: Callable[[], T]) -> T:
        """``call()``, the backend's :class:`BackendError` raised as the :class:`RotationError` of ``step``."""
        try:
            return call()
        except BackendError as exc:
            raise RotationError(path, f"{step}: {exc}") from exc

    def _describe(self, path: str, step: str) -> dict[str, Any] | None:
        return self._guard(step, path, lambda: self.backend.describe(path))

    def _require(self, path: str, step: str) -> dict[str, Any]:
        info = self._describe(path, step)
        if info is None:
            raise RotationError(path, f"{step}: no such secret in {self.backend.name}")
        if info.get("DeletedDate") is not None:
            raise RotationError(path, f"{step}: the secret is scheduled for deletion")
        return info

    def _stage(self, path: str, stage: str, step: str) -> StagedVersion | None:
        return self._guard(step, path, lambda: read_stage(self.backend, path, stage))

    def _number(self, path: str, version_id: str, step: str) -> int:
        """The backend's number for ``version_id`` (counted when another tool chose the id)."""
        number = version_number(version_id)
        if number is not None:
            return number
        return self._guard(step, path, lambda: self.backend.version_of(path, version_id))


class GeneratedSecret:
    """The setter for a value vaultshift alone owns (no system issues it): nothing to set or undo;
    the test reads the AWSPENDING version of ``path`` back and compares it with what was written."""

    def __init__(self, backend: AwsBackend, path: str) -> None:
        self.backend = backend
        self.path = path

    def __repr__(self) -> str:
        return f"GeneratedSecret({self.backend!r}, {self.path!r})"

    def set(self, current: Mapping[str, str], pending: Mapping[str, str]) -> None:
        """Nothing to do: no other system holds the value."""

    def test(self, pending: Mapping[str, str]) -> None:
        staged = read_stage(self.backend, self.path, PENDING)
        if staged is None:
            raise RotationError(self.path, f"no {PENDING} version to read back")
        if staged.fields != dict(pending):
            raise RotationError(self.path, f"the {PENDING} version does not read back as it was written")

    def undo(self, current: Mapping[str, str], pending: Mapping[str, str]) -> None:
        """Nothing to do: no other system holds the value."""
