"""apply when the store fails or files move: clear per-item errors, the rest goes on, and no file
is ever rewritten unless every secret it holds was stored and read back."""

from __future__ import annotations

import socket

from migration import files_now, run

APPLY = ("apply", "plan.json", "--state-dir", "state", "--agent-check", "never")


def dead_address() -> str:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_an_unreachable_backend_leaves_its_files_untouched_and_the_rest_goes_on(cli, vault_env, tmp_path, fleet):
    root, originals, canaries = fleet
    (tmp_path / "vaultshift.yml").write_text(
        "backends:\n"
        "  vault: {type: vault}\n"
        f"  down: {{type: vault, addr: '{dead_address()}', timeout: 1, retries: 1, retry_delay: 0.05}}\n"
        "routes:\n"
        "  - {match: {path: 'web01/**'}, backend: down}\n"
        "default_backend: vault\n")
    assert run(cli, vault_env, tmp_path, "plan", str(root), "-o", "plan.json").returncode == 0
    applied = run(cli, vault_env, tmp_path, *APPLY)
    assert applied.returncode == 1
    lines = [line for line in applied.stderr.splitlines() if line.startswith("vaultshift: ")]
    assert any("down: read" in line and "cannot connect" in line for line in lines), applied.stderr
    now = files_now(root, originals)
    assert now["web01/etc/shop/config.ini"] == originals["web01/etc/shop/config.ini"]
    assert now["web01/srv/shop/.env"] == originals["web01/srv/shop/.env"]
    assert canaries["vars"] not in now["ansible/group_vars/all/main.yml"].decode()  # its backend worked
    assert not any(c in applied.stderr for c in canaries.values())


def test_a_sealed_vault_stores_nothing_and_rewrites_nothing(cli, cli_env, tmp_path, fleet, bao_private):
    root, originals, _ = fleet
    env = dict(cli_env, VAULT_ADDR=bao_private.addr, VAULT_TOKEN=bao_private.token)
    assert run(cli, env, tmp_path, "plan", str(root), "-o", "plan.json").returncode == 0
    bao_private.client().sys.seal()
    applied = run(cli, env, tmp_path, *APPLY)
    assert applied.returncode == 1
    assert "sealed" in applied.stderr
    assert files_now(root, originals) == originals


def test_a_token_that_may_only_read_is_forbidden_and_nothing_is_rewritten(cli, vault_env, tmp_path, fleet, bao):
    root, originals, _ = fleet
    client = bao.client()
    client.sys.create_or_update_policy("read-only-apps", 'path "secret/data/*" { capabilities = ["read"] }')
    token = client.auth.token.create(policies=["read-only-apps"], ttl="10m")["auth"]["client_token"]
    assert run(cli, vault_env, tmp_path, "plan", str(root), "-o", "plan.json").returncode == 0
    applied = run(cli, dict(vault_env, VAULT_TOKEN=token), tmp_path, *APPLY)
    assert applied.returncode == 1
    assert "403" in applied.stderr or "forbidden" in applied.stderr.lower() or "permission" in applied.stderr.lower()
    assert files_now(root, originals) == originals


def test_a_file_deleted_after_the_plan_is_named_and_the_rest_goes_on(cli, vault_env, tmp_path, fleet):
    root, _, canaries = fleet
    assert run(cli, vault_env, tmp_path, "plan", str(root), "-o", "plan.json").returncode == 0
    gone = root / "web01/srv/shop/.env"
    gone.unlink()
    applied = run(cli, vault_env, tmp_path, *APPLY)
    assert applied.returncode == 1
    assert f"{gone}: cannot read" in applied.stderr
    assert canaries["config"] not in (root / "web01/etc/shop/config.ini").read_text()


def test_a_broken_plan_or_journal_is_one_line(cli, vault_env, tmp_path):
    (tmp_path / "plan.json").write_text("{not json")
    applied = run(cli, vault_env, tmp_path, *APPLY)
    assert applied.returncode == 2 and applied.stderr.count("\n") == 1 and "plan.json" in applied.stderr
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "journal.sqlite").write_bytes(b"garbage" * 200)
    back = run(cli, vault_env, tmp_path, "rollback", "--state-dir", "state")
    assert back.returncode == 2 and back.stderr.count("\n") == 1 and "not a vaultshift journal" in back.stderr
