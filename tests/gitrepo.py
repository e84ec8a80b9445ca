"""Real git repositories for tests: made in temporary directories, driven by the git CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_env(base: dict[str, str], home: Path) -> dict[str, str]:
    """``base`` plus an isolated git identity and configuration (no user or system config)."""
    env = dict(base)
    config = home / "gitconfig"
    if not config.exists():
        config.write_text("[init]\n\tdefaultBranch = main\n[user]\n\tname = Test Author\n\temail = author@example.org\n"
                          "[advice]\n\tdetachedHead = false\n")
    env.update(GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    return env


class GitRepo:
    def __init__(self, path: Path, env: dict[str, str], bare: bool = False, init: bool = True) -> None:
        self.path = path
        self.env = env
        if init:
            path.mkdir(parents=True, exist_ok=True)
            self.git("init", "-q", *(["--bare"] if bare else []))

    def git(self, *args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(["git", *args], cwd=self.path, env=self.env, input=input, capture_output=True,
                              timeout=120, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
        return proc

    def out(self, *args: str) -> str:
        return self.git(*args).stdout.decode().strip()

    def write(self, files: dict[str, str | bytes]) -> None:
        for name, content in files.items():
            path = self.path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")

    def stage(self, files: dict[str, str | bytes]) -> None:
        self.write(files)
        self.git("add", "--", *files)

    def commit(self, message: str, files: dict[str, str | bytes] | None = None) -> str:
        if files:
            self.stage(files)
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.out("rev-parse", "HEAD")

    def remove(self, *names: str) -> None:
        self.git("rm", "-q", "--", *names)


def fast_import_commits(repo: GitRepo, count: int, branch: str = "main", files_per_commit: int = 1) -> None:
    """``count`` commits on ``branch`` made in one ``git fast-import`` run (seconds for thousands)."""
    lines: list[bytes] = []
    exists = repo.git("rev-parse", "--verify", "-q", f"refs/heads/{branch}", check=False).returncode == 0
    for number in range(1, count + 1):
        lines.append(f"commit refs/heads/{branch}\n".encode())
        lines.append(f"committer Test Author <author@example.org> {1_700_000_000 + number} +0000\n".encode())
        message = f"change {number}\n".encode()
        lines.append(b"data %d\n%s" % (len(message), message))
        if number == 1 and exists:  # later commits continue from the branch fast-import is building
            lines.append(f"from refs/heads/{branch}^0\n".encode())
        for index in range(files_per_commit):
            body = f"name: service-{number}-{index}\nreplicas: {number % 7}\n".encode()
            lines.append(f"M 100644 inline conf/service-{(number + index) % 50}.yml\n".encode())
            lines.append(b"data %d\n%s\n" % (len(body), body))
    repo.git("fast-import", "--quiet", input=b"".join(lines))
