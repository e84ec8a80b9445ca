"""Copy every secret from one backend to another (``vaultshift copy``), so no team is locked in.

Each path under the prefix is read whole at the source (every field, the path's metadata) and
written to the destination in one version, merged into what is there: fields the destination
has and the source lacks are kept. A path whose fields and metadata the destination already
holds is left alone, so a re-run changes nothing. A failure at one path is recorded and the copy
goes on; a failure that concerns a whole store (authentication, sealed, unreachable after the
retries) stops it, since every other path would fail the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from migrator.backends.base import Backend
from migrator.backends.errors import AuthError, BackendError, Sealed, Unavailable

STOPPING = (AuthError, Sealed, Unavailable)


class Action(StrEnum):
    """What happened to one path."""

    CREATED = "created"  # the destination had no such secret
    UPDATED = "updated"  # it had one, with other values or metadata
    UNCHANGED = "unchanged"  # it already held every field and metadata key
    SKIPPED = "skipped"  # nothing to copy: the source secret is deleted or has no fields
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class CopyOutcome:
    """One path's outcome: the action, how many fields the source holds, the one-line error of
    a failure, and whether it was only planned (dry run). Never a value."""

    path: str
    action: Action
    fields: int = 0
    error: str = ""
    dry_run: bool = False

    def describe(self) -> str:
        """``created apps/web/db (2 fields)``; ``would create ...`` in a dry run."""
        verb = str(self.action)
        if self.dry_run and self.action in (Action.CREATED, Action.UPDATED):
            verb = "would " + verb.removesuffix("d")
        if self.action is Action.FAILED:
            return f"{verb} {self.path}: {self.error}"
        detail = f" ({self.fields} field{'s' if self.fields != 1 else ''})" if self.fields else ""
        return f"{verb} {self.path}{detail}"


@dataclass(slots=True)
class CopyReport:
    """A copy's result: the two backends' names, the paths listed at the source, each outcome,
    and ``stopped``, the one-line error that ended the run early ("" when it ran to the end)."""

    source: str
    destination: str
    listed: int = 0
    outcomes: list[CopyOutcome] = field(default_factory=list)
    stopped: str = ""

    def count(self, action: Action) -> int:
        return sum(1 for outcome in self.outcomes if outcome.action is action)

    @property
    def failed(self) -> int:
        return self.count(Action.FAILED)

    def summary(self, dry_run: bool = False) -> str:
        counts = ", ".join(f"{self.count(a)} {'would be ' if dry_run and a in (Action.CREATED, Action.UPDATED) else ''}"
                           f"{a}" for a in Action)
        done = "" if not self.stopped else f"; stopped after {len(self.outcomes)} of them"
        return f"{self.source} -> {self.destination}: {counts} ({self.listed} secrets{done})"


def copy_secrets(source: Backend, destination: Backend, prefix: str = "", *, dry_run: bool = False,
                 on_outcome: Callable[[CopyOutcome], None] | None = None) -> CopyReport:
    """Copy the secrets under ``prefix`` from ``source`` to ``destination``.

    Raises :class:`BackendError` when the source cannot be listed (nothing was done);
    ``on_outcome`` is called after each path, for progress output.
    """
    report = CopyReport(source.name, destination.name)
    paths = source.list(prefix)
    report.listed = len(paths)
    for path in paths:
        try:
            outcome = _copy_one(source, destination, path, dry_run)
        except STOPPING as exc:
            outcome = CopyOutcome(path, Action.FAILED, error=str(exc))
            report.stopped = str(exc)
        except BackendError as exc:
            outcome = CopyOutcome(path, Action.FAILED, error=str(exc))
        report.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
        if report.stopped:
            break
    return report


def _copy_one(source: Backend, destination: Backend, path: str, dry_run: bool) -> CopyOutcome:
    secret = source.read_secret(path)
    if secret is None or not secret.fields:
        return CopyOutcome(path, Action.SKIPPED, dry_run=dry_run)
    there = destination.read_secret(path)
    count = len(secret.fields)
    if there is not None and there.holds(secret.fields, secret.metadata):
        return CopyOutcome(path, Action.UNCHANGED, count, dry_run=dry_run)
    action = Action.CREATED if there is None or there.deleted or not there.fields else Action.UPDATED
    if not dry_run:
        destination.write_fields(path, secret.fields, secret.metadata)
    return CopyOutcome(path, action, count, dry_run=dry_run)
