"""``guard install``: write a git hook that runs this vaultshift.

The hook calls the Python interpreter vaultshift runs under by absolute path, so it works from
GUI git clients and servers whose PATH lacks the virtualenv. An existing hook that vaultshift did
not write is never overwritten without ``force`` (it is then kept beside the new one as
``NAME.pre-vaultshift``).
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path

from migrator.git.repo import Git, GitError

MARKER = "# installed by vaultshift guard install"
HOOKS = ("pre-commit", "pre-receive")


def hook_script(hook: str, options: tuple[str, ...] = ()) -> str:
    argv = [sys.executable, "-m", "migrator", "guard", hook, *options]
    return f"#!/bin/sh\n{MARKER}\nexec {shlex.join(argv)}\n"


def install(git: Git, hook: str | None = None, force: bool = False, options: tuple[str, ...] = (),
            check: bool = False) -> tuple[Path, str, bool]:
    """Write the hook; returns its path, the hook's name and whether it changed (False: the same
    hook was in place already). ``hook`` defaults to pre-receive in a bare repository and
    pre-commit in one with a work tree. ``check``: say what would change, write nothing."""
    git.check()
    name = hook or ("pre-receive" if git.is_bare() else "pre-commit")
    if name not in HOOKS:
        raise GitError(f"unknown hook {name!r}: use {' or '.join(HOOKS)}")
    path = git.git_path(f"hooks/{name}")
    script = hook_script(name, options)
    if path.exists() or path.is_symlink():
        try:
            current = path.read_text(errors="replace")
        except OSError:
            current = ""
        if current == script and not path.is_symlink() and os.access(path, os.X_OK):
            return path, name, False
        if MARKER not in current and not force:
            raise GitError(f"{path}: a {name} hook already exists and was not written by vaultshift; "
                           f"use --force to replace it (it is kept as {name}.pre-vaultshift)")
        if MARKER not in current and not check:
            os.replace(path, path.with_name(f"{name}.pre-vaultshift"))
    if check:
        return path, name, True
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
    tmp.write_text(script)
    tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.replace(tmp, path)
    return path, name, True
