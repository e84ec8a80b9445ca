"""The real ``ansible-playbook`` for tests: the collection from this checkout, the venv's Python on
both sides, and a temporary HOME, local temp and configuration, so that nothing of the machine's
own Ansible setup takes part and nothing is left behind."""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / "collections"
PLUGINS = COLLECTIONS / "ansible_collections" / "vaultshift" / "secrets" / "plugins"
BIN = Path(sys.executable).parent
_KEEP = ("PATH", "TMPDIR", "VAULTSHIFT_FINGERPRINT_KEY")
RUNTIME_DIRS: set[Path] = set()  # made by runtime_dir(); conftest removes them at the end


def ansible_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of one Ansible run rooted at ``home`` (made if missing)."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "ansible.cfg"
    if not config.exists():
        config.write_text("[defaults]\n")
    runtime = runtime_dir(home)
    env = {k: v for k, v in os.environ.items() if k in _KEEP}
    env.update({
        "HOME": str(home),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "ANSIBLE_CONFIG": str(config),
        "XDG_RUNTIME_DIR": str(runtime),
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCAL_TEMP": str(home / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(home / "ansible-remote"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
    })
    env.update(extra or {})
    return env


def runtime_dir(home: Path) -> Path:
    """The private runtime directory (XDG_RUNTIME_DIR) of the runs rooted at ``home``, where their
    lookup sessions live: short, under /tmp (a unix socket's path has at most 107 bytes, and
    pytest's directories are long), one per home, removed at the end of the test session."""
    runtime = Path("/tmp") / f"vsrt-{hashlib.sha256(str(home).encode()).hexdigest()[:12]}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    RUNTIME_DIRS.add(runtime)
    return runtime


def run_playbook(workdir: Path, playbook: str, inventory: str, *args: str, env: Mapping[str, str] | None = None,
                 timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Write ``playbook`` and ``inventory`` (YAML or INI text) into ``workdir`` and run
    ``ansible-playbook`` on them; stdout and stderr are returned as text."""
    workdir.mkdir(parents=True, exist_ok=True)
    book = workdir / "playbook.yml"
    book.write_text(playbook)
    hosts = workdir / ("inventory.yml" if inventory.lstrip().startswith(("{", "---", "all:")) else "inventory")
    hosts.write_text(inventory)
    return ansible("ansible-playbook", "-i", str(hosts), str(book), *args, home=workdir / "home", env=env,
                   cwd=workdir, timeout=timeout)


def ansible(tool: str, *args: str, home: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """One Ansible command line tool (``ansible-playbook``, ``ansible-doc``, ``ansible-galaxy``) from the venv."""
    argv: Sequence[str] = [str(BIN / tool), *args]
    return subprocess.run(argv, cwd=cwd or home, env=ansible_env(home, env), capture_output=True, text=True,
                          timeout=timeout, check=False)


def plugin(name: str) -> Any:
    """A plugin file of the checkout's collection (``modules.scan``), imported in this process."""
    if str(COLLECTIONS) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS))
    return importlib.import_module(f"ansible_collections.vaultshift.secrets.plugins.{name}")
