#!/usr/bin/python
# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: plan
author: vaultshift developers (@vaultshift)
short_description: Make one migration plan from the fleet's scan results
version_added: 0.1.0
description:
  - Turns what M(vaultshift.secrets.scan) found on each host into one plan, as
    C(vaultshift plan HOST=DIR ...) does for local trees, and writes it on the controller. The
    same value on forty hosts is one secret with one vault path and forty occurrences.
  - Paths are named by the configuration's C(naming) scheme, backends chosen by its C(routes)
    (by host, group, path or kind; the hybrid model sends AWS apps to Secrets Manager), and each
    occurrence gets its reference style; the play's groups are the inventory (C({group}) in names,
    C(host_group) in routes).
  - The plan holds no value, only fingerprints, redacted hints, byte spans and keyed file digests. Review
    it (the task returns its summary; C(vaultshift plan) prints the same table), then carry it out
    host by host with M(vaultshift.secrets.migrate).
  - Runs on the controller only (use O(ignore:run_once)). Check mode makes the plan and returns
    its summary without writing it.
options:
  scans:
    description:
      - The scan results of the hosts, e.g.
        C({{ ansible_play_hosts | map('extract', hostvars, 'vaultshift_scan') | list }}) after a
        M(vaultshift.secrets.scan) task registered as C(vaultshift_scan).
      - They must have been made with the fingerprint key of this run (C(VAULTSHIFT_FINGERPRINT_KEY)
        or the key file); results of another key are refused.
    type: list
    elements: dict
    required: true
  dest:
    description:
      - Where to write the plan (JSON) on the controller.
    type: path
    required: true
  config:
    description:
      - The vaultshift configuration (C(vaultshift.yml)) with its backends, routes, naming and styles.
        Defaults to C(vaultshift.yml) in the current directory when there is one.
    type: path
  groups:
    description:
      - Group name to host names, for naming and routing. Defaults to the play's C(groups).
    type: dict
  fingerprint_key_file:
    description:
      - The fingerprint key file, when C(VAULTSHIFT_FINGERPRINT_KEY) is not set (default as
        C(vaultshift plan)).
    type: path
notes:
  - Needs the vaultshift package on the controller.
seealso:
  - module: vaultshift.secrets.scan
  - module: vaultshift.secrets.migrate
"""

EXAMPLES = r"""
- name: Scan the fleet
  vaultshift.secrets.scan:
    paths: [/etc, /srv, /opt]
  register: vaultshift_scan

- name: One plan for all of it
  vaultshift.secrets.plan:
    scans: "{{ ansible_play_hosts | map('extract', hostvars, 'vaultshift_scan') | list }}"
    dest: "{{ playbook_dir }}/plan.json"
    config: "{{ playbook_dir }}/vaultshift.yml"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
secrets:
  description: Distinct secrets in the plan.
  type: int
  returned: always
occurrences:
  description: Places that hold them.
  type: int
  returned: always
files:
  description: Files to rewrite.
  type: int
  returned: always
backends:
  description: Secrets per backend name.
  type: dict
  returned: always
styles:
  description: Occurrences per reference style.
  type: dict
  returned: always
notes:
  description: Renames, routing conflicts and other remarks of the planner (one line each).
  type: list
  elements: str
  returned: always
errors:
  description: What the scans could not read, one line each (host, path and reason).
  type: list
  elements: str
  returned: always
summary:
  description: The plan's review table, as C(vaultshift plan) prints it (paths, backends, hints).
  type: str
  returned: always
dest:
  description: The plan file.
  type: str
  returned: always
"""
