"""``vaultshift guard pre-commit`` and ``guard install`` in real repositories, run by real git."""

from __future__ import annotations

import json
import os
import stat
import uuid

import pytest
from assertions import one_line_error

BLOCKED = 1


def hook(repo, cli, *args):
    return cli("guard", "pre-commit", *args, env=repo.env, cwd=repo.path)


def test_a_staged_secret_blocks_with_file_line_kind_and_no_value(repo, cli, token):
    work = repo()
    work.commit("init", {"app.yml": "db:\n  host: db1\n"})
    secret = token(20)
    work.stage({"app.yml": f"db:\n  host: db1\n  password: {secret}\n"})
    run = hook(work, cli)
    assert run.returncode == BLOCKED
    assert "app.yml:3:13 password at db.password (keyword-password" in run.stderr
    assert "commit blocked: 1 secret" in run.stderr and "how to fix" in run.stderr
    assert secret not in run.stderr + run.stdout


def test_only_the_index_counts_not_the_work_tree(repo, cli, token):
    work = repo()
    work.commit("init", {"app.env": "HOST=db1\n"})
    work.write({"app.env": f"HOST=db1\nDB_PASSWORD={token(20)}\n"})  # not staged
    assert hook(work, cli).returncode == 0
    work.git("add", "app.env")
    work.write({"app.env": "HOST=db1\n"})  # staged version still has it
    assert hook(work, cli).returncode == BLOCKED


def test_lines_already_committed_are_not_reported_again(repo, cli, token):
    work = repo()
    secret = token(20)
    work.commit("legacy", {"app.env": f"DB_PASSWORD={secret}\nHOST=db1\n"})  # made before the hook
    work.stage({"app.env": f"HOST=db2\nDB_PASSWORD={secret}\nPORT=5432\n"})  # edited and moved around
    run = hook(work, cli)
    assert run.returncode == 0, run.stderr


def test_first_commit_of_an_empty_repository(repo, cli, token):
    work = repo()
    work.stage({"settings.py": f'SECRET_KEY = "{token(40)}"\n'})
    run = hook(work, cli)
    assert run.returncode == BLOCKED
    assert "settings.py:1" in run.stderr


def test_allow_comment_baseline_and_ignore_file(repo, cli, token):
    work = repo()
    work.commit("init", {"README.md": "x\n"})
    allowed = token(20)
    work.stage({"a.env": f"API_TOKEN={allowed}  # vaultshift: allow\n"})
    assert hook(work, cli).returncode == 0
    work.stage({"fixtures/b.env": f"API_TOKEN={token(20)}\n", ".vaultshiftignore": "fixtures/\n"})
    assert hook(work, cli).returncode == 0
    work.stage({"c.env": f"API_TOKEN={token(20)}\n"})
    assert hook(work, cli).returncode == BLOCKED
    blocked = hook(work, cli)
    assert "`vaultshift baseline update .`" in blocked.stderr  # the advice works as printed:
    created = cli("baseline", "update", ".", env=work.env, cwd=work.path)
    assert created.returncode == 0, created.stderr
    run = hook(work, cli)  # the baseline at the top of the work tree is picked up
    assert run.returncode == 0, run.stderr


def test_bare_uuids_do_not_block_by_default(repo, cli):
    work = repo()
    work.stage({"collection.json": json.dumps({"info": {"id": str(uuid.uuid4())}})})
    assert hook(work, cli).returncode == 0
    assert hook(work, cli, "--min-confidence", "low").returncode == BLOCKED


def test_binary_huge_submodule_and_odd_paths(repo, cli, token):
    work = repo()
    sub = repo("sub")
    sub.commit("sub", {"x": "1\n"})
    work.commit("init", {"README.md": "x\n"})
    work.stage({"logo.png": b"\x89PNG\r\n\x1a\n" + os.urandom(64),
                "big.txt": "line\n" * 50_000,
                "caf\u00e9/secret.env": f"API_TOKEN={token(24)}\n"})
    work.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "vendor/sub")
    run = hook(work, cli, "--max-file-size", "100K")
    assert run.returncode == BLOCKED
    assert "caf\u00e9/secret.env:1" in run.stderr
    assert "warning: big.txt: " in run.stderr
    assert "warning: vendor/sub: submodule" in run.stderr
    assert "Traceback" not in run.stderr


def test_not_a_repository_is_one_line(tmp_path, cli, git_cli_env):
    one_line_error(cli("guard", "pre-commit", env=git_cli_env, cwd=tmp_path), "not a git repository")


def test_installed_hook_blocks_a_real_commit(repo, cli, token):
    work = repo()
    installed = cli("guard", "install", env=work.env, cwd=work.path)
    assert installed.returncode == 0, installed.stderr
    hook_file = work.path / ".git" / "hooks" / "pre-commit"
    assert hook_file.stat().st_mode & stat.S_IXUSR
    work.stage({"app.env": f"DB_PASSWORD={token(20)}\n"})
    commit = work.git("commit", "-qm", "leak", check=False)
    assert commit.returncode != 0
    assert b"commit blocked" in commit.stderr
    assert work.git("rev-parse", "--verify", "-q", "HEAD", check=False).returncode != 0  # nothing committed
    work.stage({"app.env": "DB_PASSWORD=${DB_PASSWORD}\n"})
    assert work.git("commit", "-qm", "ok", check=False).returncode == 0


def test_install_respects_hooks_path_and_foreign_hooks(repo, cli):
    work = repo()
    work.git("config", "core.hooksPath", "githooks")
    (work.path / "githooks").mkdir()
    foreign = work.path / "githooks" / "pre-commit"
    foreign.write_text("#!/bin/sh\necho mine\n")
    refused = cli("guard", "install", env=work.env, cwd=work.path)
    assert refused.returncode == 2 and "already exists" in refused.stderr
    assert foreign.read_text() == "#!/bin/sh\necho mine\n"
    forced = cli("guard", "install", "--force", env=work.env, cwd=work.path)
    assert forced.returncode == 0
    assert "vaultshift" in foreign.read_text()
    assert (work.path / "githooks" / "pre-commit.pre-vaultshift").read_text() == "#!/bin/sh\necho mine\n"
    again = cli("guard", "install", env=work.env, cwd=work.path)  # its own hook: rewritten in place
    assert again.returncode == 0


def test_install_twice_changes_nothing_and_check_writes_nothing(repo, cli):
    work = repo()
    hook_file = work.path / ".git" / "hooks" / "pre-commit"
    checked = cli("guard", "install", "--check", env=work.env, cwd=work.path)
    assert checked.returncode == 0 and "hook would be written to" in checked.stderr
    assert not hook_file.exists()
    first = cli("guard", "install", env=work.env, cwd=work.path)
    assert first.returncode == 0 and "hook written to" in first.stderr
    before = hook_file.stat().st_mtime_ns
    second = cli("guard", "install", env=work.env, cwd=work.path)
    assert second.returncode == 0 and "hook already in place at" in second.stderr
    assert hook_file.stat().st_mtime_ns == before
    hook_file.chmod(0o644)  # not executable any more: written again
    assert "hook written to" in cli("guard", "install", env=work.env, cwd=work.path).stderr
    assert hook_file.stat().st_mode & stat.S_IXUSR


def test_pre_commit_hooks_manifest_is_valid():
    from pathlib import Path

    import yaml

    ROOT = Path(__file__).resolve().parent.parent

    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    [entry] = [h for h in hooks if h["id"] == "vaultshift"]
    assert entry["entry"] == "vaultshift guard pre-commit"
    assert entry["pass_filenames"] is False
    assert entry["language"] == "python"


@pytest.mark.parametrize("value", ["${DB_PASSWORD}", "{{ vault_db_password }}"])
def test_references_pass(repo, cli, value):
    work = repo()
    work.stage({"app.env": f"DB_PASSWORD={value}\n"})
    assert hook(work, cli).returncode == 0


def test_concluding_a_merge_reports_only_what_the_merge_itself_adds(repo, cli, token):
    work = repo()
    work.commit("init", {"a.yml": "x: 1\n"})
    work.git("checkout", "-q", "-b", "legacy")
    work.commit("legacy", {"old.env": f"API_TOKEN={token(24)}\n"})  # committed before the hook existed
    work.git("checkout", "-q", "main")
    work.commit("main work", {"a.yml": "x: 2\n"})
    work.git("merge", "-q", "--no-commit", "--no-ff", "legacy")
    assert hook(work, cli).returncode == 0
    work.stage({"old.env": f"API_TOKEN={token(24)}\n"})  # an edit made while resolving the merge
    assert hook(work, cli).returncode == BLOCKED
