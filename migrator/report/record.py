"""What each command adds to the migration's inventory and KPI history (migrator.state.tracking),
and what ``vaultshift status`` reads back: the glue between the commands and the store.

Where the inventory is: the configuration's ``tracking:`` section, else the state directory::

    tracking:
      url: postgresql://vaultshift@db.internal/migrations  # a team's store (default: STATE_DIR/inventory.sqlite)
      migration: payments-2026                             # one store, several migrations (default "default")
      targets: {rotation_coverage: 0.9, max_age_days: 90, too_old_share: 0.0, adoption: 1.0}

Recording never fails a command: a store that cannot be written is one warning line on stderr,
and the command's own work stands. Nothing recorded holds a value.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from migrator.config import Config, ConfigError

if TYPE_CHECKING:
    from migrator.backends.base import Backend
    from migrator.discover.models import ScanResult
    from migrator.git.history import HistoryScan
    from migrator.plan.models import Plan
    from migrator.report.gates import PhaseStatus
    from migrator.report.kpis import MigrationKpis
    from migrator.state.tracking import Tracker

SECTION = "tracking"


def tracking_target(config: Config | None, state_dir: str | os.PathLike[str]) -> tuple[str, str]:
    """Where the inventory is (a URL, or the state directory) and the migration's name."""
    raw: Any = (config.extra.get(SECTION) if config is not None else None) or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{config.source if config else 'configuration'}: '{SECTION}' must be a mapping")
    url, migration = raw.get("url"), raw.get("migration", "default")
    if url is not None and not isinstance(url, str):
        raise ConfigError(f"{config.source if config else 'configuration'}: {SECTION}.url must be a URL")
    return (url or os.fspath(state_dir)), str(migration)


@contextmanager
def _tracker(config: Config | None, state_dir: str | os.PathLike[str], what: str) -> Iterator[Tracker | None]:
    """The inventory, or None (and one warning line) when it cannot be opened or written."""
    from migrator.state.tracking import Tracker, TrackingError

    try:
        target, migration = tracking_target(config, state_dir)
        tracker = Tracker.open(target, migration)
    except (TrackingError, ConfigError) as exc:
        print(f"vaultshift: warning: {what} not recorded in the inventory: {exc}", file=sys.stderr)
        yield None
        return
    try:
        yield tracker
    except TrackingError as exc:
        print(f"vaultshift: warning: {what} not recorded in the inventory: {exc}", file=sys.stderr)
    finally:
        tracker.close()


def record_scan(config: Config | None, state_dir: str | os.PathLike[str], result: ScanResult,
                roots: Sequence[str | os.PathLike[str]]) -> None:
    """A scan of ``roots`` (its findings' paths are relative to them: one root at a time)."""
    with _tracker(config, state_dir, "the scan") as tracker:
        if tracker is None:
            return
        if len(roots) == 1:
            tracker.record_scan(result, roots[0])
            return
        for root in roots:  # several trees: each finding's path starts with its tree's name
            name = os.path.basename(os.path.normpath(os.fspath(root)))
            mine = [f for f in result.findings if f.path == name or f.path.startswith(name + "/")]
            tracker.record_scan(mine, os.path.dirname(os.path.abspath(os.fspath(root))))


def record_history(config: Config | None, state_dir: str | os.PathLike[str], repo: str | os.PathLike[str],
                   history: HistoryScan, head: str) -> None:
    """A history scan of ``repo`` at ``head``: what phase 1's "no new secret since" rests on."""
    from migrator.state.tracking import newest_introduction

    with _tracker(config, state_dir, "the history scan") as tracker:
        if tracker is not None:
            tracker.record_history_scan(repo, head, len(history.result.findings), newest_introduction(history))


def record_guard(config: Config | None, state_dir: str | os.PathLike[str], repo: str | os.PathLike[str],
                 hook: str) -> None:
    with _tracker(config, state_dir, "the guard") as tracker:
        if tracker is not None:
            tracker.record_guard(repo, hook)


def record_progress(config: Config, state_dir: str | os.PathLike[str], plan: Plan, source: str,
                    backends: Mapping[str, Backend] | None = None,
                    groups: Mapping[str, str] | None = None, states: bool = True) -> MigrationKpis | None:
    """Where ``plan`` stands after ``source`` (plan, apply, rollback, rotate, status): its states in
    the inventory and a KPI data point. Ages are read from ``backends`` (a read per stored path);
    without them they are unknown in this point: apply and rotate leave them to ``status``, so
    as not to read every secret again, and with ``states`` False only add the point (each
    secret's and occurrence's state is then brought up to date by the next ``status``). The
    KPIs, or None when they could not be measured (one warning line)."""
    from migrator.report.kpis import MeasureError, measure_progress

    with _tracker(config, state_dir, f"the {source}") as tracker:
        if tracker is None:
            return None
        if not os.path.isdir(state_dir):  # nothing applied yet: every occurrence is plaintext
            tracker.record_plan(plan, groups)
            return None
        try:
            kpis, progress = measure_progress(plan, state_dir, backends, groups=groups,
                                              engine=_engine(config, backends))
        except MeasureError as exc:
            print(f"vaultshift: warning: the {source} not recorded in the inventory: {exc}", file=sys.stderr)
            return None
        if states:
            tracker.record_progress(plan, stored=progress.stored, migrated=progress.migrated,
                                    rotations=dict(progress.rotations), groups=groups)
        tracker.record_kpis(source, kpis)
        return kpis
    return None


def _engine(config: Config, backends: Mapping[str, Backend] | None) -> Any:
    """The database engine static roles' ages are read from, when rotation is configured."""
    from migrator.rotate.database import rotation_engine

    return rotation_engine(config, dict(backends)) if backends else None


def status(config: Config, state_dir: str | os.PathLike[str]) -> tuple[list[PhaseStatus], list[dict[str, Any]]]:
    """The phase gates and the KPI points (oldest first), as the reports take them."""
    from migrator.report.gates import TrackedRepo, evaluate, targets_from_config
    from migrator.report.status import age_histogram
    from migrator.state.tracking import Tracker

    target, migration = tracking_target(config, state_dir)
    with Tracker.open(target, migration) as tracker:
        points = []
        for point in tracker.points():
            values: dict[str, Any] = {"hardcoded": point.inventory.get("hardcoded", 0),
                                      "hardcoded_by_group": point.inventory.get("hardcoded_by_group", {}),
                                      "hardcoded_by_repo": point.inventory.get("hardcoded_by_repo", {})}
            values.update(point.kpis)
            if point.kpis:
                values["age_histogram"] = age_histogram(point.kpis.get("ages_days", ()),
                                                        int(point.kpis.get("age_unknown", 0)))
            values.update(time=point.at, source=point.source)
            points.append(values)
        guards: dict[str, list[Any]] = {}
        for guard in tracker.guards():
            if guard.active:
                guards.setdefault(guard.repo, []).append(guard)
        latest = {scan.repo: scan for scan in tracker.history_scans()}  # in time order: the latest wins
        repos = []
        for repo in sorted(set(guards) | set(latest)):  # git repositories: guarded or history-scanned
            mine, last = guards.get(repo, []), latest.get(repo)
            repos.append(TrackedRepo(repo, tuple(g.hook for g in mine),
                                     max((g.installed_at for g in mine), default=None),
                                     last.scanned_at if last else None, last.newest_introduced if last else None))
    return evaluate(points, repos, targets_from_config(config)), points
