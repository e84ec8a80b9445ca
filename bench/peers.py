"""Peer scanners for the benchmark, in their own virtual environment.

detect-secrets and trufflehog3 are installed into ``bench/.peers`` (a plain ``python -m venv``),
never into the project venv: trufflehog3 pins old Jinja2/PyYAML releases that must not
constrain vaultshift's own dependencies. Installation happens only when a pinned peer is
missing or has the wrong version, and uses pip's configured index only.

    python bench/peers.py          # install if missing, print the versions
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PEERS_DIR = BENCH_DIR / ".peers"

# distribution name -> (pinned version, console script)
PINS: dict[str, tuple[str, str]] = {
    "detect-secrets": ("1.5.0", "detect-secrets"),
    "trufflehog3": ("3.0.10", "trufflehog3"),
}


def peers_bin(peers_dir: Path = PEERS_DIR) -> Path:
    return peers_dir / "bin"


def installed_versions(peers_dir: Path = PEERS_DIR) -> dict[str, str | None]:
    """Versions of the pinned peers inside the peers venv (None: not installed)."""
    python = peers_bin(peers_dir) / "python"
    if not python.exists():
        return dict.fromkeys(PINS)
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        out[name] = m.version(name)\n"
        "    except m.PackageNotFoundError:\n"
        "        out[name] = None\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([str(python), "-c", code, *PINS], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return dict.fromkeys(PINS)
    found: dict[str, str | None] = json.loads(proc.stdout)
    return found


def ensure_peers(peers_dir: Path = PEERS_DIR, quiet: bool = False) -> dict[str, Path]:
    """Make sure the pinned peers are installed; return {tool name: path of its executable}."""
    versions = installed_versions(peers_dir)
    missing = [name for name, (pin, _) in PINS.items() if versions.get(name) != pin]
    scripts = {name: peers_bin(peers_dir) / script for name, (_, script) in PINS.items()}
    if not missing and all(path.exists() for path in scripts.values()):
        return scripts

    if not (peers_bin(peers_dir) / "python").exists():
        if not quiet:
            print(f"peers: creating virtual environment {peers_dir}", file=sys.stderr)
        # sys.executable may itself be a venv's python; venv then builds on its base interpreter.
        subprocess.run([sys.executable, "-m", "venv", str(peers_dir)], check=True)

    specs = [f"{name}=={pin}" for name, (pin, _) in PINS.items()]
    if not quiet:
        print(f"peers: installing {' '.join(specs)} into {peers_dir}", file=sys.stderr)
    cmd = [str(peers_bin(peers_dir) / "python"), "-m", "pip", "install", "--quiet", *specs]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError("pip install of the peers failed:\n" + "\n".join(tail))

    versions = installed_versions(peers_dir)
    wrong = {name: versions.get(name) for name, (pin, _) in PINS.items() if versions.get(name) != pin}
    if wrong:
        raise RuntimeError(f"peers venv still has wrong versions after install: {wrong}")
    return scripts


def main() -> int:
    try:
        scripts = ensure_peers()
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"peers: {exc}", file=sys.stderr)
        return 1
    versions = installed_versions()
    for name, path in scripts.items():
        print(f"{name} {versions.get(name)}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
