"""The collection as its users get it: ``ansible-galaxy collection build`` makes an artifact that
``ansible-galaxy collection install`` installs, and the installed plugins document themselves."""

from __future__ import annotations

import ast
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from ansible_run import COLLECTIONS, ansible

SOURCE = COLLECTIONS / "ansible_collections" / "vaultshift" / "secrets"


@pytest.mark.parametrize("module", sorted(p.stem for p in (SOURCE / "plugins" / "modules").glob("*.py")))
def test_modules_import_only_the_standard_library_and_module_utils(module: str):
    """What runs on a managed host has Python's standard library and Ansible's module_utils only."""
    tree = ast.parse((SOURCE / "plugins" / "modules" / f"{module}.py").read_text())
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            imported.append(node.module or "")
    for name in imported:
        top = name.split(".")[0]
        assert name == "__future__" or top in sys.stdlib_module_names or name.startswith("ansible.module_utils."), \
            name
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name) and node.func.id == "print"]


def test_galaxy_metadata_names_the_collection():
    galaxy = yaml.safe_load((SOURCE / "galaxy.yml").read_text())
    assert (galaxy["namespace"], galaxy["name"]) == ("vaultshift", "secrets")
    runtime = yaml.safe_load((SOURCE / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"].startswith(">=2.19")


def test_build_install_and_document(tmp_path: Path):
    built = ansible("ansible-galaxy", "collection", "build", str(SOURCE), "--output-path", str(tmp_path / "dist"),
                    home=tmp_path / "home")
    assert built.returncode == 0, built.stdout + built.stderr
    [artifact] = (tmp_path / "dist").glob("vaultshift-secrets-*.tar.gz")
    with tarfile.open(artifact) as archive:
        names = set(archive.getnames())
    assert {"plugins/lookup/secret.py", "plugins/doc_fragments/connection.py", "plugins/doc_fragments/auth.py",
            "MANIFEST.json", "FILES.json"} <= names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]

    target = tmp_path / "installed"
    # Installed where only the artifact is seen (the checkout's collection is on the default path).
    installed = ansible("ansible-galaxy", "collection", "install", str(artifact), "-p", str(target),
                        home=tmp_path / "home", env={"ANSIBLE_COLLECTIONS_PATH": str(target)})
    assert installed.returncode == 0, installed.stdout + installed.stderr
    shown = ansible("ansible-doc", "-t", "lookup", "vaultshift.secrets.secret", home=tmp_path / "home",
                    env={"ANSIBLE_COLLECTIONS_PATH": str(target)})
    assert shown.returncode == 0, shown.stderr
    assert str(target) in shown.stdout and "wrapped_secret_id" in shown.stdout
