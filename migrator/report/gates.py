"""The migration's three phase gates as data: :func:`evaluate` turns KPI points, the tracked
repositories and the configured :class:`Targets` into one :class:`PhaseStatus` per phase, each
with its explicit :class:`Criterion` list and, for every criterion not met, what blocks it.

- phase 1 (guard): every tracked repository has a vaultshift guard installed (``pre-commit`` in a
  work tree, ``pre-receive`` on a bare server repository: what ``vaultshift guard install``
  writes there), and no secret entered its history after the guard was installed (proved by a
  history scan made after the install: a repository not scanned since is not proved clean);
- phase 2 (centralize): the hardcoded count is 0 and adoption (files, hosts and apps) reaches its
  target;
- phase 3 (rotate): rotation coverage reaches its target, the share of secrets older than the KPI's
  maximum age is at most its target and the average age is at most ``max_age_days``.

The targets come from the configuration's ``tracking:`` section (:func:`parse_targets`)::

    tracking:
      targets:
        rotation_coverage: 0.9   # share of stored secrets rotated automatically or dynamic
        max_age_days: 90         # the highest acceptable average age
        too_old_share: 0.0       # the highest acceptable share of secrets older than 90 days
        adoption: 1.0            # the share of files (and hosts) reading from the vault

Inputs are plain: KPI points are the dicts :meth:`MigrationKpis.to_dict` gives plus ``time``
(epoch seconds or ISO 8601) and ``source`` (what made the point: scan, apply, ...); repositories
are :class:`TrackedRepo` (or dicts of its fields). Nothing here holds a value: blockers name
repositories, host groups and counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from migrator.config import Config, ConfigError
from migrator.guard.install import HOOKS

TRACKING_SECTION = "tracking"
TARGETS_KEY = "targets"
GUARD_HOOKS = HOOKS  # either guards a repository: pre-commit in a work tree, pre-receive on a server
_HISTORY_TARGET = "0 repositories with a secret added after the guard"


@dataclass(frozen=True, slots=True)
class Targets:
    """What phase 2 and 3 must reach: shares from 0 to 1, the average age in days."""

    rotation_coverage: float = 0.9
    max_age_days: float = 90
    too_old_share: float = 0.0
    adoption: float = 1.0


@dataclass(frozen=True, slots=True)
class TrackedRepo:
    """A repository under the migration: the guard hooks installed in it, when the guard was
    installed, when its history was last scanned and when the newest secret found in its history
    was introduced (epoch seconds; None: never / none found)."""

    repo: str
    hooks: tuple[str, ...] = ()
    installed_at: float | None = None
    scanned_at: float | None = None
    newest_introduction: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrackedRepo:
        """The same fields by name; times as epoch seconds or ISO 8601. ValueError when malformed."""
        repo = data.get("repo")
        if not isinstance(repo, str) or not repo:
            raise ValueError("tracked repository without a name ('repo')")
        hooks = data.get("hooks") or ()
        if isinstance(hooks, str) or not all(isinstance(hook, str) for hook in hooks):
            raise ValueError(f"tracked repository {repo!r}: 'hooks' must be a list of hook names")
        return cls(repo, tuple(hooks), *(epoch(data.get(key), f"tracked repository {repo!r}: {key!r}")
                                         for key in ("installed_at", "scanned_at", "newest_introduction")))


@dataclass(frozen=True, slots=True)
class Criterion:
    """One explicit condition of a phase: the ``target`` and the ``actual`` state as text, whether
    it is ``met``, and when not, the ``blocker``: what stands in the way (names and counts)."""

    name: str
    target: str
    actual: str
    met: bool
    blocker: str = ""


@dataclass(frozen=True, slots=True)
class PhaseStatus:
    """A phase (1, 2, 3), its title and its criteria; ``done`` when every criterion is met."""

    phase: int
    title: str
    done: bool
    criteria: tuple[Criterion, ...]

    @property
    def blockers(self) -> tuple[str, ...]:
        return tuple(c.blocker for c in self.criteria if not c.met)

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "title": self.title, "done": self.done,
                "criteria": [asdict(criterion) for criterion in self.criteria]}


def parse_targets(section: Any, source: str = "(configuration)") -> Targets:
    """The targets of a ``tracking:`` section (None or a section without ``targets``: the
    defaults). Other keys of the section belong to other parts of tracking and are left alone.
    Raises :class:`ConfigError` (one line naming the file and the item) for a bad value."""
    if section is None:
        return Targets()
    if not isinstance(section, Mapping):
        raise ConfigError(f"{source}: '{TRACKING_SECTION}' must be a mapping")
    given = section.get(TARGETS_KEY)
    if given is None:
        return Targets()
    if not isinstance(given, Mapping):
        raise ConfigError(f"{source}: '{TRACKING_SECTION}.{TARGETS_KEY}' must be a mapping")
    defaults = asdict(Targets())
    unknown = sorted(str(key) for key in given if key not in defaults)
    if unknown:
        raise ConfigError(f"{source}: {TRACKING_SECTION}.{TARGETS_KEY}: unknown target {unknown[0]!r} "
                          f"(use {', '.join(defaults)})")
    values: dict[str, float] = {}
    for key, value in given.items():
        where = f"{source}: {TRACKING_SECTION}.{TARGETS_KEY}.{key}"
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(f"{where} must be a number")
        if key == "max_age_days":
            if value <= 0:
                raise ConfigError(f"{where} must be a number of days above 0")
        elif not 0 <= value <= 1:
            raise ConfigError(f"{where} must be a share from 0 to 1 (0.9 is 90%)")
        values[str(key)] = value
    return Targets(**values)


def targets_from_config(config: Config) -> Targets:
    """The targets of a loaded configuration (its ``tracking:`` section, kept in ``extra``)."""
    return parse_targets(config.extra.get(TRACKING_SECTION), config.source)


def epoch(value: Any, what: str = "time") -> float | None:
    """``value`` as epoch seconds: a number, or an ISO 8601 text (UTC when it names no zone);
    None stays None. ValueError naming ``what`` otherwise."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return when.timestamp()
    raise ValueError(f"{what}: not a time (epoch seconds or ISO 8601)")


def latest(points: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest point by ``time`` (the last given of equal times); None without points."""
    best: Mapping[str, Any] | None = None
    best_time = -math.inf
    for number, point in enumerate(points, 1):
        when = point_time(point, number)
        if best is None or when >= best_time:
            best, best_time = point, when
    return best


def point_time(point: Mapping[str, Any], number: int = 0) -> float:
    """A point's time (``time``, else ``measured_at``) in epoch seconds; ValueError when it has none."""
    when = epoch(point.get("time", point.get("measured_at")), f"KPI point {number}: 'time'")
    if when is None:
        raise ValueError(f"KPI point {number}: no 'time'")
    return when


def evaluate(points: Sequence[Mapping[str, Any]], repos: Iterable[TrackedRepo | Mapping[str, Any]],
             targets: Targets | None = None) -> list[PhaseStatus]:
    """Where phases 1, 2 and 3 stand: phase 1 from ``repos``, 2 and 3 from the newest of ``points``.
    ValueError (one line) for a malformed point or repository."""
    targets = targets or Targets()
    tracked = [repo if isinstance(repo, TrackedRepo) else TrackedRepo.from_dict(repo) for repo in repos]
    now = latest(points)
    return [guard_phase(tracked), centralize_phase(now, targets), rotate_phase(now, targets)]


def guard_phase(repos: Sequence[TrackedRepo], hooks: Sequence[str] = GUARD_HOOKS) -> PhaseStatus:
    """Phase 1: every tracked repository guarded (one of ``hooks`` installed), and no secret
    introduced into its history after its guard was installed (as a history scan made since shows)."""
    wanted = " or ".join(hooks)
    if not repos:
        nothing = "no repository is tracked yet"
        return _phase(1, "Guard", (Criterion("guards installed", f"a guard ({wanted}) in every tracked repository",
                                             "0 repositories", False, nothing),
                                   Criterion("no new secret in history", _HISTORY_TARGET, "unknown", False,
                                             nothing)))
    unguarded = [repo.repo for repo in repos if not any(hook in repo.hooks for hook in hooks)]
    guarded = [repo for repo in repos if repo.repo not in unguarded]
    installed = Criterion(
        "guards installed", f"a guard ({wanted}) in every tracked repository",
        f"{len(guarded)} of {len(repos)} repositories", not unguarded,
        "" if not unguarded else f"{_count(len(unguarded), 'repository', 'repositories')} without a guard: "
        + ", ".join(unguarded))
    leaked = [repo.repo for repo in guarded if repo.installed_at is not None and repo.newest_introduction is not None
              and repo.newest_introduction > repo.installed_at]
    unproved = [repo.repo for repo in guarded if repo.repo not in leaked and
                (repo.installed_at is None or repo.scanned_at is None or repo.scanned_at < repo.installed_at)]
    reasons = []
    if leaked:
        reasons.append(f"a secret entered the history after the guard in {_names(leaked)}")
    if unproved:
        reasons.append(f"history not scanned since the guard was installed in {_names(unproved)}")
    if unguarded:
        reasons.append(f"not guarded yet: {_names(unguarded)}")
    clean = len(guarded) - len(leaked) - len(unproved)
    history = Criterion("no new secret in history", _HISTORY_TARGET,
                        f"{clean} of {len(repos)} proved clean"
                        + (f", {len(leaked)} with a new secret" if leaked else ""), not reasons, "; ".join(reasons))
    return _phase(1, "Guard", (installed, history))


def centralize_phase(now: Mapping[str, Any] | None, targets: Targets | None = None) -> PhaseStatus:
    """Phase 2: no occurrence hardcoded, and file and host adoption at their target (100%)."""
    targets = targets or Targets()
    adoption_target = f">= {_percent(targets.adoption)}"
    if now is None:
        none = "no KPI measured yet (scan and plan the fleet)"
        return _phase(2, "Centralize", (Criterion("hardcoded occurrences", "0", "unknown", False, none),
                                        Criterion("file adoption", adoption_target, "unknown", False, none),
                                        Criterion("host adoption", adoption_target, "unknown", False, none)))
    hardcoded = _int(now, "hardcoded")
    groups = now.get("hardcoded_by_group") or {}
    if not isinstance(groups, Mapping):
        raise ValueError("KPI point: 'hardcoded_by_group' must be a mapping")
    still = sorted(((str(group), int(count)) for group, count in groups.items() if count),
                   key=lambda item: (-item[1], item[0]))
    blocker = ""
    if hardcoded:
        blocker = f"{_count(hardcoded, 'occurrence')} still in plaintext"
        if still:
            blocker += " in " + ", ".join(f"{group} ({count})" for group, count in still)
    files, migrated, in_progress = _int(now, "files"), _int(now, "files_migrated"), _int(now, "files_in_progress")
    hosts, hosts_migrated = _int(now, "hosts"), _int(now, "hosts_migrated")
    adoption, host_adoption = _share(now, "adoption"), _share(now, "host_adoption")
    files_met = files > 0 and adoption >= targets.adoption
    hosts_met = hosts > 0 and host_adoption >= targets.adoption
    file_blocker = "" if files_met else "no file is planned yet" if not files else \
        f"{files - migrated} of {_count(files, 'file')} still read plaintext" + \
        (f" ({in_progress} being rewritten)" if in_progress else "")
    host_blocker = "" if hosts_met else "no host is planned yet" if not hosts else \
        f"{hosts - hosts_migrated} of {_count(hosts, 'host')} still read plaintext"
    criteria = [
        Criterion("hardcoded occurrences", "0", str(hardcoded), hardcoded == 0, blocker),
        Criterion("file adoption", adoption_target, f"{_percent(adoption)} ({migrated} of {files} files)",
                  files_met, file_blocker),
        Criterion("host adoption", adoption_target, f"{_percent(host_adoption)} ({hosts_migrated} of {hosts} hosts)",
                  hosts_met, host_blocker)]
    apps, apps_migrated = _int(now, "apps"), _int(now, "apps_migrated")
    if apps:  # points measured before apps were counted have none
        app_adoption = _share(now, "app_adoption")
        apps_met = app_adoption >= targets.adoption
        criteria.append(Criterion("app adoption", adoption_target,
                                  f"{_percent(app_adoption)} ({apps_migrated} of {apps} apps)", apps_met,
                                  "" if apps_met else f"{apps - apps_migrated} of {_count(apps, 'app')} still read "
                                                      "plaintext somewhere"))
    return _phase(2, "Centralize", tuple(criteria))


def rotate_phase(now: Mapping[str, Any] | None, targets: Targets | None = None) -> PhaseStatus:
    """Phase 3: rotation coverage, the share of too old secrets and the average age at their targets."""
    targets = targets or Targets()
    coverage_target = f">= {_percent(targets.rotation_coverage)}"
    old_target = f"<= {_percent(targets.too_old_share)}"
    age_target = f"<= {_days(targets.max_age_days)}"
    if now is None:
        none = "no KPI measured yet (scan and plan the fleet)"
        return _phase(3, "Rotate", (Criterion("rotation coverage", coverage_target, "unknown", False, none),
                                    Criterion("share too old", f"{old_target} older than the maximum age", "unknown",
                                              False, none),
                                    Criterion("average age", age_target, "unknown", False, none)))
    stored, rotating = _int(now, "stored"), _int(now, "rotating")
    coverage = _share(now, "rotation_coverage")
    coverage_met = stored > 0 and coverage >= targets.rotation_coverage
    coverage_blocker = "" if coverage_met else "no secret is stored in a backend yet" if not stored else \
        f"{stored - rotating} of {_count(stored, 'stored secret')} not under rotation"
    known, unknown, too_old = _int(now, "age_known"), _int(now, "age_unknown"), _int(now, "too_old")
    kpi_max = _int(now, "max_age_days")
    too_old_share = _share(now, "too_old_share")
    unknown_note = f", {unknown} unknown" if unknown else ""
    no_age = "no secret's age is known yet" + (f" ({_count(unknown, 'secret')} unknown)" if unknown else "")
    old_met = known > 0 and too_old_share <= targets.too_old_share
    old_blocker = "" if old_met else no_age if not known else \
        f"{too_old} of {_count(known, 'secret')} with a known age older than {kpi_max} days"
    average = now.get("age_average_days")
    if average is not None and (isinstance(average, bool) or not isinstance(average, int | float)):
        raise ValueError("KPI point: 'age_average_days' must be a number of days")
    age_met = known > 0 and average is not None and average <= targets.max_age_days
    age_blocker = "" if age_met else no_age if not known or average is None else \
        f"the average age is {_days(average)}, above {_days(targets.max_age_days)}"
    return _phase(3, "Rotate", (
        Criterion("rotation coverage", coverage_target, f"{_percent(coverage)} ({rotating} of {stored} stored)",
                  coverage_met, coverage_blocker),
        Criterion("share too old", f"{old_target} older than {kpi_max} days",
                  f"{_percent(too_old_share)} ({too_old} of {known} known{unknown_note})", old_met, old_blocker),
        Criterion("average age", age_target, ("unknown" if average is None else _days(average))
                  + (f" ({unknown} unknown)" if unknown else ""),
                  age_met, age_blocker)))


def _phase(number: int, title: str, criteria: tuple[Criterion, ...]) -> PhaseStatus:
    return PhaseStatus(number, title, all(c.met for c in criteria), criteria)


def _int(point: Mapping[str, Any], key: str) -> int:
    value = point.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"KPI point: {key!r} must be a number")
    return int(value)


def _share(point: Mapping[str, Any], key: str) -> float:
    value = point.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"KPI point: {key!r} must be a share from 0 to 1")
    return float(value)


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _names(names: Sequence[str]) -> str:
    return ", ".join(names)


def _percent(share: float) -> str:
    return f"{share * 100:.4g}%"


def _days(days: float) -> str:
    return f"{days:.1f} days" if days % 1 else f"{int(days)} days"

