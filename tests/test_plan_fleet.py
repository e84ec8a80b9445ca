"""Plans from fleet scan results (migrator.plan.fleet): the findings each host's scan returned give
the same plan as ``vaultshift plan HOST=DIR`` over the same files, with the play's groups as the
inventory; results made with another key, or missing what a plan needs, are refused in one line."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from trees import write_tree

from migrator.config import ConfigError, parse_config
from migrator.discover.document import Document
from migrator.discover.models import ScanStats
from migrator.discover.scanner import Scanner
from migrator.fingerprint import Fingerprinter
from migrator.plan.digest import FileDigester
from migrator.plan.fleet import FleetScanError, inventory_from_groups, plan_from_scans

GROUPS = {"all": ["web1", "web2", "db1"], "ungrouped": [], "web": ["web1", "web2"], "db": ["db1"],
          "aws_apps": ["db1"]}
INVENTORY = "[web]\nweb1\nweb2\n[db]\ndb1\n[aws_apps]\ndb1\n"
CONFIG = ("backends:\n  vault: {type: vault}\n  aws: {type: aws}\n"
          "routes:\n  - {match: {host_group: aws_apps}, backend: aws}\n"
          "naming: 'apps/{group}/{host}/{key}'\n")


@pytest.fixture
def fleet(tmp_path: Path, token: Any) -> dict[str, Path]:
    shared = token(28)
    roots = {}
    for host in ("web1", "web2", "db1"):
        roots[host] = write_tree(tmp_path / "fleet" / host, {
            "etc/app/config.yml": f"db:\n  password: \"{shared}\"\n  api_token: \"{token(32)}\"\n",
            "srv/app/.env": f"SECRET_KEY={token(30)}\n",
        })
    return roots


def scan_result(host: str, root: Path, key: bytes) -> dict[str, Any]:
    """What the fleet scan returns for a host: findings with host paths and file digests."""
    scanner, digester = Scanner(Fingerprinter(key)), FileDigester(key)
    findings = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        host_path = "/" + path.relative_to(root).as_posix()
        doc, _ = Document.from_bytes(host_path, data)
        scanned = scanner.scan_loaded(doc, ScanStats(), [])
        assert scanned is not None
        findings += [{**f.to_dict(), "file_digest": digester(data)} for f in scanned.findings]
    return {"host": host, "root": str(root), "key_id": Fingerprinter(key).key_id, "findings": findings}


def test_a_fleet_plan_equals_the_cli_plan_of_the_same_files(fleet: dict[str, Path], tmp_path: Path):
    key = secrets.token_bytes(32)
    (tmp_path / "vaultshift.yml").write_text(CONFIG)
    (tmp_path / "inventory").write_text(INVENTORY)
    env = {**os.environ, "VAULTSHIFT_FINGERPRINT_KEY": key.hex()}
    vaultshift = str(Path(sys.executable).parent / "vaultshift")
    sources = [f"{host}={root}" for host, root in fleet.items()]
    proc = subprocess.run([vaultshift, "plan", *sources, "-i", "inventory", "-o", "plan.json", "--config",
                           "vaultshift.yml", "--no-progress"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    expected = json.loads((tmp_path / "plan.json").read_text())

    config = parse_config(yaml.safe_load(CONFIG), "vaultshift.yml")
    outcome = plan_from_scans([scan_result(h, r, key) for h, r in fleet.items()], config, Fingerprinter(key).key_id,
                              GROUPS)
    got = outcome.plan.to_dict()
    assert got["secrets"] == expected["secrets"]
    assert len(got["secrets"]) == 7  # the shared password once, two tokens and a key per host
    shared = [s for s in got["secrets"] if len({o["host"] for o in s["occurrences"]}) == 3]
    assert len(shared) == 1
    assert {s["ref"]["backend"] for s in got["secrets"] if s["occurrences"][0]["host"] == "db1"} == {"aws"}


def test_groups_make_the_inventory():
    inventory = inventory_from_groups(GROUPS)
    assert inventory.groups("db1") == frozenset({"all", "db", "aws_apps"})
    assert inventory.group("web2") == "web" and inventory.group("db1") == "db"


def test_results_of_another_key_or_without_what_a_plan_needs_are_refused(fleet: dict[str, Path]):
    key = secrets.token_bytes(32)
    config = parse_config({}, "vaultshift.yml")
    result = scan_result("web1", fleet["web1"], key)
    with pytest.raises(ConfigError, match=r"scan result 1 \(host web1\): made with fingerprint key .*same "
                                          "VAULTSHIFT_FINGERPRINT_KEY"):
        plan_from_scans([result], config, "0" * 16)
    broken = {**result, "findings": [{k: v for k, v in result["findings"][0].items() if k != "start_byte"}]}
    with pytest.raises(FleetScanError, match=r"scan result 1 \(host web1\): a finding without 'start_byte'"):
        plan_from_scans([broken], config, Fingerprinter(key).key_id)
    with pytest.raises(FleetScanError, match="scan result 2: no host name"):
        plan_from_scans([result, {"findings": []}], config, Fingerprinter(key).key_id)
