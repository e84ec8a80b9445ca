"""``ansible-test sanity`` passes on the collection: documentation (validate-modules, ansible-doc),
pylint and pep8 with Ansible's own settings, imports of modules and module_utils, runtime metadata,
yamllint, and the rest (24 tests; tests/sanity/ignore-2.19.txt says why each ignored line is).

ansible-test installs what each sanity test needs with pip, from the index pip is configured with,
into a virtualenv of its own; its pip bootstrap script (from ci-files.testing.ansible.com, which
cannot be reached here) is replaced by one that uses ensurepip. The collection is copied into a
temporary ``ansible_collections/`` tree, so ansible-test's output never lands in the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from ansible_run import COLLECTIONS

SOURCE = COLLECTIONS / "ansible_collections" / "vaultshift" / "secrets"
GET_PIP = '''\
# Stand-in for get-pip.py: the pip that ensurepip bundles, then any other requested packages.
import ensurepip
import subprocess
import sys

ensurepip.bootstrap()
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel") and not a.startswith("pip==")]
packages = [a for a in args if not a.startswith("-")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "-q", *args]) if packages else 0)
'''


def test_ansible_test_sanity_passes(tmp_path: Path):
    home = tmp_path / "home"
    cache = home / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True)
    for pip_version in ("24_2", "25_1", "25_2", "25_3"):
        (cache / f"get_pip_{pip_version}.py").write_text(GET_PIP)
    # ansible-test with the same ansible-core, in a virtualenv of its own (it installs pylint & co.).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"ansible-core=={version('ansible-core')}"],
                               capture_output=True, text=True, check=False, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    tree = tmp_path / "ansible_collections" / "vaultshift" / "secrets"
    shutil.copytree(SOURCE, tree, ignore=shutil.ignore_patterns("__pycache__", "output"))
    env = {"HOME": str(home), "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    sanity = subprocess.run([str(venv / "bin" / "ansible-test"), "sanity", "--local", "--python",
                             f"{sys.version_info.major}.{sys.version_info.minor}", "--requirements", "--color", "no"],
                            cwd=tree, env=env, capture_output=True, text=True, check=False, timeout=1200)
    errors = [line for line in (sanity.stdout + sanity.stderr).splitlines() if line.startswith("ERROR")]
    assert sanity.returncode == 0, "\n".join(errors[:40]) or sanity.stderr[-3000:]
    assert sanity.stdout.count("Running sanity test") >= 20
