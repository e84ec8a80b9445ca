"""What rotation can do with each secret of a migration plan, and in which wave.

Each planned secret is classified (:mod:`migrator.rotate.classify`) from the files as they are
now (after ``vaultshift apply``: references in place of values, everything else as it was):

- a database password whose file says engine, host and user, in a database the configuration's
  ``rotation.databases`` names, stored in a Vault / OpenBao backend: a static role of the
  database engine (mode ``static``), then a dynamic role (``dynamic``) where agents render it;
- the same stored in AWS Secrets Manager: vaultshift's own staged rotation (``aws-staged``);
- anything else is tracked (``track``): its age is reported, it is not rotated, and ``blocked``
  says why.

A secret's wave is the last wave of any host that holds it: rotating a password changes it for
every consumer at once, so a secret shared by a canary host and another host waits for the later
wave. Nothing here holds a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from migrator.config import Config
from migrator.plan.models import Plan, PlannedSecret, ReferenceStyle
from migrator.rotate.classify import DATABASE, POSTGRESQL, Classified, DatabaseTarget, classify_plan
from migrator.rotate.settings import REST, DatabaseSettings, RotationSettings

STATIC, DYNAMIC, AWS_STAGED, TRACK = "static", "dynamic", "aws-staged", "track"
_ROLE_UNSAFE = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class RotationItem:
    """One secret as rotation sees it. ``target`` is the database as the files name it."""

    secret: PlannedSecret
    category: str
    reason: str
    mode: str
    wave: str
    hosts: tuple[str, ...]
    target: DatabaseTarget | None = None
    database: DatabaseSettings | None = None
    blocked: str = ""  # why it is tracked rather than rotated
    dynamic_blocked: str = ""  # why it cannot go dynamic (static rotation still can)

    @property
    def static_role(self) -> str:
        assert self.database is not None and self.target is not None and self.target.user
        return _role_name(f"{self.database.name}-{self.target.user}")

    @property
    def dynamic_role(self) -> str:
        return f"{self.static_role}-dynamic"

    @property
    def dual(self) -> bool:
        """Dual-credential: a twin login role of the user takes the static role, the app switches
        to it (username and password) while the old login still works, then the old password is
        retired. Needs every place rendered by an agent (the username changes too)."""
        return bool(self.database and self.database.dual and not self.dynamic_blocked and self.mode == STATIC)

    @property
    def twin(self) -> str:
        assert self.target is not None and self.target.user
        return f"{self.target.user}_rot"[:63]

    @property
    def managed_user(self) -> str:
        """The database user the static role manages: the twin (dual), else the app's own."""
        assert self.target is not None and self.target.user
        return self.twin if self.dual else self.target.user

    def to_dict(self) -> dict[str, object]:
        target = self.target
        return {"fingerprint": self.secret.fingerprint, "ref": self.secret.ref.to_dict(), "hint": self.secret.hint,
                "category": self.category, "reason": self.reason, "mode": self.mode, "wave": self.wave,
                "hosts": list(self.hosts), "blocked": self.blocked, "dynamic_blocked": self.dynamic_blocked,
                "database": None if target is None else
                {"engine": target.engine, "host": target.host, "port": target.port, "user": target.user,
                 "database": target.database, "found_in": target.found_in},
                "connection": self.database.name if self.database else "",
                "static_role": self.static_role if self.mode != TRACK else "",
                "dynamic_role": self.dynamic_role if self.mode != TRACK and not self.dynamic_blocked else "",
                "dual": self.dual}


def _role_name(text: str) -> str:
    return _ROLE_UNSAFE.sub("-", text.lower()).strip("-")[:60]


def rotation_items(plan: Plan, settings: RotationSettings, config: Config,
                   read: Callable[[str], bytes]) -> list[RotationItem]:
    """Every secret of ``plan``, classified and put in its wave; ``read(path)`` gives a planned
    file's current bytes."""
    return decide_items(plan, settings, config, classify_plan(plan, read))


def decide_items(plan: Plan, settings: RotationSettings, config: Config,
                 classified: Sequence[Classified]) -> list[RotationItem]:
    """Each classified secret's mode and wave (``classified``: from this machine's files, or
    merged from a fleet's hosts by :func:`migrator.rotate.classify.merge_classified`)."""
    hosts = sorted({o.host for s in plan.secrets for o in s.occurrences})
    order = settings.wave_names(hosts)
    fleet_waves = settings.waves_for(hosts)
    types = {name: str(s.get("type", "vault")) for name, s in config.backends.items()}
    items = []
    claimed: dict[tuple[str, str], str] = {}
    for one in classified:
        secret = one.secret
        secret_hosts = tuple(sorted({o.host for o in secret.occurrences}))
        waves = [settings.wave_of(h, fleet_waves) for h in secret_hosts] or [REST]
        wave = max(waves, key=order.index)
        item = RotationItem(secret, one.category, one.reason, TRACK, wave, secret_hosts, one.database)
        item = _decide(item, settings, types, claimed)
        items.append(item)
    return items


def _decide(item: RotationItem, settings: RotationSettings, types: Mapping[str, str],
            claimed: dict[tuple[str, str], str]) -> RotationItem:
    """The item's mode, or why it stays tracked."""
    def track(reason: str) -> RotationItem:
        return replace(item, blocked=reason)

    target = item.target
    if item.category != DATABASE or target is None:
        return track(f"{item.category}: not a database credential; its age is tracked")
    if not (target.host and target.user):
        return track("its file does not say the database's host and user")
    database = settings.database_for(target)
    if database is None:
        return track(f"no rotation.databases entry matches {target.host}:{target.port or ''} "
                     f"database {target.database or '-'}")
    target = replace(target, engine=target.engine or database.engine)
    if target.engine != POSTGRESQL:
        return track(f"{target.engine}: only PostgreSQL is rotated by this version")
    item = replace(item, database=database, target=target)
    key = (database.name, str(target.user))
    if key in claimed and claimed[key] != item.secret.fingerprint:
        return track(f"user {target.user} of {database.name} is also claimed by another secret (two passwords "
                     "for one user: the files disagree)")
    claimed[key] = item.secret.fingerprint
    kind = types.get(item.secret.ref.backend, "")
    if kind == "aws":
        return replace(item, mode=AWS_STAGED)
    if kind != "vault":
        return track(f"stored in {item.secret.ref.backend!r}, not a Vault / OpenBao KV or Secrets Manager backend")
    styles = {o.style for o in item.secret.occurrences}
    dynamic_blocked = ""
    if ReferenceStyle.ANSIBLE_LOOKUP in styles:
        dynamic_blocked = ("a deploy-time Ansible lookup cannot renew a lease: stays on static rotation "
                           "(render it with the agent to go dynamic)")
    elif ReferenceStyle.TERRAFORM in styles:
        dynamic_blocked = "Terraform references stay on static rotation"
    return replace(item, mode=STATIC, dynamic_blocked=dynamic_blocked)


def in_wave(items: list[RotationItem], wave: str, order: list[str]) -> list[RotationItem]:
    """The items of ``wave`` (``all``: every item, in wave order)."""
    if wave == "all":
        return sorted(items, key=lambda i: order.index(i.wave))
    return [i for i in items if i.wave == wave]
