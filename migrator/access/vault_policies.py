"""Vault / OpenBao ACL policies (HCL) from the access model, for the backends that are Vault KV.

- ``PREFIX-app-NAME``: ``read`` on exactly the KV paths the app's files reference (KV v2:
  ``MOUNT/data/PATH``), nothing else: app A cannot read app B's secrets.
- ``PREFIX-team-NAME``: write-only under the team's prefixes: ``create``, ``update`` and ``patch``
  on ``MOUNT/data/PREFIX*`` and no ``read``, so a developer adds and replaces values but never
  sees a production one; ``read`` and ``list`` on ``MOUNT/metadata/PREFIX*`` (versions and times,
  no values) to see what is there and that a write landed.
- ``PREFIX-operators``: everything under the KV mounts and the database engine mounts, the
  ``PREFIX-*`` policies and the auth roles vaultshift makes.

Every policy's first line is :data:`MARKER`, how ``access apply`` tells its own policies from
ones it must not overwrite.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from migrator.access.model import AccessModel, Place
from migrator.plan.models import SecretRef
from migrator.rewrite.base import KvMount

MARKER = "# managed by vaultshift access"
READ = ("read",)
WRITE_ONLY = ("create", "update", "patch")
METADATA = ("read", "list")
MANAGE = ("create", "read", "update", "patch", "delete", "list")


def _rule(path: str, capabilities: Sequence[str]) -> str:
    caps = ", ".join(f'"{c}"' for c in capabilities)
    return f'path "{path}" {{\n  capabilities = [{caps}]\n}}\n'


def _data_path(mount: KvMount, place: Place) -> str:
    path = mount.api_path(SecretRef(place.backend, place.path.rstrip("/") or "_", "_"))
    return path + ("/*" if place.is_prefix and place.path.strip("/") else "*" if place.is_prefix else "")


def _metadata_path(mount: KvMount, place: Place) -> str:
    parts = [mount.mount.strip("/"), "metadata", mount.prefix.strip("/"), place.path.strip("/")]
    path = "/".join(p for p in parts if p)
    return path + ("/*" if place.is_prefix else "")


def _policy(title: str, rules: Iterable[str]) -> str:
    return f"{MARKER}: {title}\n\n" + "\n".join(rules)


def vault_policies(model: AccessModel, mounts: Mapping[str, KvMount],
                   engine_mounts: Sequence[str] = (), auth_mounts: Sequence[str] = ()) -> dict[str, str]:
    """Each policy's name -> its HCL, for the places on the Vault KV backends of ``mounts``
    (backend name -> its KV mount); places on other backends (Secrets Manager) are left to the
    IAM policies. ``engine_mounts``: database secrets engine mounts operators manage;
    ``auth_mounts``: auth mounts whose ``PREFIX-*`` roles operators manage."""
    policies: dict[str, str] = {}
    for app in model.apps:
        rules = [_rule(_data_path(mounts[p.backend], p), READ) for p in app.reads if p.backend in mounts]
        if rules:
            hosts = f" (hosts {', '.join(app.hosts)})" if app.hosts else ""
            policies[model.app_policy(app)] = _policy(f"app {app.name} reads its own secrets{hosts}", rules)
    for team in model.teams:
        rules = []
        for place in team.writes:
            if place.backend not in mounts:
                continue
            mount = mounts[place.backend]
            rules.append(_rule(_data_path(mount, place), WRITE_ONLY if mount.version == 2 else ("create", "update")))
            if mount.version == 2:
                rules.append(_rule(_metadata_path(mount, place), METADATA))
        if rules:
            policies[model.team_policy(team)] = _policy(f"team {team.name} writes, never reads", rules)
    if model.operators:
        rules = [_rule(f"{m.mount.strip('/')}/*", MANAGE) for m in sorted(set(mounts.values()), key=str)
                 if m.version == 2 or m.mount not in engine_mounts]
        rules += [_rule(f"{mount.strip('/')}/*", MANAGE) for mount in sorted(set(engine_mounts))]
        rules += [_rule(f"{endpoint}/{model.prefix}-*", MANAGE) for endpoint in ("sys/policies/acl", "sys/policy")]
        rules += [_rule(f"auth/{mount.strip('/')}/role/{model.prefix}-*", MANAGE) for mount in sorted(set(auth_mounts))]
        policies[model.operators_policy] = _policy("operators manage what vaultshift manages", rules)
    return policies
