"""The planner: scan the sources, group identical values, name, route and style them => Plan.

Sources are paths (a directory tree or a file) and optionally the inventory host each one is
(``Source("/srv/fleet/web1", host="web1")``). With an inventory, a path without a host gets one
from its directories: the first directory, from the tree's own down to the file's, that is named
after an inventory host (``fleet/web01/etc/app.yml`` is on ``web01``), skipping Ansible's
``group_vars`` and ``host_vars`` (variables *about* a host live in the control repository, not on
it). A host's directory is the root of its occurrences' paths (``etc/app.yml``), so it mirrors
the host's file system.

Each file with findings is digested (``migrator.plan.digest``) from the very bytes that were
scanned, so an occurrence's span and its file digest always describe the same content.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from migrator.config import Config
from migrator.discover.models import Finding, ScanError, ScanStats
from migrator.discover.scanner import Scanner
from migrator.discover.walker import SourceFile, walk
from migrator.plan.digest import FileDigester
from migrator.plan.inventory import Inventory
from migrator.plan.models import Occurrence, Plan, PlannedSecret, ReferenceStyle, SecretRef
from migrator.plan.naming import NamingContext, NamingScheme
from migrator.plan.routing import Route, Router, Target
from migrator.plan.styles import StyleRules

ProgressCallback = Callable[[int, int, str], None]
_HOST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]*$")
_VARS_DIRS = frozenset({"group_vars", "host_vars"})
_AGENT_STYLES = (ReferenceStyle.AGENT_TEMPLATE, ReferenceStyle.AGENT_ENV)  # rendered by a Vault/OpenBao agent


class SourceError(ValueError):
    """The sources cannot be planned together (one line)."""


@dataclass(frozen=True, slots=True)
class Source:
    path: str  # as given
    host: str = ""


def parse_source(text: str) -> Source:
    """``PATH`` or ``HOST=PATH`` (a path that exists as written is always a path)."""
    host, sep, path = text.partition("=")
    if sep and not os.path.lexists(text):
        if not _HOST.match(host) or not path:
            raise SourceError(f"{text!r}: give a PATH, or HOST=PATH with a host name of letters, digits, "
                              "'.', '-', '_'")
        return Source(path, host)
    return Source(text)


@dataclass(frozen=True, slots=True)
class Located:
    """A finding, and where its file is: ``root`` (absolute directory) / ``path`` (posix)."""

    finding: Finding
    root: str
    path: str
    host: str
    file_digest: str


@dataclass(slots=True)
class Collected:
    located: list[Located] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)
    roots: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    plan: Plan
    stats: ScanStats
    renamed: int = 0
    conflicts: int = 0

    @property
    def incomplete(self) -> bool:
        """Content was left unscanned (an error, not a note)."""
        return any(error.get("severity") == "error" for error in self.plan.errors)


def single_root(occurrences: Sequence[Occurrence]) -> bool:
    """Whether the occurrences not on a host all sit in one tree (labels can then be relative)."""
    return len({o.root for o in occurrences if not o.host}) <= 1


def occurrence_label(occurrence: Occurrence, one_tree: bool) -> str:
    """How summaries and notes name an occurrence's file: ``host:path``, the path in the only
    tree, or the file's absolute path when there are several trees."""
    if occurrence.host:
        return f"{occurrence.host}:{occurrence.path}"
    return occurrence.path if one_tree else occurrence.file


class Planner:
    """Builds a Plan; ConfigError (one line) at construction when the configuration cannot be used.
    ``scanner`` and ``digester`` scan local sources (:meth:`plan`, :meth:`collect`); a plan built
    from findings located elsewhere (:mod:`migrator.plan.fleet`) needs neither."""

    def __init__(self, scanner: Scanner | None, digester: FileDigester | None, config: Config, key_id: str,
                 inventory: Inventory | None = None, inventory_file: str | None = None) -> None:
        self.scanner = scanner
        self.digester = digester
        self.config = config
        self.key_id = key_id
        self.inventory = inventory
        self.naming = NamingScheme(config.naming, config.source)
        self.router = Router(config)
        self.styles = StyleRules(config, inventory_file)
        self._hosts = {h.lower(): h for h in inventory.hosts} if inventory is not None else {}

    def plan(self, sources: Sequence[Source], progress: ProgressCallback | None = None) -> PlanOutcome:
        return self.build(self.collect(sources, progress))

    # -- scanning ---------------------------------------------------------------------------------
    def _resolve(self, sources: Sequence[Source]) -> list[tuple[Source, str]]:
        """Each source with its absolute path, sorted, duplicates dropped; overlaps refused."""
        unique: dict[str, Source] = {}
        for source in sources:
            if source.host and self.inventory is not None and source.host not in self.inventory.hosts:
                raise SourceError(f"{source.host}={source.path}: host {source.host!r} is not in the inventory "
                                  f"{self.inventory.source}")
            absolute = os.path.abspath(source.path)
            known = unique.get(absolute)
            if known is not None and known.host != source.host:
                raise SourceError(f"{source.path}: given twice, for hosts {known.host or '(none)'!r} "
                                  f"and {source.host or '(none)'!r}")
            unique.setdefault(absolute, source)
        ordered = sorted(unique.items())
        for outer, outer_source in ordered:
            for inner, inner_source in ordered:
                if inner != outer and inner.startswith(outer.rstrip(os.sep) + os.sep):
                    raise SourceError(f"{inner_source.path} is inside {outer_source.path}: give each tree once")
        return [(source, absolute) for absolute, source in ordered]

    def _host_of(self, host: str, root: str, path: str) -> tuple[str, str, str]:
        """(host, root, path): with an inventory, a directory named after a host becomes the root."""
        if host or not self._hosts:
            return host, root, path
        named = self._hosts.get(os.path.basename(root).lower())
        if named:
            return named, root, path
        parts = path.split("/")
        for index, part in enumerate(parts[:-1]):
            if part.lower() in _VARS_DIRS:
                break
            named = self._hosts.get(part.lower())
            if named:
                return named, os.path.join(root, *parts[: index + 1]), "/".join(parts[index + 1:])
        return "", root, path

    def collect(self, sources: Sequence[Source], progress: ProgressCallback | None = None) -> Collected:
        """Walk and scan every source (as ``vaultshift scan`` would: same display paths, so a
        baseline made from the same PATHs applies), and locate each finding."""
        if self.scanner is None:
            raise TypeError("this planner has no scanner: it builds plans from located findings only")
        resolved = self._resolve(sources)
        collected = Collected(roots=tuple(absolute for _, absolute in resolved))
        stats = collected.stats
        several = len(resolved) > 1
        files: list[tuple[SourceFile, str, str, str]] = []  # (source file, root, path, host)
        for source, absolute in resolved:
            is_dir = os.path.isdir(source.path)
            given = source.path.replace(os.sep, "/").rstrip("/")
            prefix = "" if not (several and is_dir) or given in ("", ".") else given.removeprefix("./") + "/"
            for item in walk([source.path], self.scanner.options.walk):
                if isinstance(item, ScanError):
                    if prefix and item.path != source.path.replace(os.sep, "/"):
                        item = ScanError(prefix + item.path, item.reason, item.fatal)
                    collected.errors.append(item)
                    stats.files_skipped += 1
                    stats.skipped_reasons["error"] = stats.skipped_reasons.get("error", 0) + 1
                    continue
                if is_dir:
                    root, path = absolute, item.display
                else:
                    root, path = os.path.dirname(absolute), os.path.basename(absolute)
                host, root, path = self._host_of(source.host, root, path)
                files.append((SourceFile(item.path, prefix + item.display, item.size), root, path, host))
        total = len(files)
        for number, (source_file, root, path, host) in enumerate(files, 1):
            if progress is not None:
                progress(number, total, source_file.display)
            self._scan_file(source_file, root, path, host, collected)
        stats.findings = len(collected.located)
        return collected

    def _scan_file(self, source: SourceFile, root: str, path: str, host: str, collected: Collected) -> None:
        assert self.scanner is not None and self.digester is not None
        scanned = self.scanner.scan_file(source, collected.stats, collected.errors)
        if scanned is None:
            return
        if scanned.findings:
            digest = self.digester(scanned.data)  # the bytes the spans were found in
            collected.located.extend(Located(f, root, path, host, digest) for f in scanned.findings)

    # -- planning ---------------------------------------------------------------------------------
    def _target(self, located: Located) -> Target:
        groups = self.inventory.groups(located.host) if self.inventory is not None and located.host else frozenset()
        return Target(located.path, located.finding.kind, located.host, groups)

    def _context(self, located: Located) -> NamingContext:
        group = self.inventory.group(located.host) if self.inventory is not None and located.host else ""
        return NamingContext(os.path.basename(located.root), located.path, located.finding.key_path,
                             located.finding.kind, located.host, group)

    def _suffixed(self, ref: tuple[str, str], number: int) -> tuple[str, str]:
        path, field_name = ref
        if self.naming.keyed:
            return f"{path}-{number}", field_name
        return path, f"{field_name}_{number}"

    def build(self, collected: Collected) -> PlanOutcome:
        by_value: dict[str, dict[tuple[str, str, int, int], Located]] = {}
        for located in collected.located:
            spot = (located.root, located.path, located.finding.span.start, located.finding.span.end)
            by_value.setdefault(located.finding.fingerprint, {}).setdefault(spot, located)
        groups = [[spots[k] for k in sorted(spots)] for spots in by_value.values()]
        state_notes = _state_file_notes(groups)
        groups = [kept for kept in ([g for g in group if not is_terraform_state(g.path)] for group in groups) if kept]
        groups.sort(key=lambda g: (g[0].root, g[0].path, g[0].finding.span.start, g[0].finding.fingerprint))
        one_tree = len({located.root for group in groups for located in group if not located.host}) <= 1

        natural = [self.naming.render(self._context(group[0])) for group in groups]
        reserved = set(natural)
        used: dict[tuple[str, str], str] = {}  # ref -> where its value is first
        notes: list[str] = list(state_notes)
        secrets: list[PlannedSecret] = []
        renamed = conflicts = 0
        for group, ref in zip(groups, natural, strict=True):
            occurrences = [self._occurrence(located) for located in group]
            first = occurrences[0]
            where = f"{occurrence_label(first, one_tree)}:{first.line}"
            if ref in used:
                taken_by = used[ref]
                number = 2
                while self._suffixed(ref, number) in reserved or self._suffixed(ref, number) in used:
                    number += 1
                clash = ref
                ref = self._suffixed(ref, number)
                renamed += 1
                notes.append(f"renamed {ref[0]}#{ref[1]} (value first at {where}): {clash[0]}#{clash[1]} "
                             f"already names the value first at {taken_by}")
            used[ref] = where

            routes = [self.router.route(self._target(located)) for located in group]
            chosen = routes[0]
            others: dict[Route, Occurrence] = {}
            for route, occurrence in zip(routes, occurrences, strict=True):
                if route.backend != chosen.backend:
                    others.setdefault(route, occurrence)
            if others:
                conflicts += 1
                detail = "; ".join(f"{occurrence_label(o, one_tree)}:{o.line} matches {r} ({r.backend})"
                                   for r, o in others.items())
                notes.append(f"routing conflict for {ref[0]}#{ref[1]}: stored in {chosen.backend} ({chosen}, "
                             f"by its first occurrence at {where}), but {detail}")
            if self.config.backends.get(chosen.backend, {}).get("type", "vault") != "vault":
                agent_read = [o for o in occurrences if o.style in _AGENT_STYLES]
                if agent_read:
                    shown = ", ".join(f"{occurrence_label(o, one_tree)}:{o.line}" for o in agent_read[:3])
                    more = f" and {len(agent_read) - 3} more" if len(agent_read) > 3 else ""
                    notes.append(f"{ref[0]}#{ref[1]} goes to {chosen.backend}, which a Vault/OpenBao agent cannot "
                                 f"read, but {shown}{more} would be rendered by one: apply stores the secret and "
                                 "leaves such files as they are; route their secrets to a vault backend (routes:) "
                                 "or give them the ansible-lookup style (styles:)")
            finding = group[0].finding
            secrets.append(PlannedSecret(finding.fingerprint, finding.kind, SecretRef(chosen.backend, *ref),
                                         tuple(occurrences), finding.hint))

        secrets.sort(key=lambda s: (s.ref.path, s.ref.field))
        errors = sorted({(e.path, e.reason, e.severity) for e in collected.errors})
        plan = Plan(tuple(secrets), collected.roots, self.key_id, self.naming.scheme,
                    tuple({"path": p, "reason": r, "severity": s} for p, r, s in errors), tuple(notes))
        return PlanOutcome(plan, collected.stats, renamed, conflicts)

    def _occurrence(self, located: Located) -> Occurrence:
        finding = located.finding
        style = self.styles.style(self._target(located), os.path.basename(located.root),
                                  os.path.join(located.root, located.path))
        return Occurrence(located.path, finding.span.start, finding.span.end, finding.span.line, finding.key_path,
                          finding.reader, style, located.file_digest, located.host, located.root)


_STATE_FILES = ("*.tfstate", "*.tfstate.backup", "*.tfstate.*.backup")


def is_terraform_state(path: str) -> bool:
    """Terraform state (``terraform.tfstate``, its backups): Terraform writes it, so its secrets
    are reported and never rewritten."""
    name = os.path.basename(path).lower()
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _STATE_FILES)


def _state_file_notes(groups: list[list[Located]]) -> list[str]:
    """One note per Terraform state file that holds planned values (they are left out of the plan)."""
    held: dict[str, int] = {}
    for group in groups:
        for located in group:
            if is_terraform_state(located.path):
                where = os.path.join(os.path.basename(located.root), located.path) if located.root else located.path
                held[where] = held.get(where, 0) + 1
    return [f"{path}: Terraform state holds {count} secret value(s) in plaintext; state is reported, never "
            "rewritten: once the code that put them there reads them from the vault (the vaultshift provider, an "
            "ephemeral resource where it can), rotate them and apply, so the state stops holding the old values"
            for path, count in sorted(held.items())]

