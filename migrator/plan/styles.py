"""What each occurrence becomes: its reference style, by the file it is in.

The rule, first match wins:

1. a ``styles:`` entry of the configuration: ``{match: {path: ..., host: ..., host_group: ...,
   kind: ...}, style: ansible-lookup | agent-template | agent-env | terraform}`` (the ``match``
   keys of routes);
2. Jinja templates (``*.j2``, ``*.jinja2``, ``*.jinja``) -> ``ansible-lookup``;
3. Ansible variables: any file under a ``group_vars`` or ``host_vars`` directory, a YAML file
   (``*.yml``, ``*.yaml``, ``*.json``) under a ``vars``, ``defaults``, ``inventory``,
   ``inventories`` or ``roles`` directory, and the ``--inventory`` file itself ->
   ``ansible-lookup``;
4. env files (``.env``, ``.env.*``, ``*.env``) -> ``agent-env``;
5. Terraform (``*.tf``, ``*.tfvars``, ``*.tf.json``, ``*.tfvars.json``) -> ``terraform``;
6. every other file -> ``agent-template`` (a Vault/OpenBao agent renders the whole file).

Directory names are compared case-insensitively, on the path inside the tree and the tree's own
name (so ``vaultshift plan group_vars/`` still reads as Ansible variables).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from typing import Any

from migrator.config import Config, ConfigError
from migrator.plan.models import ReferenceStyle
from migrator.plan.routing import Matcher, Target

_JINJA = ("*.j2", "*.jinja2", "*.jinja")
_ANSIBLE_ANY = frozenset({"group_vars", "host_vars"})
_ANSIBLE_YAML = frozenset({"vars", "defaults", "inventory", "inventories", "roles"})
_YAML = ("*.yml", "*.yaml", "*.json")
_ENV = (".env", ".env.*", "*.env")
_TERRAFORM = ("*.tf", "*.tfvars", "*.tf.json", "*.tfvars.json")


def _named(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def default_style(path: str, root_name: str = "", is_inventory: bool = False) -> ReferenceStyle:
    """The built-in rule (2 to 6 above) for a file at ``path`` (posix, relative to its tree)."""
    parts = [p.lower() for p in path.split("/")]
    name = parts[-1]
    dirs = {root_name.lower(), *parts[:-1]}
    if _named(name, _JINJA):
        return ReferenceStyle.ANSIBLE_LOOKUP
    if is_inventory or dirs & _ANSIBLE_ANY or (dirs & _ANSIBLE_YAML and _named(name, _YAML)):
        return ReferenceStyle.ANSIBLE_LOOKUP
    if _named(name, _ENV):
        return ReferenceStyle.AGENT_ENV
    if _named(name, _TERRAFORM):
        return ReferenceStyle.TERRAFORM
    return ReferenceStyle.AGENT_TEMPLATE


class StyleRules:
    """The configuration's ``styles:`` overrides, then the built-in rule."""

    def __init__(self, config: Config, inventory_file: str | None = None) -> None:
        self.inventory_file = os.path.realpath(inventory_file) if inventory_file else None
        raw: Any = config.extra.get("styles") or []
        if not isinstance(raw, list):
            raise ConfigError(f"{config.source}: 'styles' must be a list of {{match: ..., style: ...}}")
        choices = [str(s) for s in ReferenceStyle]
        self.rules: list[tuple[Matcher, ReferenceStyle]] = []
        for number, entry in enumerate(raw, 1):
            where = f"{config.source}: styles entry {number}"
            if not isinstance(entry, dict):
                raise ConfigError(f"{where}: must be a mapping {{match: ..., style: ...}}")
            unknown = sorted(str(k) for k in entry if k not in ("match", "style"))
            if unknown:
                raise ConfigError(f"{where}: unknown key {unknown[0]!r} (an entry has match and style)")
            style = entry.get("style")
            if style not in choices:
                raise ConfigError(f"{where}: style {style!r} is not one of {', '.join(choices)}")
            self.rules.append((Matcher(entry.get("match") or {}, where), ReferenceStyle(style)))

    def style(self, target: Target, root_name: str, file: str) -> ReferenceStyle:
        """``file`` is the occurrence's file on disk (to recognise the inventory)."""
        for matcher, style in self.rules:
            if matcher.matches(target):
                return style
        is_inventory = self.inventory_file is not None and os.path.realpath(file) == self.inventory_file
        return default_style(target.path, root_name, is_inventory)
