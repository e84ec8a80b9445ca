"""Who may do what, from the migration's plan and the ``access:`` settings: each app reads only the
vault paths its own files reference; each team of developers writes (never reads) under its
prefixes; operators manage the rest. Backend-neutral: :mod:`migrator.access.vault_policies` and
:mod:`migrator.access.aws_policies` turn it into Vault/OpenBao policies and IAM policies.

Refused, in one line naming the item: a path two apps read that ``access.shared`` does not list
(each app should hold its own credential), two teams whose prefixes overlap, two apps whose names
become the same.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from migrator.access.settings import AccessSettings
from migrator.plan.models import Plan
from migrator.plan.naming import segment
from migrator.plan.routing import Target


class AccessError(ValueError):
    """The access model cannot be built or applied; one line naming the item, never a value."""


@dataclass(frozen=True, slots=True, order=True)
class Place:
    """A vault path of one backend: exact, or every path under it when ``path`` ends in '/'."""

    backend: str
    path: str

    @property
    def is_prefix(self) -> bool:
        return self.path.endswith("/")

    def covers(self, other: Place) -> bool:
        if self.backend != other.backend:
            return False
        return other.path.startswith(self.path) if self.is_prefix else other.path == self.path


@dataclass(frozen=True, slots=True)
class AppAccess:
    """An application (or host group): the hosts it runs on and the paths it reads."""

    name: str
    hosts: tuple[str, ...]
    reads: tuple[Place, ...]


@dataclass(frozen=True, slots=True)
class TeamAccess:
    """A team of developers: the paths it may create and update, and never read."""

    name: str
    writes: tuple[Place, ...]


@dataclass(frozen=True, slots=True)
class AccessModel:
    prefix: str
    apps: tuple[AppAccess, ...]
    teams: tuple[TeamAccess, ...]
    operators: bool
    settings: AccessSettings

    def app_policy(self, app: AppAccess | str) -> str:
        return f"{self.prefix}-app-{app if isinstance(app, str) else app.name}"

    def team_policy(self, team: TeamAccess | str) -> str:
        return f"{self.prefix}-team-{team if isinstance(team, str) else team.name}"

    @property
    def operators_policy(self) -> str:
        return f"{self.prefix}-operators"

    def app(self, name: str) -> AppAccess:
        found = next((a for a in self.apps if a.name == name), None)
        if found is None:
            known = ", ".join(a.name for a in self.apps) or "none"
            raise AccessError(f"no app {name!r} in the access model (apps: {known})")
        return found


def build_model(plan: Plan, settings: AccessSettings,
                groups_of: Callable[[str], frozenset[str]] = lambda host: frozenset(),
                rotated: Mapping[str, Place] | None = None) -> AccessModel:
    """The access model of ``plan``: every occurrence's app (the first ``access.apps`` entry that
    matches it, else its vault path's directory: ``{app}`` of the default naming) reads its
    secret's path; the app runs on the occurrences' hosts.
    ``groups_of(host)``: the host's inventory groups, for ``host_group`` matches. ``rotated``:
    for a secret (by fingerprint) that phase 3 put under rotation, where its references read now
    (a database engine's ``static-creds/ROLE`` or ``creds/ROLE``): its apps read that too."""
    reads: dict[str, set[Place]] = {}
    hosts: dict[str, set[str]] = {}
    origin: dict[str, str] = {}  # app name -> what named it, for the collision message
    for secret in plan.secrets:
        places = [Place(secret.ref.backend, secret.ref.path)]
        if rotated and secret.fingerprint in rotated:
            places.append(rotated[secret.fingerprint])
        for occurrence in secret.occurrences:
            target = Target(occurrence.path, secret.kind, occurrence.host, groups_of(occurrence.host)
                            if occurrence.host else frozenset())
            configured = next((a.name for a in settings.apps if a.match.matches(target)), None)
            if configured is not None:
                name, named_by = configured, f"access.apps {configured}"
            else:
                directory = posixpath.dirname(secret.ref.path)
                name, named_by = segment(posixpath.basename(directory) or secret.ref.path), f"path {secret.ref.path}"
            if not name:
                raise AccessError(f"{occurrence.file}: no app name can be made from {named_by}; add an access.apps "
                                  "entry that matches it")
            previous = origin.setdefault(name, named_by)
            if previous != named_by and not (previous.startswith("path ") and named_by.startswith("path ")):
                raise AccessError(f"app name {name!r} comes from both {previous} and {named_by}; name them in "
                                  "access.apps")
            reads.setdefault(name, set()).update(places)
            if occurrence.host:
                hosts.setdefault(name, set()).add(occurrence.host)
    readers: dict[Place, list[str]] = {}
    for name, read in reads.items():
        for place in read:
            readers.setdefault(place, []).append(name)
    for place, names in sorted(readers.items()):
        if len(names) > 1 and place.path not in settings.shared:
            first, second = sorted(names)[:2]
            raise AccessError(f"{place.path} ({place.backend}) is read by apps {first} and {second}: give each app "
                              "its own credential, or list the path under access.shared")
    apps = tuple(AppAccess(name, tuple(sorted(hosts.get(name, ()))), tuple(sorted(read)))
                 for name, read in sorted(reads.items()))
    teams = tuple(TeamAccess(t.name, tuple(Place(t.backend, p) for p in t.paths)) for t in settings.teams)
    for index, team in enumerate(teams):
        for other in teams[index + 1:]:
            for mine in team.writes:
                for theirs in other.writes:
                    if mine.covers(theirs) or theirs.covers(mine):
                        raise AccessError(f"team {team.name}'s path {mine.path} overlaps team {other.name}'s "
                                          f"{theirs.path} ({mine.backend}): each path belongs to one team")
    return AccessModel(settings.prefix, apps, teams, settings.operators, settings)
