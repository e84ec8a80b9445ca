"""The ``vaultshift`` Terraform provider (plugin protocol 6, on the pyvider framework): its
configuration, the data source and the ephemeral resource ``vaultshift_secret``, and
:func:`main`, which serves them when Terraform launches the provider executable that
:func:`migrator.terraform.install.install_provider` writes.

    provider "vaultshift" {
      config  = "vaultshift.yml"   # default: ./vaultshift.yml when present, else Vault from the environment
      backend = "vault"            # default: the configuration's default_backend
      address = "https://..."      # default: the backend's addr, else $VAULT_ADDR
      token   = var.token          # default: the backend's auth, else $VAULT_TOKEN (sensitive)
    }
    data "vaultshift_secret" "db" {          # lands in the state (values marked sensitive)
      path = "apps/shop/db"
      key  = "password"                      # optional: then `value`; `values` holds every key
    }
    ephemeral "vaultshift_secret" "db" {     # Terraform >= 1.10: never in the plan or the state
      path = "apps/shop/db"
      key  = "password"
    }
    data "vaultshift_migration" "progress" {  # the migration's KPIs, for dashboards and policy checks
      plan      = "plan.json"
      state_dir = ".vaultshift"              # default: .vaultshift, as the CLI's
      inventory = "inventory.ini"            # optional: hosts counted by their first group
    }

The reading itself is :mod:`migrator.terraform.reading`, the KPIs :mod:`migrator.report.kpis`;
this module only translates between Terraform's types and them. Failures become error
diagnostics titled by their kind (``Secret not found``, ``Key not found``, ``Access denied``,
``Invalid plan``, ``Invalid state directory``) with the one-line reason naming the item.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
from pyvider.data_sources import BaseDataSource
from pyvider.ephemerals import BaseEphemeralResource
from pyvider.exceptions import DataSourceError, ResourceError
from pyvider.hub import hub
from pyvider.providers import BaseProvider
from pyvider.providers.base import ProviderMetadata
from pyvider.resources.context import ResourceContext
from pyvider.resources.private_state import PrivateState
from pyvider.schema import PvsAttribute, PvsSchema, a_list, a_map, a_num, a_str, s_data_source, s_provider

from migrator.terraform import PROVIDER_TYPE, provider_version
from migrator.terraform.reading import ProviderSettings, ReadFailure, SecretReader, SecretReading, build_backend

if TYPE_CHECKING:
    from migrator.backends import Backend
    from migrator.report.kpis import MigrationKpis
    from migrator.rotate.database import DatabaseEngine

SECRET_TYPE = f"{PROVIDER_TYPE}_secret"
MIGRATION_TYPE = f"{PROVIDER_TYPE}_migration"


@attrs.define
class ProviderConfig:
    """The provider block (None: not set)."""

    config: str | None = None
    backend: str | None = None
    address: str | None = None
    token: str | None = attrs.field(default=None, repr=False)
    namespace: str | None = None


@attrs.define
class SecretArguments:
    """What a ``vaultshift_secret`` block asks for."""

    path: str
    key: str | None = None
    version: int | float | None = None
    backend: str | None = None


@attrs.define(repr=False)
class SecretResult:
    """What a ``vaultshift_secret`` gives back: the arguments, ``value`` (with ``key``),
    ``values`` (every key) and the ``version`` read. Its repr names no value."""

    path: str
    key: str | None = None
    version: int | float | None = None
    backend: str | None = None
    value: str | None = None
    values: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"SecretResult(path={self.path!r}, key={self.key!r}, version={self.version!r})"


@attrs.define
class NoPrivateState(PrivateState):
    """The ephemeral secret keeps nothing between open and close."""


def secret_schema() -> PvsSchema:
    """The attributes of the data source and the ephemeral resource ``vaultshift_secret``."""
    return s_data_source({
        "path": a_str("The secret's path in the backend (e.g. apps/shop/db).", required=True),
        "key": a_str("One key of the secret: its value is then `value`.", optional=True),
        "version": a_num("The version to read (default: the current one); after reading, the version read.",
                         optional=True, computed=True),
        "backend": a_str("The backend of vaultshift's configuration to read (default: the provider's).",
                         optional=True),
        "value": a_str("The value of `key` (null without `key`).", computed=True, sensitive=True),
        "values": a_map(a_str(), "Every key of the secret and its value.", computed=True, sensitive=True),
    })


def provider_schema() -> PvsSchema:
    return s_provider({
        "config": a_str("Path of vaultshift's configuration (vaultshift.yml), relative to the working directory.",
                        optional=True),
        "backend": a_str("The backend to read from (default: the configuration's default_backend).", optional=True),
        "address": a_str("Vault / OpenBao address (default: the backend's addr, else $VAULT_ADDR).", optional=True),
        "token": a_str("Vault / OpenBao token (default: the backend's auth, else $VAULT_TOKEN).", optional=True,
                       sensitive=True),
        "namespace": a_str("Vault Enterprise / OpenBao namespace (default: $VAULT_NAMESPACE).", optional=True),
    })


class VaultshiftProvider(BaseProvider):
    """The provider: holds the :class:`SecretReader` its configuration describes."""

    def __init__(self) -> None:
        super().__init__(metadata=ProviderMetadata(name=PROVIDER_TYPE, version=provider_version()))
        self.reader: SecretReader | None = None

    async def setup(self) -> None:
        # As pyvider's own provider does: a fixed schema rather than one composed of capabilities.
        self._final_schema = provider_schema()
        self.config_class = ProviderConfig
        self.capabilities["provider"] = self
        self._setup_done = True

    async def configure(self, config: Any) -> None:
        given = config if isinstance(config, ProviderConfig) else ProviderConfig()
        self.reader = SecretReader(ProviderSettings(config=given.config, backend=given.backend,
                                                    address=given.address, token=given.token,
                                                    namespace=given.namespace, cwd=os.getcwd()))
        atexit.register(self.reader.close)
        self._configured = True

    def secret_reader(self) -> SecretReader:
        if self.reader is None:  # not configured (Terraform always configures; direct calls may not)
            self.reader = SecretReader(ProviderSettings(cwd=os.getcwd()))
        return self.reader


def _provider() -> VaultshiftProvider:
    found = hub.get_component("singleton", "provider")
    if not isinstance(found, VaultshiftProvider):
        raise DataSourceError("the vaultshift provider is not initialised")
    return found


def _version(arguments: SecretArguments) -> int | None:
    if arguments.version is None:
        return None
    if isinstance(arguments.version, float) and not arguments.version.is_integer():
        raise ReadFailure("Invalid version", f"read {arguments.path}: version must be a whole number")
    return int(arguments.version)


async def read_for_terraform(arguments: SecretArguments | None, error: type[ResourceError]) -> SecretResult:
    """Read what ``arguments`` ask for (in a worker thread: the plugin's event loop keeps serving
    Terraform's other calls); a failure as ``error`` carrying the diagnostic's title."""
    if arguments is None:
        raise error("vaultshift_secret: the arguments are not known yet")
    reader = _provider().secret_reader()
    try:
        reading: SecretReading = await asyncio.to_thread(
            reader.read, arguments.path, key=arguments.key, version=_version(arguments), backend=arguments.backend)
    except ReadFailure as exc:
        failure = error(str(exc))
        failure.add_context("terraform.summary", exc.summary)
        raise failure from None
    return SecretResult(path=arguments.path, key=arguments.key, version=reading.version,
                        backend=arguments.backend, value=reading.value, values=reading.values)


def check_arguments(arguments: SecretArguments | None) -> list[str]:
    """Problems with a ``vaultshift_secret`` block that Terraform can report before reading."""
    if arguments is None:
        return []
    problems = []
    if not arguments.path:
        problems.append("path must not be empty")
    if arguments.key == "":
        problems.append("key must not be empty (omit it to read every key)")
    if arguments.version is not None and arguments.version < 1:
        problems.append(f"version must be 1 or more, not {arguments.version:g}")
    return problems


class SecretDataSource(BaseDataSource[Any, SecretResult, SecretArguments]):
    """``data "vaultshift_secret"``: the secret read at plan time; its values land in the state
    (marked sensitive). Prefer the ephemeral resource on Terraform >= 1.10."""

    config_class = SecretArguments
    state_class = SecretResult

    @classmethod
    def get_schema(cls) -> PvsSchema:
        return secret_schema()

    async def _validate_config(self, config: SecretArguments) -> list[str]:
        return check_arguments(config)

    async def read(self, ctx: ResourceContext) -> SecretResult | None:
        return await read_for_terraform(ctx.config, DataSourceError)


class SecretEphemeralResource(BaseEphemeralResource[SecretResult, NoPrivateState, SecretArguments]):
    """``ephemeral "vaultshift_secret"``: the secret read when Terraform opens it, kept out of the
    plan and the state; nothing to renew or close (a KV read holds no lease)."""

    config_class = SecretArguments
    result_class = SecretResult
    private_state_class = NoPrivateState

    @classmethod
    def get_schema(cls) -> PvsSchema:
        return secret_schema()

    async def validate(self, config: SecretArguments | None) -> list[str]:
        return check_arguments(config)

    async def open(self, ctx: Any) -> tuple[SecretResult, NoPrivateState, datetime]:
        result = await read_for_terraform(ctx.config, ResourceError)
        return result, None, None  # type: ignore[return-value]  # pyvider: no private state, no renewal

    async def renew(self, ctx: Any) -> tuple[NoPrivateState, datetime]:
        return None, None  # type: ignore[return-value]  # never asked: open sets no renew_at

    async def close(self, ctx: Any) -> None:
        return None


# -- data "vaultshift_migration" ---------------------------------------------------------------

@attrs.define
class MigrationArguments:
    """What a ``vaultshift_migration`` block asks for (paths relative to Terraform's working directory)."""

    plan: str
    state_dir: str | None = None
    inventory: str | None = None


def _kpi_attributes() -> dict[str, PvsAttribute]:
    """The data source's computed attributes: the fields of :class:`migrator.report.kpis.MigrationKpis`."""
    def count(text: str) -> PvsAttribute:
        return a_num(text, computed=True)

    return {
        "secrets": count("Secrets of the plan (distinct values)."),
        "occurrences": count("Places in files that held a secret when the plan was made."),
        "files": count("Files of the plan."),
        "hosts": count("Hosts of the plan (files of this machine are the host `local`)."),
        "hardcoded": count("Occurrences still in plaintext (target 0)."),
        "hardcoded_by_group": a_map(a_num(), "Occurrences still in plaintext, by host group (every group of the "
                                             "plan; without `inventory` each host is its own group).", computed=True),
        "stored": count("Secrets in their backend (written and read back equal)."),
        "referenced": count("Secrets whose every occurrence is a reference now."),
        "files_migrated": count("Files whose every planned secret comes from the vault now."),
        "files_in_progress": count("Files a run has started to rewrite and not finished (counted as plaintext)."),
        "hosts_migrated": count("Hosts whose every planned file is migrated."),
        "adoption": count("files_migrated / files, from 0 to 1."),
        "host_adoption": count("hosts_migrated / hosts, from 0 to 1."),
        "apps": count("Apps of the plan (the directory of each secret's vault path)."),
        "apps_migrated": count("Apps whose every secret comes from the vault in every place."),
        "app_adoption": count("apps_migrated / apps, from 0 to 1."),
        "rotating": count("Stored secrets under rotation: static + dynamic + aws_staged."),
        "static": count("Stored secrets whose database user a static role rotates."),
        "dynamic": count("Stored secrets whose consumers get users of their own (dynamic roles)."),
        "aws_staged": count("Stored secrets under vaultshift's staged Secrets Manager rotation."),
        "rotation_coverage": count("rotating / stored, from 0 to 1."),
        "age_known": count("Secrets whose current value's age the stores give."),
        "age_unknown": count("Secrets of unknown age (not stored, or the store cannot say): see age_notes."),
        "age_average_days": count("Average age in days of the secrets of known age (null: none known)."),
        "too_old": count("Secrets of known age older than max_age_days."),
        "too_old_share": count("too_old / age_known, from 0 to 1."),
        "max_age_days": count("The age limit, in days (90)."),
        "age_notes": a_list(a_str(), "Why ages are unknown, with how many secrets each.", computed=True),
        "unreachable": a_list(a_str(), "Backends that could not be read at all (their secrets' ages are unknown).",
                              computed=True),
        "plan_digest": a_str("The plan's digest (the journal's runs name it).", computed=True),
        "last_run": a_str("The journal's latest run (empty: none yet).", computed=True),
        "measured_at": count("When the numbers were measured (seconds since the epoch)."),
        "ages_days": a_list(a_num(), "Each known age, in days, youngest first (for an age distribution).",
                            computed=True),
    }


KPI_ATTRIBUTES = tuple(_kpi_attributes())

# The data source's state: its arguments and every KPI attribute.
MigrationResult: type[Any] = attrs.make_class("MigrationResult", {
    "plan": attrs.field(), "state_dir": attrs.field(default=None), "inventory": attrs.field(default=None),
    **{name: attrs.field(default=None) for name in KPI_ATTRIBUTES}})


def migration_schema() -> PvsSchema:
    return s_data_source({
        "plan": a_str("The migration plan (vaultshift plan -o FILE), relative to the working directory.",
                      required=True),
        "state_dir": a_str("Where vaultshift apply keeps its journal (default .vaultshift, as the CLI's), relative "
                           "to the working directory.", optional=True),
        "inventory": a_str("An Ansible inventory: hosts are grouped by their first group in `hardcoded_by_group`.",
                           optional=True),
        **_kpi_attributes(),
    })


def check_migration_arguments(arguments: MigrationArguments | None) -> list[str]:
    """Problems with a ``vaultshift_migration`` block that Terraform can report before reading."""
    if arguments is None:
        return []
    return [f"{name} must not be empty" for name in ("plan", "state_dir", "inventory")
            if getattr(arguments, name) == ""]


def measure_migration(arguments: MigrationArguments, settings: ProviderSettings) -> tuple[MigrationKpis, list[str]]:
    """The KPIs ``arguments`` ask for, with ages from the backends ``settings`` configure, and a
    warning (one line) per backend whose ages are unknown because it cannot be built or read.
    :class:`ReadFailure` when the plan, the inventory or the state directory cannot be read."""
    from migrator.config import ConfigError
    from migrator.plan import planfile
    from migrator.plan.inventory import InventoryError, load_inventory
    from migrator.report.kpis import MeasureError, measure
    from migrator.state.journal import DEFAULT_STATE_DIR

    def here(path: str) -> str:
        return os.path.join(settings.cwd, path)

    try:
        plan = planfile.load(here(arguments.plan))
    except planfile.PlanFileError as exc:
        raise ReadFailure("Invalid plan", str(exc)) from None
    groups = None
    if arguments.inventory:
        try:
            inventory = load_inventory(here(arguments.inventory))
        except InventoryError as exc:
            raise ReadFailure("Invalid inventory", str(exc)) from None
        groups = {host: inventory.group(host) or "ungrouped" for host in inventory.hosts}
    warnings: list[str] = []
    backends: dict[str, Backend] = {}
    for name in sorted({secret.ref.backend for secret in plan.secrets}):
        try:
            backends[name] = build_backend(settings, name)  # the provider's short timeouts: a plan never hangs
        except ConfigError as exc:
            warnings.append(f"backend {name!r}: {exc}")
    try:
        engine = _database_engine(settings, backends)
        kpis = measure(plan, here(arguments.state_dir or DEFAULT_STATE_DIR), backends, engine=engine, groups=groups)
    except MeasureError as exc:
        raise ReadFailure("Invalid state directory", str(exc)) from None
    finally:
        for backend in backends.values():
            with contextlib.suppress(Exception):  # best effort: a leftover login expires on its own
                backend.close()
    return kpis, warnings + list(kpis.unreachable)


def _database_engine(settings: ProviderSettings, backends: dict[str, Backend]) -> DatabaseEngine | None:
    """The database engine static roles are read from, when the configuration has a ``rotation``
    section (its vault backend joins ``backends``, to be closed with them); else None."""
    from migrator.config import DEFAULT_FILE, ConfigError, default_config, load_config
    from migrator.rotate.database import rotation_engine

    implicit = os.path.join(settings.cwd, DEFAULT_FILE)
    try:
        config = load_config(os.path.join(settings.cwd, settings.config)) if settings.config else \
            load_config(implicit) if os.path.isfile(implicit) else default_config()
    except ConfigError:
        return None  # no configuration to read a rotation section from: a static secret's age is unknown
    return rotation_engine(config, backends, lambda name: build_backend(settings, name))


class MigrationDataSource(BaseDataSource[Any, Any, MigrationArguments]):
    """``data "vaultshift_migration"``: where the migration stands, as numbers (no value, no path
    of a secret): for dashboards, and for policy checks written in Terraform."""

    config_class = MigrationArguments
    state_class = MigrationResult

    @classmethod
    def get_schema(cls) -> PvsSchema:
        return migration_schema()

    async def _validate_config(self, config: MigrationArguments) -> list[str]:
        return check_migration_arguments(config)

    async def read(self, ctx: ResourceContext) -> Any:
        arguments = ctx.config
        if not isinstance(arguments, MigrationArguments):
            raise DataSourceError(f"{MIGRATION_TYPE}: the arguments are not known yet")
        settings = _provider().secret_reader().settings
        try:
            kpis, warnings = await asyncio.to_thread(measure_migration, arguments, settings)
        except ReadFailure as exc:
            failure = DataSourceError(str(exc))
            failure.add_context("terraform.summary", exc.summary)
            raise failure from None
        for warning in warnings:
            ctx.add_warning("Secret ages unknown", warning)
        numbers = kpis.to_dict()
        return MigrationResult(plan=arguments.plan, state_dir=arguments.state_dir, inventory=arguments.inventory,
                               **{name: numbers[name] for name in KPI_ATTRIBUTES})


def register_components() -> None:
    """Put the provider and its components in pyvider's registry (instead of its entry-point discovery)."""
    hub.register("provider", PROVIDER_TYPE, VaultshiftProvider)
    hub.register("data_source", SECRET_TYPE, SecretDataSource)
    hub.register("ephemeral_resource", SECRET_TYPE, SecretEphemeralResource)
    hub.register("data_source", MIGRATION_TYPE, MigrationDataSource)


def main() -> None:
    """Serve the provider to the Terraform that launched this process (go-plugin handshake on stdout)."""
    os.environ.setdefault("PYVIDER_LOG_LEVEL", "WARNING")  # pyvider logs to stderr, which Terraform keeps in TF_LOG
    # Else pyvider looks for its name in ./pyvider.toml or ./pyproject.toml: Terraform's working directory.
    os.environ["PYVIDER_PROVIDER_NAME"] = PROVIDER_TYPE
    register_components()
    from pyvider.cli.__main__ import main as pyvider_main

    sys.argv = [f"terraform-provider-{PROVIDER_TYPE}", "provide"]
    pyvider_main()


if __name__ == "__main__":
    main()
