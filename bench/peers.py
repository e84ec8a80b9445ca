"""Peer scanners for the benchmark, in their own virtual environment.

detect-secrets and trufflehog3 are installed into ``bench/.peers`` (a plain ``python -m venv``),
never into the project venv: trufflehog3 pins old Jinja2/PyYAML releases that must not
constrain vaultshift's own dependencies. Installation happens only when a pinned peer is
missing or has the wrong version, and uses pip's configured index only.

community.hashi_vault (the peer of the lookup bench, bench/lookup.py) is an Ansible collection,
not a Python package: it ships inside the full ``ansible`` package, which must not go into the
project venv either (it would shadow the checkout's ansible-core setup with ~100 collections).
:func:`ensure_hashi_vault` downloads that one wheel with pip (``pip download --no-deps``, pip's
configured index) and extracts only ``ansible_collections/community/hashi_vault/`` into
``bench/.peers/collections``, to be put on ``ANSIBLE_COLLECTIONS_PATH`` beside the checkout's.

    python bench/peers.py          # install if missing, print the versions
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PEERS_DIR = BENCH_DIR / ".peers"

# distribution name -> (pinned version, console script)
PINS: dict[str, tuple[str, str]] = {
    "detect-secrets": ("1.5.0", "detect-secrets"),
    "trufflehog3": ("3.0.10", "trufflehog3"),
}


# The full Ansible package that carries community.hashi_vault; 12.x is the line built on ansible-core 2.19.
ANSIBLE_PIN = "12.3.0"
HASHI_VAULT_PIN = "7.1.0"  # the community.hashi_vault release inside ansible ANSIBLE_PIN
HASHI_VAULT_PREFIX = "ansible_collections/community/hashi_vault/"


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


def hashi_vault_collections(peers_dir: Path = PEERS_DIR) -> Path:
    """The folder to add to ANSIBLE_COLLECTIONS_PATH for community.hashi_vault."""
    return peers_dir / "collections"


def hashi_vault_version(peers_dir: Path = PEERS_DIR) -> str | None:
    """community.hashi_vault's version from its MANIFEST.json under bench/.peers (None: not there)."""
    manifest = hashi_vault_collections(peers_dir) / HASHI_VAULT_PREFIX / "MANIFEST.json"
    try:
        version = json.loads(manifest.read_text())["collection_info"]["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(version)


def ensure_hashi_vault(peers_dir: Path = PEERS_DIR, quiet: bool = False) -> tuple[Path, str]:
    """Make sure community.hashi_vault HASHI_VAULT_PIN is extracted under ``peers_dir/collections``
    (from the ``ansible`` ANSIBLE_PIN wheel); return (the collections folder, its version).

    Skips everything when the pinned version is already there. The wheel is downloaded into a
    temporary folder inside ``peers_dir`` and removed after extraction; nothing is installed.
    Raises RuntimeError with a one-line reason when the download or the extraction fails.
    """
    target = hashi_vault_collections(peers_dir)
    if hashi_vault_version(peers_dir) == HASHI_VAULT_PIN:
        return target, HASHI_VAULT_PIN
    peers_dir.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f"peers: downloading ansible=={ANSIBLE_PIN} for community.hashi_vault into {target}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="download-", dir=peers_dir) as download:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               f"ansible=={ANSIBLE_PIN}", "-d", download]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = sorted(Path(download).glob(f"ansible-{ANSIBLE_PIN}-*.whl"))
        if proc.returncode != 0 or not wheels:
            lines = [line for line in (proc.stderr or proc.stdout).strip().splitlines()
                     if line.strip() and not line.startswith("WARNING")]
            raise RuntimeError(f"pip download ansible=={ANSIBLE_PIN} failed: {lines[-1] if lines else 'no wheel'}")
        staging = Path(download) / "collections"
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                members = [name for name in wheel.namelist() if name.startswith(HASHI_VAULT_PREFIX)]
                if not members:
                    raise RuntimeError(f"ansible {ANSIBLE_PIN} holds no {HASHI_VAULT_PREFIX}")
                for name in members:
                    wheel.extract(name, staging)
        except (OSError, zipfile.BadZipFile) as exc:
            raise RuntimeError(f"extracting {HASHI_VAULT_PREFIX} from {wheels[0].name}: {exc}") from None
        final = target / HASHI_VAULT_PREFIX
        shutil.rmtree(final, ignore_errors=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staging / HASHI_VAULT_PREFIX, final)
    version = hashi_vault_version(peers_dir)
    if version != HASHI_VAULT_PIN:
        raise RuntimeError(f"community.hashi_vault from ansible {ANSIBLE_PIN} is {version}, expected {HASHI_VAULT_PIN}")
    return target, version


def main() -> int:
    status = 0
    try:
        scripts = ensure_peers()
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"peers: {exc}", file=sys.stderr)
        status = 1
    else:
        versions = installed_versions()
        for name, path in scripts.items():
            print(f"{name} {versions.get(name)}  {path}")
    try:
        collections, version = ensure_hashi_vault()
    except RuntimeError as exc:
        print(f"peers: {exc}", file=sys.stderr)
        return 1
    print(f"community.hashi_vault {version}  {collections} (from ansible {ANSIBLE_PIN})")
    return status


if __name__ == "__main__":
    sys.exit(main())
