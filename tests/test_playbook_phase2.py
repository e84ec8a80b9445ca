"""playbooks/phase2_centralize.yml through the real ansible-playbook against a real OpenBao, on a
three-host local fleet (web1 the canary): scan, one plan, the review gate that stops an
unapproved run before any change, then the canary wave, the rest in batches, and the rescan that
finds no planned secret left in plaintext."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ansible_run import REPO, run_playbook
from servers import BaoServer
from trees import write_tree

PLAYBOOK = (REPO / "playbooks" / "phase2_centralize.yml").read_text()


@pytest.fixture
def fleet(tmp_path: Path, token: Any, bao: BaoServer) -> dict[str, Any]:
    shared = token(28)
    values = {shared}
    roots = {}
    for host in ("web1", "web2", "db1"):
        own, env_value = token(32), token(30)
        values |= {own, env_value}
        roots[host] = write_tree(tmp_path / "fleet" / host, {
            "etc/app/config.yml": f"db:\n  host: db.internal\n  password: \"{shared}\"\n  api_token: \"{own}\"\n",
            "srv/app/.env": f"SECRET_KEY={env_value}\nDEBUG=false\n",
        })
    prefix = f"phase2-{token(6).lower()}"
    config = tmp_path / "vaultshift.yml"
    config.write_text(f"backends:\n  vault: {{type: vault, addr: '{bao.addr}', prefix: {prefix}}}\n")
    hosts = {h: {"ansible_connection": "local", "vaultshift_root": str(r)} for h, r in roots.items()}
    inventory = {"all": {"vars": {"vaultshift_paths": ["/etc/app", "/srv/app"], "vaultshift_config": str(config),
                                  "vaultshift_plan_file": str(tmp_path / "plan.json"),
                                  "vaultshift_agent_check": "never"},
                         "children": {"canary": {"hosts": {"web1": {}}}, "web": {"hosts": {"web1": {}, "web2": {}}},
                                      "db": {"hosts": {"db1": {}}}},
                         "hosts": hosts}}
    return {"roots": roots, "values": values, "inventory": json.dumps(inventory), "prefix": prefix,
            "env": {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.token,
                    "VAULTSHIFT_FINGERPRINT_KEY": token(64, alphabet="0123456789abcdef")}}


def contents(fleet: dict[str, Any]) -> str:
    return "".join(p.read_text(errors="replace") for root in fleet["roots"].values() for p in root.rglob("*")
                   if p.is_file())


def test_review_gate_then_waves_then_nothing_left(tmp_path: Path, fleet: dict[str, Any], bao: BaoServer):
    before = contents(fleet)
    gated = run_playbook(tmp_path / "gated", PLAYBOOK, fleet["inventory"], env=fleet["env"])
    assert gated.returncode == 2
    assert "Review it, then run again with -e vaultshift_approve=true" in gated.stdout
    assert contents(fleet) == before  # nothing migrated
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert len(plan["secrets"]) == 7  # the shared password once; per host a token and a key

    approved = run_playbook(tmp_path / "approved", PLAYBOOK, fleet["inventory"], "-e", "vaultshift_approve=true",
                            env=fleet["env"])
    assert approved.returncode == 0, approved.stdout[-3000:]
    # The canary wave ran alone, before the others.
    canary = approved.stdout.index("PLAY [Phase 2 - migrate the canary wave]")
    rest = approved.stdout.index("PLAY [Phase 2 - migrate the rest, in batches]")
    assert "changed: [web1]" in approved.stdout[canary:rest]
    assert "[web2]" not in approved.stdout[canary:rest]
    assert "TASK [No planned secret remains]" in approved.stdout
    # The fleet's data point: status on the controller reads each host's journal.
    recorded = approved.stdout[approved.stdout.index("TASK [Where the migration stands]"):]
    assert "Phase 2  Centralize" in recorded and "hardcoded occurrences                 0" in recorded
    assert (tmp_path / "approved" / ".vaultshift" / "inventory.sqlite").exists()
    after = contents(fleet)
    for value in fleet["values"]:
        assert value not in after
        assert value not in approved.stdout + approved.stderr + gated.stdout
    config = (fleet["roots"]["web2"] / "etc" / "app" / "config.yml").read_text()
    assert "host: db.internal" in config  # only the secrets' spans were rewritten
    stored = bao.client().secrets.kv.v2.list_secrets(path=fleet["prefix"], mount_point="secret")["data"]["keys"]
    assert stored
