"""What ``vaultshift access plan|apply`` runs: the access model of a migration plan, the things on
the Vault / OpenBao server it manages (:class:`~migrator.access.vault_apply.Managed`), their
changes, and applying them all or none. The CLI and the Ansible collection are adapters over it.
"""

from __future__ import annotations

from collections.abc import Mapping

from migrator.access.model import AccessError, AccessModel, build_model
from migrator.access.settings import AccessSettings, access_settings
from migrator.access.vault_apply import AccessResult, Managed, apply_changes, check_auth_mounts, plan_changes, policy
from migrator.access.vault_policies import vault_policies
from migrator.backends.base import Backend
from migrator.backends.vault import VaultBackend
from migrator.config import Config
from migrator.plan.inventory import Inventory
from migrator.plan.models import Plan
from migrator.rewrite.base import KvMount


def kv_mounts(config: Config) -> dict[str, KvMount]:
    """Each Vault backend's KV mount (and path prefix), by backend name."""
    return {name: KvMount(str(s.get("mount") or "secret"), str(s.get("prefix") or ""))
            for name, s in config.backends.items() if s.get("type", "vault") == "vault"}


def engine_mounts(config: Config) -> list[str]:
    """The database secrets engine mounts (``vault-database`` backends) operators manage."""
    return sorted({str(s.get("mount") or "database") for s in config.backends.values()
                   if s.get("type") == "vault-database"})


def load_model(plan: Plan, config: Config, inventory: Inventory | None = None) -> AccessModel:
    settings = access_settings(config)
    return build_model(plan, settings, inventory.groups if inventory is not None else lambda host: frozenset())


def policies_of(model: AccessModel, config: Config) -> dict[str, str]:
    """Every Vault policy the model gives, by name."""
    settings = model.settings
    return vault_policies(model, kv_mounts(config), engine_mounts(config), [a.mount for a in settings.auth])


def vault_backend(settings: AccessSettings, backends: Mapping[str, Backend]) -> VaultBackend:
    backend = backends.get(settings.vault) if settings.vault else None
    if not isinstance(backend, VaultBackend):
        raise AccessError("no Vault/OpenBao backend is configured for the policies (access.vault)")
    return backend


def managed(model: AccessModel, config: Config, backend: VaultBackend) -> list[Managed]:
    """What ``access apply`` manages on the server: the policies (then, in later steps, the roles)."""
    return [policy(backend, name, text) for name, text in sorted(policies_of(model, config).items())]


def plan_access(model: AccessModel, config: Config, backend: VaultBackend) -> AccessResult:
    """What applying would change (reads only). AccessError for a collision or a missing auth mount."""
    check_auth_mounts(backend, [(a.method, a.mount) for a in model.settings.auth])
    return AccessResult(plan_changes(managed(model, config, backend)))


def apply_access(model: AccessModel, config: Config, backend: VaultBackend) -> AccessResult:
    """Apply every change, all or none."""
    result = plan_access(model, config, backend)
    result.applied = apply_changes(result.changes)
    return result
