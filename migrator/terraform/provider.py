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

The reading itself is :mod:`migrator.terraform.reading`; this module only translates between
Terraform's types and it. Failures become error diagnostics titled by their kind (``Secret not
found``, ``Key not found``, ``Access denied``) with the one-line reason naming path and key.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import sys
from datetime import datetime
from typing import Any

import attrs
from pyvider.data_sources import BaseDataSource
from pyvider.ephemerals import BaseEphemeralResource
from pyvider.exceptions import DataSourceError, ResourceError
from pyvider.hub import hub
from pyvider.providers import BaseProvider
from pyvider.providers.base import ProviderMetadata
from pyvider.resources.context import ResourceContext
from pyvider.resources.private_state import PrivateState
from pyvider.schema import PvsSchema, a_map, a_num, a_str, s_data_source, s_provider

from migrator.terraform import PROVIDER_TYPE, provider_version
from migrator.terraform.reading import ProviderSettings, ReadFailure, SecretReader, SecretReading

SECRET_TYPE = f"{PROVIDER_TYPE}_secret"


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


def register_components() -> None:
    """Put the provider and its components in pyvider's registry (instead of its entry-point discovery)."""
    hub.register("provider", PROVIDER_TYPE, VaultshiftProvider)
    hub.register("data_source", SECRET_TYPE, SecretDataSource)
    hub.register("ephemeral_resource", SECRET_TYPE, SecretEphemeralResource)


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
