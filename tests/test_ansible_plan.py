"""``vaultshift.secrets.plan`` through the real ansible-playbook: the fleet's scan results become
one plan on the controller, the same plan ``vaultshift plan HOST=DIR`` makes of the same files
(names by the play's groups, routes by host group), with its review summary returned; check
mode writes nothing; a value never shows."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ansible_run import BIN, ansible, run_playbook
from trees import write_tree

CONFIG = ("backends:\n  vault: {type: vault}\n  aws: {type: aws}\n"
          "routes:\n  - {match: {host_group: aws_apps}, backend: aws}\n"
          "naming: 'apps/{group}/{key}'\n")

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: scan
      vaultshift.secrets.scan:
        paths: [/etc/app, /srv/app]
        root: "{{ host_root }}"
      register: vaultshift_scan

    - name: plan
      vaultshift.secrets.plan:
        scans: "{{ ansible_play_hosts | map('extract', hostvars, 'vaultshift_scan') | list }}"
        dest: "{{ plan_file }}"
        config: "{{ config_file }}"
      run_once: true
      delegate_to: localhost
      register: planned

    - name: keep the result
      ansible.builtin.copy:
        content: "{{ planned | to_json }}"
        dest: "{{ result_file }}"
      run_once: true
      delegate_to: localhost
"""


@pytest.fixture
def setup(tmp_path: Path, token: Any) -> dict[str, Any]:
    shared = token(28)
    values = [shared]
    roots = {}
    for host in ("web1", "web2", "db1"):
        own = token(32)
        values.append(own)
        roots[host] = write_tree(tmp_path / "fleet" / host, {
            "etc/app/config.yml": f"db:\n  password: \"{shared}\"\n  api_token: \"{own}\"\n",
        })
    (tmp_path / "vaultshift.yml").write_text(CONFIG)
    inventory = "[web]\n" + "".join(f"{h} ansible_connection=local host_root={roots[h]}\n" for h in ("web1", "web2"))
    inventory += f"[db]\ndb1 ansible_connection=local host_root={roots['db1']}\n[aws_apps]\ndb1\n"
    return {"roots": roots, "inventory": inventory, "values": values, "key": secrets.token_hex(32)}


def play(tmp_path: Path, setup: dict[str, Any], *args: str) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    plan, result = tmp_path / "plan.json", tmp_path / "result.json"
    extra = json.dumps({"plan_file": str(plan), "config_file": str(tmp_path / "vaultshift.yml"),
                        "result_file": str(result)})
    proc = run_playbook(tmp_path / "run", PLAYBOOK, setup["inventory"], "-e", extra, *args,
                        env={"VAULTSHIFT_FINGERPRINT_KEY": setup["key"]})
    return proc, plan, result


def test_the_fleet_plan_is_the_cli_plan_of_the_same_files(tmp_path: Path, setup: dict[str, Any]):
    proc, plan, result = play(tmp_path, setup)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = json.loads(plan.read_text())
    cli = subprocess.run([str(BIN / "vaultshift"), "plan", *(f"{h}={r}" for h, r in setup["roots"].items()),
                          "-i", "run/inventory", "--config", "vaultshift.yml", "-o", "cli.json", "--no-progress"],
                         cwd=tmp_path, env={**os.environ, "VAULTSHIFT_FINGERPRINT_KEY": setup["key"]},
                         capture_output=True, text=True, check=False)
    assert cli.returncode == 0, cli.stderr
    assert got["secrets"] == json.loads((tmp_path / "cli.json").read_text())["secrets"]

    summary = json.loads(result.read_text())
    assert (summary["secrets"], summary["occurrences"], summary["files"]) == (4, 6, 3)  # one shared, three own
    assert summary["backends"] == {"aws": 2, "vault": 2}  # db1's token and the shared password (first on db1)
    assert summary["changed"] is True
    assert summary["errors"] == [f"{h}:/srv/app: no such file or directory" for h in ("db1", "web1", "web2")]
    assert any("routing conflict" in note for note in summary["notes"])  # the shared value on web and aws hosts
    output = proc.stdout + proc.stderr + plan.read_text() + result.read_text()
    for value in setup["values"]:
        assert value not in output

    again, _, result = play(tmp_path, setup)
    assert again.returncode == 0 and json.loads(result.read_text())["changed"] is False


def test_check_mode_makes_the_plan_but_writes_nothing(tmp_path: Path, setup: dict[str, Any]):
    proc, plan, _ = play(tmp_path, setup, "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not plan.exists()
    assert "changed: [web1 -> localhost]" in proc.stdout


def test_scans_of_another_key_fail_in_one_line(tmp_path: Path, setup: dict[str, Any]):
    config_line = '        config: "{{ config_file }}"\n'
    book = PLAYBOOK.replace(config_line, config_line + '        fingerprint_key_file: "{{ other_key }}"\n')
    other = tmp_path / "other.key"
    other.write_text(secrets.token_hex(32))
    other.chmod(0o600)
    extra = json.dumps({"plan_file": str(tmp_path / "plan.json"), "config_file": str(tmp_path / "vaultshift.yml"),
                        "result_file": str(tmp_path / "r.json"), "other_key": str(other)})
    proc = run_playbook(tmp_path / "run", book, setup["inventory"], "-e", extra,
                        env={"VAULTSHIFT_FINGERPRINT_KEY": setup["key"]})
    assert proc.returncode == 2
    assert "same VAULTSHIFT_FINGERPRINT_KEY" in proc.stdout


def test_ansible_doc_renders_the_plan_module(tmp_path: Path):
    shown = ansible("ansible-doc", "vaultshift.secrets.plan", home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "scans" in shown.stdout and "dest" in shown.stdout
