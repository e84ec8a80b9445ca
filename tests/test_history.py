"""``vaultshift scan --git``: the whole history of a real repository."""

from __future__ import annotations

import json

from assertions import one_line_error
from gitrepo import GitRepo, fast_import_commits


def history(cli, work: GitRepo, *args: str) -> tuple[int, dict]:
    run = cli("scan", "--git", str(work.path), "--format", "json", "--no-progress", *args, env=work.env)
    assert "Traceback" not in run.stderr
    return run.returncode, json.loads(run.stdout) if run.stdout else {}


def test_a_removed_secret_is_found_and_attributed_to_the_commit_that_added_it(repo, cli, token):
    work = repo()
    secret = token(24)
    work.commit("init", {"app.yml": "name: api\n"})
    leak = work.commit("add db", {"app.yml": f"name: api\ndb:\n  password: {secret}\n"})
    work.commit("edit", {"app.yml": f"name: api2\ndb:\n  password: {secret}\n"})  # same line kept: not new
    work.commit("remove", {"app.yml": "name: api2\n"})
    status, report = history(cli, work)
    assert status == 1
    [finding] = report["findings"]
    assert (finding["path"], finding["line"], finding["key_path"]) == ("app.yml", 3, "db.password")
    assert finding["commit"] == leak
    assert [c["commit"] for c in finding["commits"]] == [leak]
    assert finding["commits"][0]["author"] == "Test Author" and finding["commits"][0]["subject"] == "add db"
    assert secret not in json.dumps(report)


def test_a_secret_added_on_two_branches_has_two_introductions(repo, cli, token):
    work = repo()
    secret = token(24)
    work.commit("init", {"README.md": "x\n"})
    work.git("checkout", "-q", "-b", "a")
    first = work.commit("a", {"deploy.env": f"API_TOKEN={secret}\n"})
    work.git("checkout", "-q", "main")
    work.git("checkout", "-q", "-b", "b")
    second = work.commit("b", {"deploy.env": f"# copied\nAPI_TOKEN={secret}\n"})
    _, report = history(cli, work)
    [finding] = report["findings"]
    assert sorted(c["commit"] for c in finding["commits"]) == sorted([first, second])


def test_every_blob_is_scanned_once(repo, cli, token):
    work = repo()
    work.commit("one", {"a.env": f"API_TOKEN={token(24)}\n", "b.yml": "x: 1\n"})
    work.git("checkout", "-q", "-b", "side")
    work.commit("two", {"b.yml": "x: 2\n"})
    work.git("checkout", "-q", "main")
    work.commit("three", {"b.yml": "x: 2\n"})  # the same blob again, on another branch
    work.git("merge", "-q", "--no-edit", "side")
    _, report = history(cli, work)
    assert report["stats"]["files_scanned"] == 3  # a.env, b.yml v1, b.yml v2
    assert len(report["findings"]) == 1


def test_since_limits_the_history(repo, cli, token):
    work = repo()
    work.commit("old leak", {"a.env": f"API_TOKEN={token(24)}\n"})
    base = work.commit("base", {"README.md": "x\n"})
    fresh = work.commit("new leak", {"b.env": f"API_TOKEN={token(24)}\n"})
    _, everything = history(cli, work)
    assert len(everything["findings"]) == 2
    _, recent = history(cli, work, "--since", base)
    assert [f["commit"] for f in recent["findings"]] == [fresh]
    status, _ = history(cli, work, "--since", "no-such-rev")
    assert status == 2


def test_empty_repository_and_not_a_repository(repo, cli, tmp_path, git_cli_env):
    work = repo()
    status, report = history(cli, work)
    assert status == 0 and report["findings"] == []
    one_line_error(cli("scan", "--git", str(tmp_path), env=git_cli_env), "not a git repository")


def test_shallow_clone_says_what_is_missing(repo, cli, token, tmp_path):
    origin = repo("origin")
    fast_import_commits(origin, 20)
    origin.git("checkout", "-q", "main")
    origin.commit("leak", {"c.env": f"API_TOKEN={token(24)}\n"})
    shallow = GitRepo(tmp_path / "shallow", origin.env, init=False)
    origin.git("clone", "-q", "--depth", "3", f"file://{origin.path}", str(shallow.path))
    status, report = history(cli, shallow)
    assert status == 1
    assert any("shallow clone" in e["reason"] and e["severity"] == "note" for e in report["errors"])


def test_table_names_the_commit(repo, cli, token):
    work = repo()
    leak = work.commit("leak", {"a.env": f"API_TOKEN={token(24)}\n"})
    run = cli("scan", "--git", str(work.path), "--no-progress", env=work.env)
    assert f"{leak[:12]}:a.env:1" in run.stdout


def test_paths_that_are_not_utf8_and_blobs_over_the_cap(repo, cli, token):
    work = repo()
    work.commit("odd", {"conf\udcff.env": f"API_TOKEN={token(24)}\n", "big.txt": "line\n" * 40_000})
    status, report = history(cli, work, "--max-file-size", "100K")
    assert status == 2  # a blob left unscanned makes the report incomplete
    assert [f["path"] for f in report["findings"]] == ["conf\\xff.env"]
    [error] = [e for e in report["errors"] if e["path"].endswith("big.txt")]
    assert error["severity"] == "error" and "larger than" in error["reason"]
