"""Plans from fleet scans: what ``vaultshift.secrets.scan`` found on each host, planned as if
``vaultshift plan HOST=ROOT`` had scanned the files itself.

A scan result (one per host) holds no value: ``host``, ``root`` (the host's file system root the
scan looked under, ``/`` on a real host) and ``findings``, each a finding's dict
(:meth:`migrator.discover.models.Finding.to_dict`, ``path`` as the host sees it) with the keyed
``file_digest`` of the bytes its spans refer to. The digests and fingerprints must come from the
same key as the plan's (``key_id`` of each result): a plan mixing keys could not tell one secret
on two hosts from two secrets.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from migrator.config import Config, ConfigError
from migrator.discover.models import Confidence, Finding, ScanError, Span
from migrator.plan.inventory import Inventory
from migrator.plan.planner import Collected, Located, Planner, PlanOutcome


class FleetScanError(ValueError):
    """A scan result that cannot be planned (one line naming the host and the item)."""


def finding_from_dict(data: Mapping[str, Any]) -> Finding:
    """The finding a scan result's dict describes (KeyError / ValueError when it cannot)."""
    span = Span(int(data["line"]), int(data["column"]), int(data["end_line"]), int(data["end_column"]),
                int(data["start_byte"]), int(data["end_byte"]))
    return Finding(str(data["path"]), span, str(data.get("key_path") or ""), str(data["kind"]), str(data["rule"]),
                   Confidence.parse(str(data["confidence"])), str(data["fingerprint"]), str(data["hint"]),
                   str(data["reader"]))


def collected_from_scans(scans: Iterable[Mapping[str, Any]], key_id: str) -> Collected:
    """Every host's findings, located on its host (``host``, ``root``, the path below it)."""
    collected = Collected()
    roots: set[str] = set()
    for number, scan in enumerate(scans, 1):
        host = str(scan.get("host") or "")
        where = f"scan result {number}" + (f" (host {host})" if host else "")
        if not host:
            raise FleetScanError(f"{where}: no host name")
        if scan.get("key_id") not in (None, key_id):
            raise ConfigError(f"{where}: made with fingerprint key {scan.get('key_id')}, not this plan's "
                              f"{key_id}: scan and plan with the same VAULTSHIFT_FINGERPRINT_KEY")
        root = str(scan.get("root") or "/")
        roots.add(f"{host}:{root}")
        for item in scan.get("findings") or []:
            try:
                finding = finding_from_dict(item)
                digest = str(item["file_digest"])
            except (KeyError, TypeError, ValueError) as exc:
                raise FleetScanError(f"{where}: a finding without {exc}") from None
            path = posixpath.normpath("/" + finding.path).lstrip("/")
            collected.located.append(Located(finding, root, path, host, digest))
        for error in scan.get("errors") or []:
            path, _, reason = str(error).partition(": ")
            collected.errors.append(ScanError(f"{host}:{path}", reason or "not scanned"))
    collected.stats.findings = len(collected.located)
    collected.roots = tuple(sorted(roots))
    return collected


def inventory_from_groups(groups: Mapping[str, Iterable[str]], source: str = "the play's inventory") -> Inventory:
    """An inventory from Ansible's ``groups`` variable (group -> hosts, in the inventory's order):
    each host's groups, and its first group other than ``all`` and ``ungrouped`` (naming's
    ``{group}``)."""
    groups_of: dict[str, set[str]] = {}
    first: dict[str, str] = {}
    for group, hosts in groups.items():
        for host in hosts:
            groups_of.setdefault(str(host), {"all"}).add(str(group))
            if group not in ("all", "ungrouped"):
                first.setdefault(str(host), str(group))
    return Inventory(source, {host: frozenset(names) for host, names in groups_of.items()},
                     {host: first.get(host, "") for host in groups_of})


def plan_from_scans(scans: Iterable[Mapping[str, Any]], config: Config, key_id: str,
                    groups: Mapping[str, Iterable[str]] | None = None) -> PlanOutcome:
    """The plan of a fleet's scan results: identical values on any host are one secret, named,
    routed (by host, group, path or kind) and styled as ``vaultshift plan`` would."""
    inventory = inventory_from_groups(groups) if groups else None
    planner = Planner(None, None, config, key_id, inventory)
    return planner.build(collected_from_scans(scans, key_id))
