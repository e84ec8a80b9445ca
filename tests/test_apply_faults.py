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
    applied = run(cli, vault_env, tmp_path, *APPLY, "--concurrency", "1")  # one after another: deterministic
    assert applied.returncode == 1
    lines = [line for line in applied.stderr.splitlines() if line.startswith("vaultshift: ")]
    # The first request to a path no run has stored at is the (conditional) write itself; once it
    # failed the backend is down, and its next secret is not tried (no second wait for retries).
    assert sum(("down: read" in line or "down: write" in line) and "cannot connect" in line
               for line in lines) == 1, applied.stderr
    assert sum("not stored: backend 'down' is down" in line for line in lines) == 1, applied.stderr
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


def test_permission_denied_files_are_named_and_the_rest_goes_on(cli, vault_env, public_dir, token, monkeypatch):
    """As an unprivileged user (root bypasses file modes): a file it cannot read, one it cannot
    replace (a directory it cannot write) and one whose owner it cannot keep are each one line;
    the file it may rewrite is rewritten."""
    import contextlib
    import io
    import os

    from sandbox import NOBODY, run_as_nobody

    from migrator.cli import main

    values = {name: token(24) for name in ("unreadable", "locked", "owned", "ok")}
    fleet = public_dir / "fleet"
    for name in values:
        (fleet / name).mkdir(parents=True)
        (fleet / name / "app.env").write_text(f"API_TOKEN={values[name]}\n")
    os.chmod(fleet / "unreadable" / "app.env", 0o600)  # root's, unreadable to nobody
    for name in ("owned", "ok"):
        os.chown(fleet / name, NOBODY, NOBODY)  # nobody may create files here
    os.chown(fleet / "ok" / "app.env", NOBODY, NOBODY)  # and replace this one, as its owner
    state = public_dir / "state"
    state.mkdir()
    os.chown(state, NOBODY, NOBODY)
    for name, value in vault_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(public_dir)
    assert main(["plan", str(fleet), "-o", str(public_dir / "plan.json")]) == 0
    os.chmod(public_dir / "plan.json", 0o644)
    # The child cannot read this Python's library (under root's home): a first apply here imports
    # everything an apply needs, and the forked child inherits it.
    warm = public_dir / "warm"
    warm.mkdir()
    (warm / "app.env").write_text(f"API_TOKEN={token(24)}\n")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["plan", str(warm), "-o", str(public_dir / "warm.json")]) == 0
        assert main(["apply", str(public_dir / "warm.json"), "--state-dir", str(public_dir / "warm-state"),
                     "--agent-check", "never"]) == 0

    def apply_as_nobody() -> list[object]:
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            status = main(["apply", str(public_dir / "plan.json"), "--state-dir", str(state), "--agent-check", "never"])
        return [status, err.getvalue()]

    status, stderr = run_as_nobody(apply_as_nobody)
    assert status == 1
    assert f"{fleet / 'unreadable' / 'app.env'}: cannot read: Permission denied" in stderr
    assert f"{fleet / 'locked' / 'app.env'}: not rewritten" in stderr
    assert f"{fleet / 'owned' / 'app.env'}: not rewritten" in stderr
    assert values["ok"] not in (fleet / "ok" / "app.env").read_text()  # the rest went on
    for name in ("unreadable", "locked", "owned"):
        assert values[name] in (fleet / name / "app.env").read_text()
    assert "Traceback" not in stderr and not any(v in stderr for v in values.values())
