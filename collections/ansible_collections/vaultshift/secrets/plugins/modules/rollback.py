#!/usr/bin/python
# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
# The action plugin of the same name does the work (plugins/action/rollback.py); this file is its
# documentation.
from __future__ import annotations

DOCUMENTATION = r"""
module: rollback
author: vaultshift developers (@vaultshift)
short_description: Put back the files a migration rewrote on a host, rebuilt from the vault
version_added: 0.1.0
description:
  - Restores every file that the last M(vaultshift.secrets.migrate) run on this host rewrote (or
    the run named by O(run)), as C(vaultshift rollback) does on local files. The originals are
    rebuilt from the host's journal on the controller and the values in the vault. Each one is
    checked against the original's keyed digest, then written back atomically. The companion
    files the run generated are removed.
  - No plaintext copy of a file is ever kept. A value rotated in the vault since the migration is
    refused, not written back.
  - A file that changed since the migration is named in RV(problems) and left as it is; the rest
    goes on. A task with problems fails, with the first one as its message.
  - The engine runs on the controller, in the action plugin. The host only reads and writes
    files, through M(vaultshift.secrets.files).
  - The restored files hold their secrets again, so their contents are sent to the host only over
    a pipelined connection. They never go into a temporary file on the host. A connection that
    cannot pipeline (C(become_method=su), E(ANSIBLE_KEEP_REMOTE_FILES)) fails the task before
    anything is written. The module's raw results are never shown.
options:
  run:
    description:
      - The apply run to roll back (RV(vaultshift.secrets.migrate#module:run_id)). Default the last
        run on this host that rewrote files still in place.
    type: str
  config:
    description:
      - The vaultshift configuration on the controller (the backends to read the values from), as
        for M(vaultshift.secrets.migrate).
    type: path
  state_dir:
    description:
      - This host's journal directory on the controller, as given to M(vaultshift.secrets.migrate).
      - Default C(.vaultshift/hosts/<inventory_hostname>) in the working directory.
    type: path
  concurrency:
    description:
      - Vault paths read at a time before the first file is restored, each on its own connection.
    type: int
    default: 8
  fingerprint_key_file:
    description:
      - The HMAC key the journal's digests were made with, a file on the controller. Default
        E(VAULTSHIFT_FINGERPRINT_KEY), else the user's key.
    type: path
extends_documentation_fragment:
  - vaultshift.secrets.attributes
  - vaultshift.secrets.attributes.ACTION
attributes:
  action:
    description: The engine runs on the controller, in the action plugin.
    support: full
  check_mode:
    description:
      - Each file is read, checked, and rebuilt from the vault in memory. Nothing is written,
        removed, or journalled. RV(restored) then names the files that would be restored.
    support: full
  diff_mode:
    description:
      - Each file restored (or that would be) is shown before and after. Before is the rewritten
        file. After is the original, with every secret replaced by its redacted hint. Never a value.
    support: full
requirements:
  - On the controller, the vaultshift Python package (the engine) in the Python that runs
    C(ansible-playbook)
  - On the host, Python 3 and its standard library, nothing else
seealso:
  - module: vaultshift.secrets.migrate
  - name: vaultshift rollback
    description: The command line rollback whose engine this action runs.
    link: https://github.com/vaultshift/vaultshift#apply-verify-rollback
"""

EXAMPLES = r"""
- name: Put the fleet's files back as they were before the migration
  hosts: app_servers
  gather_facts: false
  tasks:
    - name: Roll back the last migration of each host
      vaultshift.secrets.rollback:
        config: vaultshift.yml
      register: back

- name: Roll back one named run of one host, showing the files (values redacted)
  hosts: web1
  gather_facts: false
  tasks:
    - vaultshift.secrets.rollback:
        run: 20261128T101500-3f9a
      diff: true
"""

RETURN = r"""
run_id:
  description: The journal's id of this rollback run; null in check mode.
  returned: always
  type: str
rolled_back:
  description: The apply run rolled back.
  returned: always
  type: str
  sample: 20261128T101500-3f9a
state_dir:
  description: The host's journal directory on the controller.
  returned: always
  type: str
files_restored:
  description: Files put back (in check mode, that would be).
  returned: always
  type: int
files_already_original:
  description: Files that already held their original bytes (an interrupted rollback).
  returned: always
  type: int
restored:
  description: The files restored, or that would be.
  returned: always
  type: list
  elements: str
problems:
  description: One line per file not restored and why, never a value. The task fails when there is any.
  returned: always
  type: list
  elements: str
  sample: ["/etc/shop/config.ini: changed since the apply run; not rolled back"]
"""
