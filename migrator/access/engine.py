"""What ``vaultshift access plan|apply`` runs: the access model of a migration plan, the things on
the Vault / OpenBao server it manages (:class:`~migrator.access.vault_apply.Managed`), their
changes, and applying them all or none. The CLI and the Ansible collection are adapters over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from migrator.access.aws_policies import aws_policies, iam_client_for, iam_managed
from migrator.access.model import AccessError, AccessModel, Place, build_model
from migrator.access.secret_zero import app_roles
from migrator.access.settings import AccessSettings, access_settings
from migrator.access.vault_apply import AccessResult, Managed, apply_changes, check_auth_mounts, plan_changes, policy
from migrator.access.vault_policies import vault_policies
from migrator.backends.base import Backend
from migrator.backends.vault import VaultBackend
from migrator.config import Config
from migrator.plan.inventory import Inventory
from migrator.plan.models import Plan
from migrator.rewrite.base import kv_mounts


def engine_mounts(config: Config) -> list[str]:
    """The database secrets engine mounts (``vault-database`` backends) operators manage."""
    return sorted({str(s.get("mount") or "database") for s in config.backends.values()
                   if s.get("type") == "vault-database"})


def load_model(plan: Plan, config: Config, inventory: Inventory | None = None,
               state_dir: str | None = None) -> AccessModel:
    """The access model of ``plan``; with ``state_dir`` (the journal), the secrets phase 3 rotates
    are read where their references read now too (static-creds / creds of the database engine)."""
    settings = access_settings(config)
    return build_model(plan, settings, inventory.groups if inventory is not None else lambda host: frozenset(),
                       rotated_places(config, state_dir) if state_dir else None)


def rotated_places(config: Config, state_dir: str) -> dict[str, Place]:
    """Each rotating secret's credential path (by fingerprint), from the journal's rotation records."""
    from migrator.rotate.settings import rotation_settings
    from migrator.state.journal import read_rotations

    records = read_rotations(state_dir)
    if not records or "rotation" not in config.extra:
        return {}
    credentials = rotation_settings(config).credentials
    places = {}
    for fingerprint, record in records.items():
        if record.mode == "static" and record.static_role:
            places[fingerprint] = Place(credentials, f"static-creds/{record.static_role}")
        elif record.mode == "dynamic" and record.dynamic_role:
            places[fingerprint] = Place(credentials, f"creds/{record.dynamic_role}")
    return places


def policies_of(model: AccessModel, config: Config) -> dict[str, str]:
    """Every Vault policy the model gives, by name."""
    settings = model.settings
    return vault_policies(model, kv_mounts(config.backends), engine_mounts(config), [a.mount for a in settings.auth])


def vault_backend(settings: AccessSettings, backends: Mapping[str, Backend]) -> VaultBackend | None:
    """The Vault / OpenBao backend whose server gets the policies and roles; None when there is none."""
    backend = backends.get(settings.vault) if settings.vault else None
    return backend if isinstance(backend, VaultBackend) else None


def iam_client(model: AccessModel, config: Config) -> Any | None:
    """An IAM client for the account of the AWS backends, when the model gives IAM policies."""
    return iam_client_for(config) if aws_policies(model, config) else None


def managed(model: AccessModel, config: Config, backend: VaultBackend | None, iam: Any | None = None) -> list[Managed]:
    """What ``access apply`` manages: the Vault policies and each app's login roles (AppRole;
    Kubernetes and JWT when configured) on ``backend``'s server, and the IAM policies (through
    ``iam``); AccessError when there is neither."""
    items: list[Managed] = []
    if backend is not None:
        policies = policies_of(model, config)
        items += [policy(backend, name, text) for name, text in sorted(policies.items())]
        items += app_roles(model, backend, policies)  # after the policies: a role names its app's
    items += iam_managed(model, config, iam) if iam is not None else []
    if backend is None and iam is None:
        raise AccessError("nothing to manage: no Vault/OpenBao backend is configured (access.vault), and no secret "
                          "is on an AWS backend")
    return items


def plan_access(model: AccessModel, config: Config, backend: VaultBackend | None,
                iam: Any | None = None) -> AccessResult:
    """What applying would change (reads only). AccessError for a collision or a missing auth mount."""
    if backend is not None:
        check_auth_mounts(backend, [(a.method, a.mount) for a in model.settings.auth])
    return AccessResult(plan_changes(managed(model, config, backend, iam)))


def apply_access(model: AccessModel, config: Config, backend: VaultBackend | None,
                 iam: Any | None = None) -> AccessResult:
    """Apply every change, all or none."""
    result = plan_access(model, config, backend, iam)
    result.applied = apply_changes(result.changes)
    return result
