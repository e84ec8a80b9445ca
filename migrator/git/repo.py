"""Running git: one plumbing command at a time, bytes in and out, errors as one line."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

ZERO_OID_CHARS = frozenset("0")


class GitError(Exception):
    """A git command failed or the path is not a repository; the message is one line."""


def is_zero_oid(oid: str) -> bool:
    """``0000...``: git's name for "no object" (a created or deleted ref, an added file)."""
    return bool(oid) and set(oid) <= ZERO_OID_CHARS


def display_path(raw: bytes) -> str:
    """A path from git's ``-z`` output as text: UTF-8 where it is, ``\\xNN`` escapes where not."""
    return raw.decode("utf-8", "backslashreplace")


class Git:
    """A repository (bare or not) and the ``git`` executable that reads it."""

    def __init__(self, path: str | os.PathLike[str] = ".", env: Mapping[str, str] | None = None) -> None:
        self.path = Path(path)
        self.env = dict(os.environ if env is None else env)
        # Hooks run with GIT_DIR and friends set for the repository they serve; keep them, but never
        # let git page, prompt or read the user's terminal.
        self.env.update({"GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})

    def argv(self, *args: str) -> list[str]:
        return ["git", "-c", "core.quotePath=false", *args]

    def run(self, *args: str, input: bytes | None = None, ok: Sequence[int] = (0,)) -> bytes:
        """Run ``git ARGS`` in the repository and return its standard output."""
        try:
            proc = subprocess.run(self.argv(*args), cwd=self.path, env=self.env, input=input,
                                  capture_output=True, check=False)
        except FileNotFoundError:
            raise GitError("git is not installed (no 'git' on PATH)") from None
        except NotADirectoryError:
            raise GitError(f"{self.path}: not a directory") from None
        if proc.returncode not in ok:
            raise GitError(f"git {args[0]} failed: {_first_line(proc.stderr) or f'exit status {proc.returncode}'}")
        return proc.stdout

    def popen(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.argv(*args), cwd=self.path, env=self.env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    # -- questions about the repository ------------------------------------------------------
    def check(self) -> None:
        """Raise GitError naming the path when it is not inside a git repository."""
        if not self.path.exists():
            raise GitError(f"{self.path}: no such directory")
        try:
            self.run("rev-parse", "--git-dir")
        except GitError:
            raise GitError(f"{self.path}: not a git repository") from None

    def is_bare(self) -> bool:
        return self.run("rev-parse", "--is-bare-repository").strip() == b"true"

    def is_shallow(self) -> bool:
        return self.run("rev-parse", "--is-shallow-repository").strip() == b"true"

    def top_level(self) -> Path:
        return Path(os.fsdecode(self.run("rev-parse", "--show-toplevel").strip()))

    def git_path(self, name: str) -> Path:
        """``git rev-parse --git-path NAME``: honours core.hooksPath and worktrees."""
        raw = os.fsdecode(self.run("rev-parse", "--git-path", name).strip())
        path = Path(raw)
        return path if path.is_absolute() else self.path / path

    def resolve(self, rev: str) -> str | None:
        """The object id ``rev`` names, or None when it names nothing."""
        out = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", ok=(0, 1))
        return out.decode().strip() or None

    def empty_tree(self) -> str:
        """The id of the empty tree in this repository's hash (SHA-1 or SHA-256)."""
        return self.run("hash-object", "-t", "tree", "--stdin", input=b"").decode().strip()

    def read_file(self, spec: str) -> bytes | None:
        """The file ``spec`` names (``REV:PATH``, ``:PATH`` in the index), or None when there is none."""
        try:
            return self.run("cat-file", "blob", spec)
        except GitError:
            return None

    def lines_of(self, spec: str) -> list[str]:
        """Lines of the file ``spec`` names; none when it does not exist."""
        data = self.read_file(spec)
        return data.decode("utf-8", "replace").splitlines() if data else []

    def commit_info(self, oids: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        """``{oid: (author name, ISO date, subject)}`` for ``oids``, in one call."""
        if not oids:
            return {}
        out = self.run("log", "--no-walk=unsorted", "--stdin", "-z", "--format=%H%x01%an%x01%aI%x01%s",
                       input="\n".join(oids).encode() + b"\n")
        info: dict[str, tuple[str, str, str]] = {}
        for record in out.split(b"\0"):
            fields = record.decode("utf-8", "replace").strip("\n").split("\x01")
            if len(fields) == 4:
                info[fields[0]] = (fields[1], fields[2], fields[3])
        return info


def _first_line(stderr: bytes) -> str:
    for line in stderr.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line:
            return line.removeprefix("fatal: ").removeprefix("error: ")
    return ""
