"""The ``vaultshift`` Terraform provider on bad input, run by a real Terraform (1.15): a backend
that cannot be reached (a closed loopback port, a port that accepts connections and never
answers, a Secrets Manager endpoint on a closed port) and secrets deleted after the migration
(a KV v2 current version soft-deleted, a version destroyed, a path deleted with its metadata, an
AWS secret scheduled for deletion). The data source and the ephemeral resource both end the plan
with a diagnostic titled by what happened (``Backend unreachable``, ``Secret deleted``, ``Secret
not found``), one line naming the backend, its address when unreachable, the path and the key;
the plan ends within a bounded time; no value and no token appears in Terraform's output.

The harness (the provider installed into a filesystem mirror, a working directory) is
tests/test_terraform_provider.py's. One ``plan`` per test: Terraform reports every data source's
and ephemeral resource's error of a plan, so each configuration holds all its cases."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from servers import BaoServer, MotoServer, aws_test_env, make_value
from terraform_run import Workspace, assert_quiet, put

from migrator.backends import make_backend
from migrator.terraform.reading import PROVIDER_TIMEOUT, ProviderSettings, ReadFailure, SecretReader

PLAN_BOUND = 30.0  # seconds for a whole plan against unreachable backends


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def hung_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


def plan(workspace: Workspace, extra_env: dict[str, str],
         *unseen: str) -> tuple[str, float]:
    """``init`` then ``plan``, which must fail without showing any of ``unseen`` (values, the
    token): its error output on one line (Terraform's box drawing and wrapping undone) and the
    plan's duration in seconds."""
    init = workspace.run("init", "-input=false", "-no-color", extra_env=extra_env)
    assert init.returncode == 0, init.stderr
    started = time.monotonic()
    planned = workspace.run("plan", "-input=false", "-no-color", extra_env=extra_env)
    took = time.monotonic() - started
    assert planned.returncode != 0, planned.stdout
    assert_quiet(planned, *unseen)
    return " ".join(planned.stderr.replace("│", " ").split()), took


def test_unreachable_backends_are_diagnosed_with_their_address_within_bounded_time(
        workspace: Workspace, bao: BaoServer, hung_port: int) -> None:
    closed = closed_port()
    where = f"tf/{uuid.uuid4().hex[:8]}"
    config = {"backends": {"vault": {"type": "vault"},
                           "aws_down": {"type": "aws", "region": "us-east-1",
                                        "endpoint_url": f"http://127.0.0.1:{closed}"}},
              "default_backend": "vault"}
    workspace.write(f"""
provider "vaultshift" {{}}
provider "vaultshift" {{
  alias   = "hung"
  address = "http://127.0.0.1:{hung_port}"
}}
data "vaultshift_secret" "closed" {{
  path = "{where}/closed-data"
  key  = "password"
}}
ephemeral "vaultshift_secret" "closed" {{
  path = "{where}/closed-ephemeral"
  key  = "password"
}}
data "vaultshift_secret" "hung" {{
  provider = vaultshift.hung
  path     = "{where}/hung-data"
  key      = "password"
}}
ephemeral "vaultshift_secret" "hung" {{
  provider = vaultshift.hung
  path     = "{where}/hung-ephemeral"
  key      = "password"
}}
data "vaultshift_secret" "aws" {{
  backend = "aws_down"
  path    = "{where}/aws-data"
  key     = "api_key"
}}
""", {"vaultshift.yml": yaml.safe_dump(config)})
    # The default provider reads $VAULT_ADDR: a closed port; the token is a real one, never shown.
    stderr, took = plan(workspace, {**aws_test_env(), "VAULT_ADDR": f"http://127.0.0.1:{closed}"}, bao.token)
    assert took < PLAN_BOUND, f"the plan took {took:.1f} s"
    assert stderr.count("Error: Backend unreachable") == 5, stderr
    for kind in ("data", "ephemeral"):
        assert f"vault: read {where}/closed-{kind}#password: cannot connect to http://127.0.0.1:{closed}: " \
               "connection refused" in stderr
        assert f"vault: read {where}/hung-{kind}#password: http://127.0.0.1:{hung_port} did not answer within " \
               f"{PROVIDER_TIMEOUT:g} s" in stderr
    assert f"aws_down: read {where}/aws-data#api_key: cannot connect to http://127.0.0.1:{closed}" in stderr


def test_deleted_secrets_are_diagnosed_with_what_can_still_be_read(workspace: Workspace, bao: BaoServer,
                                                                    moto: MotoServer,
                                                                    aws_env: dict[str, str]) -> None:
    where, prefix = f"tf/{uuid.uuid4().hex[:8]}", f"tf-{uuid.uuid4().hex[:8]}/"
    first, current, destroyed, purged, aws_value = (make_value() for _ in range(5))
    kv = bao.client().secrets.kv.v2
    put(bao, f"{where}/soft", {"password": first})
    put(bao, f"{where}/soft", {"password": current})
    kv.delete_latest_version_of_secret(path=f"{where}/soft", mount_point="secret")  # version 2 soft-deleted
    put(bao, f"{where}/destroyed", {"password": destroyed})
    kv.destroy_secret_versions(path=f"{where}/destroyed", versions=[1], mount_point="secret")
    put(bao, f"{where}/purged", {"password": purged})
    kv.delete_metadata_and_all_versions(path=f"{where}/purged", mount_point="secret")
    make_backend("aws", moto.settings(prefix=prefix)).write_fields("apps/billing", {"api_key": aws_value})
    moto.client().delete_secret(SecretId=f"{prefix}apps/billing", RecoveryWindowInDays=7)
    config = {"backends": {"vault": {"type": "vault", "addr": bao.addr}, "aws": moto.settings(prefix=prefix)},
              "default_backend": "vault"}
    workspace.write(f"""
provider "vaultshift" {{}}
data "vaultshift_secret" "soft" {{
  path = "{where}/soft"
  key  = "password"
}}
ephemeral "vaultshift_secret" "soft" {{
  path = "{where}/soft"
  key  = "password"
}}
data "vaultshift_secret" "destroyed" {{
  path = "{where}/destroyed"
  key  = "password"
}}
data "vaultshift_secret" "purged" {{
  path = "{where}/purged"
  key  = "password"
}}
data "vaultshift_secret" "aws" {{
  backend = "aws"
  path    = "apps/billing"
  key     = "api_key"
}}
ephemeral "vaultshift_secret" "aws" {{
  backend = "aws"
  path    = "apps/billing"
  key     = "api_key"
}}
""", {"vaultshift.yml": yaml.safe_dump(config)})
    stderr, _ = plan(workspace, aws_test_env(), first, current, destroyed, purged, aws_value, bao.token)
    assert stderr.count("Error: Secret deleted") == 5 and stderr.count("Error: Secret not found") == 1, stderr
    assert stderr.count(f"vault: read {where}/soft#password: version 2, the current one, is deleted; "
                        "read version 1 instead (version = 1), or undelete version 2") == 2
    assert f"vault: read {where}/destroyed#password: version 1, the current one, is destroyed; no other " \
           "version can be read" in stderr
    assert f"vault: read {where}/purged#password: no secret at this path (never written, or deleted with all " \
           "its versions)" in stderr
    assert stderr.count(f"aws: read apps/billing#api_key: the secret {prefix}apps/billing is scheduled for "
                        "deletion; restore it (aws secretsmanager restore-secret) within its recovery window to "
                        "read it again") == 2
    # The advice holds: version 1 of the soft-deleted secret still reads; version 2, asked for, is deleted.
    reader = SecretReader(ProviderSettings(address=bao.addr, token=bao.token, cwd=str(workspace.dir)))
    assert reader.read(f"{where}/soft", "password", version=1).value == first
    with pytest.raises(ReadFailure) as asked:
        reader.read(f"{where}/soft", "password", version=2)
    assert (asked.value.summary, str(asked.value)) == (
        "Secret deleted", f"vault: read {where}/soft#password: version 2 is deleted; read version 1 instead "
                          "(version = 1), or undelete version 2")
    # A token that may read the data but not the metadata: what may be tried, without knowing more.
    policy = f"tf-data-only-{uuid.uuid4().hex[:8]}"
    bao.client().sys.create_or_update_policy(policy, f'path "secret/data/{where}/*" {{ capabilities = ["read"] }}')
    data_only = bao.client().auth.token.create(policies=[policy], ttl="5m")["auth"]["client_token"]
    blind = SecretReader(ProviderSettings(address=bao.addr, token=data_only, cwd=str(workspace.dir)))
    with pytest.raises(ReadFailure) as guessed:
        blind.read(f"{where}/soft", "password")
    assert (guessed.value.summary, str(guessed.value)) == (
        "Secret deleted", f"vault: read {where}/soft#password: version 2, the current one, is deleted or destroyed; "
                          "an earlier version may still be read (version = 1); undelete it if it was only deleted")
    assert data_only not in str(guessed.value)


def test_a_backend_found_unreachable_is_not_waited_for_again_in_the_run(tmp_path: Path, hung_port: int) -> None:
    """The configuration's own timeout wins over the provider's; the second read of the run
    answers at once with the first one's reason."""
    (tmp_path / "vaultshift.yml").write_text(yaml.safe_dump(
        {"backends": {"vault": {"type": "vault", "addr": f"http://127.0.0.1:{hung_port}", "timeout": 0.3,
                                "retries": 1, "retry_delay": 0.05}}}))
    reader = SecretReader(ProviderSettings(token=make_value(), cwd=str(tmp_path)))
    started = time.monotonic()
    with pytest.raises(ReadFailure) as first:
        reader.read("apps/one", "password")
    assert 0.55 <= time.monotonic() - started < 3  # two attempts of 0.3 s each
    assert first.value.summary == "Backend unreachable"
    assert str(first.value) == f"vault: read apps/one#password: http://127.0.0.1:{hung_port} did not answer " \
                               "within 0.3 s (gave up after 1 retry)"
    started = time.monotonic()
    with pytest.raises(ReadFailure) as again:
        reader.read("apps/two")
    assert time.monotonic() - started < 0.2
    assert again.value.summary == "Backend unreachable"
    assert str(again.value) == f"vault: read apps/two: http://127.0.0.1:{hung_port} did not answer within 0.3 s " \
                               "(gave up after 1 retry); an earlier read of this run found it so, not tried again"
