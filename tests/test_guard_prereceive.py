"""``vaultshift guard pre-receive``: a real bare repository with the hook installed, pushed to with
``git push``."""

from __future__ import annotations

import pytest
from assertions import one_line_error
from gitrepo import GitRepo, fast_import_commits

ZERO = "0" * 40


@pytest.fixture
def server(repo, cli):
    """A bare repository with the vaultshift pre-receive hook, and a clone to push from."""
    bare = repo("server.git", bare=True)
    installed = cli("guard", "install", str(bare.path), env=bare.env)
    assert installed.returncode == 0, installed.stderr
    assert "pre-receive hook written" in installed.stderr
    work = GitRepo(bare.path.parent / "work", bare.env, init=False)
    work.path.mkdir()
    work.git("init", "-q")
    work.git("remote", "add", "origin", str(bare.path))
    return bare, work


def push(work: GitRepo, *args: str):
    return work.git("push", "origin", *args, check=False)


def test_a_push_adding_a_secret_is_rejected_naming_commit_file_line_and_kind(server, token):
    bare, work = server
    work.commit("init", {"app.yml": "name: api\n"})
    assert push(work, "main").returncode == 0
    secret = token(24)
    leak = work.commit("add db", {"app.yml": f"name: api\ndb_password: {secret}\n"})
    work.commit("unrelated", {"notes.txt": "hello\n"})
    result = push(work, "main")
    err = result.stderr.decode()
    assert result.returncode != 0
    assert "pre-receive hook declined" in err
    assert f"{leak[:12]} app.yml:2:14 password at db_password (keyword-password" in err
    assert "(refs/heads/main)" in err
    assert secret not in err
    assert bare.out("rev-parse", "main") != work.out("rev-parse", "main")  # the ref did not move


def test_clean_pushes_new_branches_tags_and_deletions_are_accepted(server, token):
    bare, work = server
    work.commit("init", {"app.env": "HOST=db1\n"})
    assert push(work, "main").returncode == 0
    work.git("checkout", "-q", "-b", "feature")
    work.commit("feature", {"app.env": "HOST=db1\nDB_PASSWORD=${DB_PASSWORD}\n"})
    assert push(work, "feature").returncode == 0
    work.git("tag", "-a", "v1", "-m", "release")
    assert push(work, "v1").returncode == 0
    assert push(work, "--delete", "feature").returncode == 0
    assert bare.git("rev-parse", "--verify", "-q", "feature", check=False).returncode != 0


def test_only_new_commits_are_scanned(server, repo, cli, token):
    """History that is already on the server (from before the hook) does not block a new branch."""
    bare, work = server
    hook = bare.path / "hooks" / "pre-receive"
    hook.rename(hook.with_suffix(".off"))
    work.commit("legacy", {"old.env": f"API_TOKEN={token(24)}\n"})
    assert push(work, "main").returncode == 0
    hook.with_suffix(".off").rename(hook)
    work.git("checkout", "-q", "-b", "topic")
    work.commit("topic", {"readme.md": "docs\n"})
    result = push(work, "topic")
    assert result.returncode == 0, result.stderr.decode()


def test_a_tag_on_a_leaking_commit_and_a_force_push_that_removes_it(server, token):
    _bare, work = server
    work.commit("init", {"a.txt": "a\n"})
    assert push(work, "main").returncode == 0
    work.commit("leak", {"deploy.sh": f"export AWS_SECRET_ACCESS_KEY={token(40)}\n"})
    work.git("tag", "-a", "v2", "-m", "release")
    tag = push(work, "v2")
    assert tag.returncode != 0 and "(refs/tags/v2)" in tag.stderr.decode()
    work.git("tag", "-d", "v2")
    work.git("reset", "-q", "--hard", "HEAD~1")
    work.commit("no leak", {"deploy.sh": "export AWS_SECRET_ACCESS_KEY=$(vault kv get -field=key secret/aws)\n"})
    forced = push(work, "--force", "main")
    assert forced.returncode == 0, forced.stderr.decode()


def test_allow_comments_and_the_committed_baseline_are_honoured(server, cli, token):
    _bare, work = server
    work.commit("allowed", {"a.env": f"API_TOKEN={token(24)} # vaultshift: allow\n"})
    assert push(work, "main").returncode == 0
    work.write({"b.env": f"API_TOKEN={token(24)}\n"})
    created = cli("baseline", "create", ".", "-o", ".vaultshift-baseline.json", env=work.env, cwd=work.path)
    assert created.returncode == 0, created.stderr
    work.commit("accepted", {"b.env": (work.path / "b.env").read_text(),
                             ".vaultshift-baseline.json": (work.path / ".vaultshift-baseline.json").read_text()})
    result = push(work, "main")
    assert result.returncode == 0, result.stderr.decode()
    work.commit("new one", {"c.env": f"API_TOKEN={token(24)}\n"})
    result = push(work, "main")
    assert result.returncode != 0 and "c.env:1" in result.stderr.decode()


def test_a_broken_committed_baseline_is_named(server):
    _bare, work = server
    work.commit("bad", {".vaultshift-baseline.json": "{not json"})
    err = push(work, "main").stderr.decode()
    assert "refs/heads/main:.vaultshift-baseline.json: baseline is not valid JSON" in err


def _objects_without_refs(bare: GitRepo, work: GitRepo, count: int) -> str:
    """Push ``count`` commits to a scratch ref, then drop the ref: the objects stay, as in a push
    that git has received but not yet accepted."""
    fast_import_commits(work, count, branch="bulk")
    hook = bare.path / "hooks" / "pre-receive"
    hook.rename(hook.with_suffix(".off"))
    assert push(work, "bulk:refs/scratch/bulk").returncode == 0
    hook.with_suffix(".off").rename(hook)
    tip = bare.out("rev-parse", "refs/scratch/bulk")
    bare.git("update-ref", "-d", "refs/scratch/bulk")
    return tip


@pytest.mark.parametrize(("policy", "status", "said"), [
    ("reject", 1, "policy on timeout is reject"),
    ("allow", 0, "policy on timeout is allow: the rest of this push was NOT scanned"),
])
def test_time_budget_policy(server, cli, policy, status, said):
    bare, work = server
    tip = _objects_without_refs(bare, work, 300)
    run = cli("guard", "pre-receive", "--time-budget", "0.000001", "--on-timeout", policy,
              env=bare.env, cwd=bare.path, input=f"{ZERO} {tip} refs/heads/bulk\n")
    assert run.returncode == status, run.stderr
    assert said in run.stderr and "time budget ran out" in run.stderr


def test_a_push_of_ten_thousand_commits_ends_with_a_clear_verdict(server, cli):
    bare, work = server
    fast_import_commits(work, 10_000, branch="main")
    result = push(work, "main")
    err = result.stderr.decode()
    assert "Traceback" not in err
    if result.returncode != 0:  # over the default 5 s budget on a slow machine: rejected by policy
        assert "time budget ran out" in err and "commits scanned" in err
    else:
        assert bare.out("rev-parse", "main") == work.out("rev-parse", "main")


def test_malformed_stdin_is_one_line(server, cli):
    bare, _ = server
    one_line_error(cli("guard", "pre-receive", env=bare.env, cwd=bare.path, input="not a ref update\n"),
                   "stdin line 1")


def test_first_push_to_an_empty_server(server, token):
    _, work = server
    work.commit("one", {"a.ini": f"[db]\npassword = {token(20)}\n"})
    result = push(work, "main")
    assert result.returncode != 0 and "a.ini:2" in result.stderr.decode()


def test_several_refs_in_one_push_scan_shared_commits_once(server, token):
    _, work = server
    work.commit("init", {"a.txt": "a\n"})
    leak = work.commit("leak", {"b.env": f"API_TOKEN={token(24)}\n"})
    work.git("branch", "copy")
    result = push(work, "main", "copy")
    err = result.stderr.decode()
    assert result.returncode != 0
    assert err.count(f"{leak[:12]} b.env:1") == 1  # reported under the first ref only
