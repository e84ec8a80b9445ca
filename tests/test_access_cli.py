"""``vaultshift access plan|apply`` through the real CLI, on a plan made by ``vaultshift plan``: the
plan says what would change (exit 1) and writes every policy for review (Vault HCL and IAM JSON,
one migration with a Vault and a Secrets Manager backend), apply makes the changes, plan and apply
again change nothing (exit 0); a policy vaultshift did not write is one line and exit 2."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import yaml
from migration import run
from servers import BaoServer, MotoServer, make_value


def test_plan_apply_and_apply_again_change_nothing(tmp_path: Path, bao: BaoServer, moto: MotoServer, cli,
                                                    vault_env: dict[str, str]) -> None:
    run_id = uuid.uuid4().hex[:8]
    prefix = f"c{run_id}"
    bao.client().sys.enable_auth_method("approle", path=f"approle-{run_id}")
    tree = tmp_path / "srv"
    for app in ("shop", "billing"):
        (tree / app).mkdir(parents=True)
        (tree / app / "config.yml").write_text(f"database:\n  password: {make_value()}\n")
    config = {
        "backends": {"vault": {"type": "vault", "addr": bao.addr, "prefix": run_id},
                     "aws": {**moto.settings(), "prefix": f"{run_id}/"}},
        "default_backend": "vault", "routes": [{"match": {"path": "billing/**"}, "backend": "aws"}],
        "access": {"prefix": prefix, "auth": {"approle": {"mount": f"approle-{run_id}"}},
                   "teams": [{"name": "shop-devs", "paths": ["apps/shop/"]}],
                   "aws": {"iam_endpoint_url": moto.endpoint}},
    }
    (tmp_path / "vaultshift.yml").write_text(yaml.safe_dump(config))
    env = {**vault_env, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    assert run(cli, env, tmp_path, "plan", str(tree), "-o", "plan.json").returncode == 0

    planned = run(cli, env, tmp_path, "access", "plan", "plan.json", "--output-dir", "policies", "--diff")
    assert planned.returncode == 1, planned.stderr
    lines = [line for line in planned.stdout.splitlines() if line.startswith("create ")]
    assert sorted(line.split(None, 1)[1] for line in lines) == sorted([
        f"policy {prefix}-app-shop", f"policy {prefix}-team-shop-devs", f"policy {prefix}-operators",
        f"approle role approle-{run_id}/{prefix}-shop",  # billing reads Secrets Manager only: no vault login
        f"IAM policy {prefix}-app-billing", f"IAM policy {prefix}-operators"])
    shop = (tmp_path / "policies" / "vault" / f"{prefix}-app-shop.hcl").read_text()
    assert f'path "secret/data/{run_id}/apps/shop/password"' in shop and "billing" not in shop
    billing = json.loads((tmp_path / "policies" / "aws" / f"{prefix}-app-billing.json").read_text())
    assert billing["Statement"][0]["Resource"][0].endswith(f":secret:{run_id}/apps/billing/password-??????")

    applied = run(cli, env, tmp_path, "access", "apply", "plan.json")
    assert applied.returncode == 0, applied.stderr
    assert "6 change(s) applied, 0 unchanged" in applied.stderr
    again = run(cli, env, tmp_path, "access", "apply", "plan.json")
    assert again.returncode == 0 and "0 change(s) applied, 6 unchanged" in again.stderr
    assert run(cli, env, tmp_path, "access", "plan", "plan.json").returncode == 0

    bao.client().sys.create_or_update_policy(f"{prefix}-team-shop-devs", 'path "x" { capabilities = ["read"] }')
    clash = run(cli, env, tmp_path, "access", "apply", "plan.json")
    assert clash.returncode == 2
    assert clash.stderr.strip() == (f"vaultshift: error: policy {prefix}-team-shop-devs exists on the server and "
                                    "was not written by vaultshift; rename it, or set access.prefix so vaultshift's "
                                    "names differ")
