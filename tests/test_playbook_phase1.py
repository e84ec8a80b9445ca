"""playbooks/phase1_guard.yml through the real ansible-playbook on a two-host local fleet: every
listed repository gets its hook (pre-receive in a bare one, pre-commit in a work tree), a second
run changes nothing, check mode writes nothing, a foreign hook stops the play until forced, and
the installed pre-receive hook refuses a real push that carries a secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ansible_run import REPO, run_playbook

PLAYBOOK = (REPO / "playbooks" / "phase1_guard.yml").read_text()


def git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd or Path.cwd()), "PATH": "/usr/bin:/bin",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.fixture
def fleet(tmp_path: Path) -> dict[str, Any]:
    repos: dict[str, list[str]] = {}
    for host in ("git01", "dev01"):
        bare, work = tmp_path / host / "srv" / "app.git", tmp_path / host / "home" / "app"
        assert git("init", "-q", "--bare", str(bare)).returncode == 0
        assert git("init", "-q", str(work)).returncode == 0
        repos[host] = [str(bare), str(work)]
    return {"repos": repos}


def inventory(fleet: dict[str, Any]) -> str:
    """A YAML inventory (JSON is YAML) of the fleet's hosts and their repositories."""
    hosts = {host: {"ansible_connection": "local", "vaultshift_repositories": repos}
             for host, repos in fleet["repos"].items()}
    return json.dumps({"fleet": {"hosts": hosts, "vars": {"vaultshift_install": False,
                                                          "vaultshift_python": sys.executable}}})


def hooks(fleet: dict[str, Any]) -> dict[str, bool]:
    found = {}
    for repos in fleet["repos"].values():
        bare, work = Path(repos[0]), Path(repos[1])
        found[str(bare)] = (bare / "hooks" / "pre-receive").exists()
        found[str(work)] = (work / ".git" / "hooks" / "pre-commit").exists()
    return found


def changed_items(output: str) -> int:
    """Repositories the hook task changed (or, in check mode, would change): one line per item."""
    return sum(1 for line in output.splitlines() if line.startswith("changed: [") and "(item=" in line)


def test_every_repository_is_guarded_once(tmp_path: Path, fleet: dict[str, Any]):
    checked = run_playbook(tmp_path / "check", PLAYBOOK, inventory(fleet), "--check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert not any(hooks(fleet).values())
    assert changed_items(checked.stdout) == 4

    first = run_playbook(tmp_path / "first", PLAYBOOK, inventory(fleet))
    assert first.returncode == 0, first.stdout + first.stderr
    assert all(hooks(fleet).values())
    assert changed_items(first.stdout) == 4

    second = run_playbook(tmp_path / "second", PLAYBOOK, inventory(fleet))
    assert second.returncode == 0
    assert changed_items(second.stdout) == 0 and "ok: [git01] => (item=" in second.stdout

    # The pre-receive hook works: a push carrying a secret is refused, a clean one accepted.
    bare = Path(fleet["repos"]["git01"][0])
    clone = tmp_path / "clone"
    assert git("clone", "-q", str(bare), str(clone)).returncode == 0
    (clone / "app.env").write_text("DB_PASSWORD=Zq8rT2vLx9WmN4pK7sJd\n")
    git("add", ".", cwd=clone)
    git("commit", "-qm", "leak", "--no-verify", cwd=clone)
    pushed = git("push", "-q", "origin", "HEAD:main", cwd=clone)
    assert pushed.returncode != 0 and "vaultshift" in pushed.stderr
    assert git("rev-parse", "--verify", "-q", "main", cwd=bare).returncode != 0


def test_a_foreign_hook_stops_the_play_until_forced(tmp_path: Path, fleet: dict[str, Any]):
    work = Path(fleet["repos"]["dev01"][1])
    foreign = work / ".git" / "hooks" / "pre-commit"
    foreign.write_text("#!/bin/sh\necho theirs\n")
    refused = run_playbook(tmp_path / "refused", PLAYBOOK, inventory(fleet))
    assert refused.returncode == 2
    assert "already exists and was not written by vaultshift" in refused.stdout
    assert foreign.read_text() == "#!/bin/sh\necho theirs\n"

    forced = dict(fleet)
    forced["repos"] = {**fleet["repos"], "dev01": [fleet["repos"]["dev01"][0],
                                                   {"path": str(work), "force": True}]}
    ok = run_playbook(tmp_path / "forced", PLAYBOOK, inventory(forced))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "vaultshift" in foreign.read_text()
    assert (foreign.parent / "pre-commit.pre-vaultshift").read_text() == "#!/bin/sh\necho theirs\n"
