"""How old each secret's current value is: what rotation status reports for every secret, the
ones rotation cannot touch included (the program's KPI: every secret younger than 90 days).

- a KV secret (not rotated, or rolled back): since its current version was written (the value
  may be older still: it sat in files before the migration stored it);
- a static role's password: since the engine last rotated it (``last_vault_rotation``);
- a dynamic role's users: made per lease, so the age is that of the lease (0 here);
- a Secrets Manager secret: since vaultshift's last staged rotation, else its current version.

Nothing here reads a value: static roles are read by their configuration, KV and Secrets
Manager by their metadata (the backends' reads return fields too; they stay in memory).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from migrator.backends.base import Backend, BackendError
from migrator.backends.vault import rfc3339
from migrator.plan.models import SecretRef
from migrator.rotate.database import DatabaseEngine
from migrator.rotate.errors import RotationError
from migrator.rotate.inventory import AWS_STAGED, DYNAMIC, STATIC, RotationItem
from migrator.state.journal import RotationRecord

MAX_AGE_DAYS = 90
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Age:
    """A secret's current value's age in days (None: unknown, ``note`` says why)."""

    days: float | None
    note: str = ""

    @property
    def too_old(self) -> bool:
        return self.days is not None and self.days > MAX_AGE_DAYS


def secret_age(item: RotationItem, record: RotationRecord | None, backends: Mapping[str, Backend],
               engine: DatabaseEngine | None, now: float | None = None) -> Age:
    """The age of ``item``'s current value; a store that cannot be read gives an unknown age."""
    try:
        return current_age(item.secret.ref, record, backends, engine, now)
    except BackendError as exc:
        return Age(None, f"cannot be read: {exc}")


def current_age(ref: SecretRef, record: RotationRecord | None, backends: Mapping[str, Backend],
                engine: DatabaseEngine | None, now: float | None = None) -> Age:
    """The age of the value stored at ``ref`` as rotation left it (``record``: None when rotation
    never touched it). Raises :class:`BackendError` when a store cannot be read (the caller
    decides whether the store is down for its other secrets)."""
    now = time.time() if now is None else now
    mode = record.mode if record else ""
    if mode == DYNAMIC:
        return Age(0.0, "a user per lease")
    if mode == STATIC and record is not None:
        if engine is None:
            return Age(None, "no database engine to read its static role from")
        role = engine.read_static_role(record.static_role) or {}
        rotated = rfc3339(role.get("last_vault_rotation"))
        return Age(None, "static role not found") if rotated is None else Age((now - rotated) / DAY)
    backend = backends.get(ref.backend)
    if backend is None:
        return Age(None, f"backend {ref.backend!r} is not configured")
    if mode == AWS_STAGED:
        from migrator.backends.aws import AwsBackend
        from migrator.rotate.aws_staged import StagedRotation

        if isinstance(backend, AwsBackend):
            try:
                schedule = StagedRotation(backend).schedule_of(ref.path)
            except RotationError as exc:
                return Age(None, exc.reason)
            return Age((now - schedule.rotated_at.timestamp()) / DAY)
    stored = backend.read_secret(ref.path)
    if stored is None or stored.deleted:
        return Age(None, "not stored")
    if stored.created is None:
        return Age(None, "the store gives no date")
    return Age((now - stored.created) / DAY)
