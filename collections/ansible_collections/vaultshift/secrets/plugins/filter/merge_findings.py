# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
name: merge_findings
author: vaultshift developers (@vaultshift)
version_added: 0.1.0
short_description: One fleet-wide inventory of vaultshift.secrets.scan findings, one entry per secret
description:
  - Merges the findings of M(vaultshift.secrets.scan) on many hosts into one inventory with one
    entry per secret (per fingerprint). The same password on 40 hosts is one entry, with 40 hosts
    and every place it occurs.
  - Fingerprints only compare when the scans used the same fingerprint key, which they do when
    they run in one playbook run.
  - Entries come most widespread first (most hosts, then most occurrences), then by their first
    occurrence; occurrences are sorted by host, path and line. The order only depends on the
    findings, so the inventory of an unchanged fleet does not churn.
  - Results of hosts where the scan was skipped or failed hold no findings and are passed over;
    check them on their own (RV(vaultshift.secrets.scan#module:errors) too).
positional: _input
options:
  _input:
    description:
      - Scan results (registered from M(vaultshift.secrets.scan)), for instance every host's
        through C(hostvars), lists of findings, single findings, or a mix of them.
    type: list
    elements: raw
    required: true
"""

EXAMPLES = r"""
- name: Scan every host
  vaultshift.secrets.scan:
    paths: [/etc/myapp, /srv/myapp]
  register: scan

- name: Write the fleet's inventory of secrets, one entry per secret, on the controller
  ansible.builtin.copy:
    content: "{{ fleet | vaultshift.secrets.merge_findings | to_nice_json }}"
    dest: fleet-secrets.json
    mode: "0600"
  vars:
    fleet: "{{ ansible_play_hosts | map('extract', hostvars, 'scan') | list }}"
  delegate_to: localhost
  run_once: true

- name: Name the secrets shared by several hosts (rotating one of them concerns them all)
  ansible.builtin.debug:
    msg: "{{ item.kind }} {{ item.hint }} on {{ item.hosts }} hosts"
  loop: "{{ fleet | vaultshift.secrets.merge_findings | selectattr('hosts', '>', 1) }}"
  vars:
    fleet: "{{ ansible_play_hosts | map('extract', hostvars, 'scan') | list }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: One entry per secret.
  type: list
  elements: dict
  contains:
    fingerprint:
      description: The secret's keyed fingerprint, as in the findings.
      type: str
      sample: hmac-sha256:1f0c6a3b9e2d4c5f8a7b6c5d4e3f2a1b
    kind:
      description: What the secret is (the kind most of its findings give).
      type: str
      sample: password
    hint:
      description: The redacted hint of the findings (never the value).
      type: str
      sample: "Z***T (24 chars)"
    confidence:
      description: The highest confidence of its findings.
      type: str
      sample: high
    hosts:
      description: On how many hosts it occurs.
      type: int
      sample: 2
    occurrences:
      description: Every place it occurs, each once.
      type: list
      elements: dict
      contains:
        host:
          description: The host.
          type: str
        path:
          description: The file, as the host sees it.
          type: str
        line:
          description: The line, 1-based.
          type: int
        key_path:
          description: Where the value sits in the file's structure.
          type: str
      sample:
        - {host: web1, path: /etc/myapp/config.yml, line: 3, key_path: database.password}
        - {host: web2, path: /etc/myapp/config.yml, line: 3, key_path: database.password}
"""

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

_CONFIDENCE = {"low": 1, "medium": 2, "high": 3}
_REQUIRED = ("fingerprint", "host", "path")


def _findings(value: Any, where: str) -> Iterator[Mapping[str, Any]]:
    """The findings in ``value``: a scan result, a list of findings, a finding, or lists of those."""
    if isinstance(value, Mapping):
        if "fingerprint" in value:
            yield value
        elif "findings" in value:
            yield from _findings(value["findings"], where)
        elif not (value.get("skipped") or value.get("failed") or value.get("unreachable")):
            raise AnsibleFilterError(f"merge_findings: {where} is neither a scan result nor a finding")
    elif isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        for number, item in enumerate(value):
            yield from _findings(item, f"{where}[{number}]")
    elif value is not None:
        raise AnsibleFilterError(f"merge_findings: {where} is a {type(value).__name__}, not a scan result or finding")


def merge_findings(results: Any) -> list[dict[str, Any]]:
    """One entry per fingerprint: kind, hint, highest confidence, number of hosts, occurrences."""
    by_fingerprint: dict[str, list[Mapping[str, Any]]] = {}
    for finding in _findings(results, "input"):
        missing = [key for key in _REQUIRED if not finding.get(key)]
        if missing:
            raise AnsibleFilterError(f"merge_findings: a finding without {', '.join(missing)}")
        by_fingerprint.setdefault(str(finding["fingerprint"]), []).append(finding)

    inventory = []
    for fingerprint, found in by_fingerprint.items():
        places = {(str(f["host"]), str(f["path"]), int(f.get("line") or 0), str(f.get("key_path") or ""))
                  for f in found}
        occurrences = [{"host": host, "path": path, "line": line, "key_path": key_path}
                       for host, path, line, key_path in sorted(places)]
        kinds = Counter(str(f.get("kind") or "") for f in found)
        kind = min(kinds, key=lambda k: (-kinds[k], k))
        hints = sorted({str(f.get("hint") or "") for f in found})
        confidence = max((str(f.get("confidence") or "low") for f in found), key=lambda c: _CONFIDENCE.get(c, 0))
        inventory.append({
            "fingerprint": fingerprint,
            "kind": kind,
            "hint": hints[0],
            "confidence": confidence,
            "hosts": len({o["host"] for o in occurrences}),
            "occurrences": occurrences,
        })
    inventory.sort(key=lambda e: (-e["hosts"], -len(e["occurrences"]), _first(e), e["fingerprint"]))
    return inventory


def _first(entry: Mapping[str, Any]) -> tuple[str, str, int, str]:
    o = entry["occurrences"][0]
    return o["host"], o["path"], o["line"], o["key_path"]


class FilterModule:
    """vaultshift.secrets filters."""

    def filters(self) -> dict[str, Any]:
        return {"merge_findings": merge_findings}
