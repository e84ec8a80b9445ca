"""An Ansible inventory, read for hosts and their groups only (never for variables).

Both of Ansible's static formats are understood:

- YAML: ``{group: {hosts: {name: vars}, children: {group: ...}, vars: {...}}}`` at any depth,
  usually under ``all``;
- INI: ``[group]`` sections of host lines (``web1 ansible_host=10.0.0.5``), ``[group:children]``
  sections of group names, ``[group:vars]`` sections (ignored), host lines before any section
  (ungrouped).

Host ranges (``web[01:03].example.org``, ``db-[a:c]``, ``[0:10:2]``) are expanded as Ansible does.
A host belongs to every group that lists it, to those groups' parents, to ``all``, and to
``ungrouped`` when no other group lists it. Its *first group* (the ``{group}`` placeholder) is
the first group in file order that lists it directly, other than ``all`` and ``ungrouped``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_RANGE = re.compile(r"\[([0-9]+|[a-zA-Z]):([0-9]+|[a-zA-Z])(?::([0-9]+))?\]")
_MAX_HOSTS = 100_000
_GROUP_KEYS = frozenset({"hosts", "children", "vars"})
_IMPLICIT = ("all", "ungrouped")


class InventoryError(ValueError):
    """The inventory cannot be used; the message is one line naming the file."""


class _Loader(yaml.SafeLoader):
    """Safe loading that reads custom tags (``!vault |`` variables) as plain values."""


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_multi_constructor("!", _untagged)


@dataclass(frozen=True, slots=True)
class Inventory:
    source: str
    groups_of: dict[str, frozenset[str]]  # host -> every group it belongs to (with all / ungrouped)
    first_group: dict[str, str]  # host -> its first explicit group ("" when none)

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset(self.groups_of)

    def groups(self, host: str) -> frozenset[str]:
        return self.groups_of.get(host, frozenset())

    def group(self, host: str) -> str:
        return self.first_group.get(host, "")


def expand_hosts(pattern: str) -> list[str]:
    """``web[01:03]`` -> ``web01 web02 web03``; several ranges multiply; no range: the name."""
    match = _RANGE.search(pattern)
    if match is None:
        return [pattern]
    start, end, step_text = match.groups()
    step = int(step_text) if step_text else 1
    if step < 1:
        raise ValueError(f"host range {pattern!r}: the step must be at least 1")
    if start.isdigit() != end.isdigit():
        raise ValueError(f"host range {pattern!r}: both ends must be numbers, or both letters")
    if start.isdigit():
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        items = [str(n).zfill(width) for n in range(int(start), int(end) + 1, step)]
    else:
        items = [chr(n) for n in range(ord(start), ord(end) + 1, step)]
    if not items:
        raise ValueError(f"host range {pattern!r}: the range is empty")
    head, tail = pattern[: match.start()], pattern[match.end():]
    hosts: list[str] = []
    for item in items:
        hosts.extend(expand_hosts(head + item + tail))
        if len(hosts) > _MAX_HOSTS:
            raise ValueError(f"host range {pattern!r}: more than {_MAX_HOSTS} hosts")
    return hosts


class _Builder:
    """Groups, their direct hosts and children, in file order."""

    def __init__(self) -> None:
        self.direct: dict[str, list[str]] = {}  # group -> hosts it lists
        self.children: dict[str, list[str]] = {}
        self.order: list[str] = []  # hosts in first-seen order

    def group(self, name: str) -> None:
        self.direct.setdefault(name, [])
        self.children.setdefault(name, [])

    def host(self, group: str, pattern: str) -> None:
        self.group(group)
        for host in expand_hosts(pattern):
            if host not in self.direct[group]:
                self.direct[group].append(host)
            if host not in self.order:
                self.order.append(host)

    def child(self, parent: str, child: str) -> None:
        self.group(parent)
        self.group(child)
        if child not in self.children[parent]:
            self.children[parent].append(child)

    def build(self, source: str) -> Inventory:
        parents: dict[str, set[str]] = {}
        for parent, kids in self.children.items():
            for kid in kids:
                parents.setdefault(kid, set()).add(parent)
        groups_of: dict[str, frozenset[str]] = {}
        first: dict[str, str] = {}
        for host in self.order:
            listed = [g for g, hosts in self.direct.items() if host in hosts]
            explicit = [g for g in listed if g not in _IMPLICIT]
            found: set[str] = set()
            todo = list(listed)
            while todo:
                group = todo.pop()
                if group not in found:
                    found.add(group)
                    todo.extend(parents.get(group, ()))
            found.add("all")
            if not (found - set(_IMPLICIT)):
                found.add("ungrouped")
            groups_of[host] = frozenset(found)
            first[host] = explicit[0] if explicit else ""
        return Inventory(source, groups_of, first)


def _yaml_group(builder: _Builder, name: str, body: Any, source: str) -> None:
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InventoryError(f"{source}: group {name!r}: must be a mapping of hosts, children and vars")
    unknown = sorted(str(k) for k in body if k not in _GROUP_KEYS)
    if unknown:
        raise InventoryError(f"{source}: group {name!r}: unexpected key {unknown[0]!r} "
                             "(a group has hosts, children and vars)")
    builder.group(name)
    hosts = body.get("hosts") or {}
    if not isinstance(hosts, dict):
        raise InventoryError(f"{source}: group {name!r}: 'hosts' must be a mapping of host names")
    for host in hosts:
        builder.host(name, str(host))
    children = body.get("children") or {}
    if not isinstance(children, dict):
        raise InventoryError(f"{source}: group {name!r}: 'children' must be a mapping of group names")
    for child, child_body in children.items():
        builder.child(name, str(child))
        _yaml_group(builder, str(child), child_body, source)


def parse_yaml(data: Any, source: str) -> Inventory:
    if not isinstance(data, dict):
        raise InventoryError(f"{source}: a YAML inventory is a mapping of groups (usually under 'all')")
    builder = _Builder()
    try:
        for name, body in data.items():
            _yaml_group(builder, str(name), body, source)
    except ValueError as exc:
        if isinstance(exc, InventoryError):
            raise
        raise InventoryError(f"{source}: {exc}") from None
    return builder.build(source)


def parse_ini(text: str, source: str) -> Inventory:
    builder = _Builder()
    group, section = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3:
                raise InventoryError(f"{source}: line {number}: a section header is [group], [group:children] "
                                     "or [group:vars]")
            name, _, kind = line[1:-1].strip().partition(":")
            if kind not in ("", "children", "vars") or not name:
                raise InventoryError(f"{source}: line {number}: unknown section kind {kind!r} "
                                     "(use [group], [group:children] or [group:vars])")
            group, section = name, kind or "hosts"
            builder.group(group)
            continue
        if section == "vars":
            continue
        token = line.split()[0]
        try:
            if section == "children":
                builder.child(group, token)
            else:
                builder.host(group, token)
        except ValueError as exc:
            raise InventoryError(f"{source}: line {number}: {exc}") from None
    return builder.build(source)


def load_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Read a YAML or INI inventory; InventoryError (one line) when it cannot be used."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InventoryError(f"{source}: cannot read inventory: not UTF-8 text") from None
    except OSError as exc:
        raise InventoryError(f"{source}: cannot read inventory: {exc.strerror or exc}") from None
    suffix = Path(path).suffix.lower()
    if suffix in (".yml", ".yaml", ".json"):
        try:
            data = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise InventoryError(f"{source}: not valid YAML{where}") from None
        return parse_yaml(data or {}, source)
    # No telling extension (``hosts``, ``inventory``): YAML when it reads as a mapping, else INI.
    try:
        data = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.YAMLError:
        data = None
    if isinstance(data, dict) and all(v is None or isinstance(v, dict) for v in data.values()):
        return parse_yaml(data, source)
    return parse_ini(text, source)
