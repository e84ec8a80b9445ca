"""Switching a migrated secret's references from its KV path to the database engine's credentials.

After ``vaultshift apply`` a secret's places say where the value lives, in one of two forms that
vaultshift itself wrote:

- an Ansible lookup in the file: ``lookup('vaultshift.secrets.secret', 'apps/web/db#password')``
  (quotes doubled inside a YAML single-quoted scalar);
- an agent action in the file's companions (the ``.ctmpl`` template, or an ``env_template`` in
  the agent's ``.agent.hcl``, HCL-escaped there):
  ``{{ with secret "secret/data/apps/web/db" }}{{ .Data.data.password | ... }}{{ end }}``.

A switch replaces exactly those texts for one reference by the same text for another (a static
role's ``static-creds/ROLE``, a dynamic role's ``creds/ROLE``, or back), keeping every other byte
and any template pipeline after the value. For a dynamic role the username changes with every
lease, so the literal username next to the password becomes an action of the same secret (one
``with secret`` path in a template is one read: username and password come from one lease);
that is possible only where an agent renders the username's text too (the template of the whole
file, or the env_template of a variable holding both, a connection URL). Nothing here reads or
writes files or sees a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from migrator.plan.models import SecretRef
from migrator.rewrite.agent_config import hcl_string, secret_action
from migrator.rewrite.ansible_lookup import expression
from migrator.rewrite.base import MARKER, KvMount

_ACTION_END = " }}{{ end }}"


class SwitchError(ValueError):
    """A reference cannot be switched here (one line; names the file and the reason)."""


@dataclass(frozen=True, slots=True)
class Switch:
    """Change references to ``old`` into references to ``new``. ``mounts`` maps backend names to
    how agent templates read them; ``default_backend`` is the one lookups leave unnamed."""

    old: SecretRef
    new: SecretRef
    mounts: Mapping[str, KvMount]
    default_backend: str

    def reversed(self) -> Switch:
        return Switch(self.new, self.old, self.mounts, self.default_backend)

    # -- the texts -------------------------------------------------------------------------------
    def lookups(self, ref: SecretRef) -> list[str]:
        """The lookup expressions vaultshift writes for ``ref`` (plain, and quotes doubled)."""
        text = expression(ref.path.strip("/"), ref.field, ref.backend if ref.backend != self.default_backend else None)
        return [text, text.replace("'", "''")]

    def action_prefix(self, ref: SecretRef, field: str | None = None) -> str:
        """``{{ with secret "API" }}{{ VALUE`` of ``ref`` (its ``field``, or another one)."""
        mount = self.mounts.get(ref.backend)
        if mount is None:
            raise SwitchError(f"backend {ref.backend!r} is not one agent templates can read")
        action = secret_action(mount, SecretRef(ref.backend, ref.path, field or ref.field))
        return action[: -len(_ACTION_END)]

    def username_action(self) -> str:
        return self.action_prefix(self.new, "username") + _ACTION_END


def replace_lookups(text: str, switch: Switch) -> tuple[str, int]:
    """``text`` with every lookup of ``switch.old`` made one of ``switch.new``; how many."""
    count = 0
    for old, new in zip(switch.lookups(switch.old), switch.lookups(switch.new), strict=True):
        count += text.count(old)
        text = text.replace(old, new)
    return text, count


def replace_actions(text: str, switch: Switch, hcl: bool = False) -> tuple[str, int]:
    """``text`` (a template; ``hcl``: an agent configuration, whose strings escape quotes) with
    every action reading ``switch.old`` reading ``switch.new``, pipelines kept; how many."""
    old, new = switch.action_prefix(switch.old) + " ", switch.action_prefix(switch.new) + " "
    if hcl:
        old, new = _hcl_escaped(old), _hcl_escaped(new)
    return text.replace(old, new), text.count(old)


def _hcl_escaped(text: str) -> str:
    return hcl_string(text)[1:-1]


# -- a literal username made an action -------------------------------------------------------------

def action_ranges(template: str) -> list[tuple[int, int]]:
    """The ``{{ ... }}`` actions of a Go template, as (start, end) ranges; quoted strings inside an
    action are skipped (an escaped literal ``{{ "}}" }}`` is one action)."""
    ranges: list[tuple[int, int]] = []
    at = 0
    while True:
        start = template.find("{{", at)
        if start < 0:
            return ranges
        index, quote = start + 2, ""
        while index < len(template):
            char = template[index]
            if quote:
                if char == "\\":
                    index += 1
                elif char == quote:
                    quote = ""
            elif char in "\"`":
                quote = char
            elif template.startswith("}}", index):
                break
            index += 1
        end = min(index + 2, len(template))
        ranges.append((start, end))
        at = end


def _literal_hits(text: str, word: str, skip: Sequence[tuple[int, int]]) -> list[int]:
    """Where ``word`` starts in ``text`` outside the ``skip`` ranges (wholly inside a literal run)."""
    hits = []
    edges = [0]
    for start, end in skip:
        edges += [start, end]
    edges.append(len(text))
    for begin, end in zip(edges[::2], edges[1::2], strict=True):
        at = text.find(word, begin, end)
        while at >= 0 and at + len(word) <= end:
            hits.append(at)
            at = text.find(word, at + 1, end)
    return hits


def template_username(live: str, username_at: int, username: str, template: str, action: str,
                      where: str) -> str:
    """``template`` (what an agent renders ``live`` from) with the literal ``username`` that
    stands at ``username_at`` of ``live`` replaced by ``action``. ``live`` holds the agent marker
    wherever the template holds an action; the n-th literal occurrence of the name in one is the
    n-th in the other, since their literal runs are the same text."""
    if not username or any(c in username for c in '{}"\\$\n'):
        raise SwitchError(f"{where}: the username is empty or holds a character a template would need escaped")
    markers = []
    at = live.find(MARKER)
    while at >= 0:
        markers.append((at, at + len(MARKER)))
        at = live.find(MARKER, at + 1)
    in_live = _literal_hits(live, username, markers)
    in_template = _literal_hits(template, username, action_ranges(template))
    if username_at not in in_live or len(in_live) != len(in_template):
        raise SwitchError(f"{where}: cannot find the username's place in the agent's template")
    start = in_template[in_live.index(username_at)]
    return template[:start] + action + template[start + len(username):]


def env_template_of(config: str, variable: str) -> tuple[int, int, str]:
    """The ``contents`` string of ``variable``'s env_template in an agent configuration: its range
    in ``config`` (quotes included) and its text unescaped."""
    head = f"env_template {hcl_string(variable)} {{"
    block = config.find(head)
    line_start = config.find("contents", block) if block >= 0 else -1
    quote = config.find('"', line_start) if line_start >= 0 else -1
    if quote < 0:
        raise SwitchError(f"no env_template for {variable}")
    index, out = quote + 1, []
    unescape = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
    while index < len(config) and config[index] != '"':
        if config[index] == "\\" and index + 1 < len(config):
            index += 1
            out.append(unescape.get(config[index], config[index]))
        else:
            out.append(config[index])
        index += 1
    return quote, index + 1, "".join(out)


def with_env_template(config: str, variable: str, contents: str) -> str:
    """``config`` with ``variable``'s env_template contents replaced by ``contents``."""
    start, end, _ = env_template_of(config, variable)
    return config[:start] + hcl_string(contents, f"template of {variable}") + config[end:]


