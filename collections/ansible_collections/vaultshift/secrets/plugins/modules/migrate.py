#!/usr/bin/python
# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
# The action plugin of the same name does the work (plugins/action/migrate.py); this file is its
# documentation.
from __future__ import annotations

DOCUMENTATION = r"""
module: migrate
author: vaultshift developers (@vaultshift)
short_description: Store a host's plaintext secrets in the vault and rewrite its files to references
version_added: 0.1.0
description:
  - Carries out the part of a C(vaultshift plan) that lies on this host, as C(vaultshift apply)
    does on local files. Each secret is read from its span in the host's file, checked against
    the plan's fingerprint, stored in its backend (Vault/OpenBao KV v2 or AWS Secrets Manager)
    and read back. Each file whose secrets are all stored is rewritten in place to the plan's
    reference style (an Ansible lookup, an agent template, an agent-rendered C(.env)), checked,
    and replaced atomically. An agent style also gets its companion files (template, agent
    configuration, systemd unit).
  - The vaultshift engine runs on the controller, in the action plugin, with the same code as
    C(vaultshift apply). The host only reads and writes files, through
    M(vaultshift.secrets.files), with the Python standard library.
  - The plan's files on a host are C(root/path) as the plan gives them. Make the plan with
    C(HOST=DIR) sources, C(vaultshift plan web1=/srv/fleet/web1 web2=/srv/fleet/web2 -o plan.json),
    or C(--inventory). Each host takes the occurrences the plan puts on it (C(inventory_hostname));
    a plan with no host names is all one host's.
  - A file that changed since the plan, or since it was read, is named in RV(problems) and left
    as it is; the rest goes on. Nothing is rewritten whose secrets were not stored and read back.
    A task with problems fails, with the first one as its message.
  - Each run is journalled on the controller, one journal per host (O(state_dir)). Running the
    task again after success changes nothing. After an interruption (a killed controller, a lost
    connection) it finishes the job. M(vaultshift.secrets.rollback) puts the files back.
  - Values never appear in the task's result, its diff, the journal, or a log. File contents
    travel between the host and the controller inside the M(vaultshift.secrets.files) module's
    arguments and results. The module runs with C(no_log), and its raw results are dropped once
    read.
options:
  plan:
    description:
      - The plan file on the controller (C(vaultshift plan -o plan.json)).
      - A relative path is looked up in the working directory, then like the C(src) of
        M(ansible.builtin.copy) (a role's C(files/), the playbook's directory).
    type: path
    required: true
  config:
    description:
      - The vaultshift configuration on the controller (backends, routes, agent options), as
        C(vaultshift apply --config).
      - Default C(vaultshift.yml) in the working directory when it exists, else one Vault/OpenBao
        backend at E(VAULT_ADDR) with E(VAULT_TOKEN) (KV v2 mount C(secret)).
    type: path
  state_dir:
    description:
      - Where this host's journal lives, on the controller.
      - Default C(.vaultshift/hosts/<inventory_hostname>) in the working directory. Hosts never share
        a journal, so they run in parallel; M(vaultshift.secrets.rollback) must be given the same
        directory.
    type: path
  agent_check:
    description:
      - Render each agent template with a real C(bao agent) (or C(vault agent)) on the controller
        before the file is replaced, and compare with the original, as
        C(vaultshift apply --agent-check).
      - V(auto) does it when the binary and E(VAULT_TOKEN) are there. V(always) fails the task
        without them. V(never) skips it.
    type: str
    choices: [auto, always, never]
    default: auto
  concurrency:
    description:
      - Secrets stored (and agent templates rendered) at a time, each on its own connection.
    type: int
    default: 8
  fingerprint_key_file:
    description:
      - The HMAC key the plan's fingerprints and digests were made with, a file on the controller.
      - Default E(VAULTSHIFT_FINGERPRINT_KEY), else the user's key, as for C(vaultshift apply).
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
      - The host's files are read and checked, and each secret is looked up in its backend.
        Nothing is stored, written, or journalled.
      - RV(stored) and RV(rewritten) then name what would be stored and rewritten.
    support: full
  diff_mode:
    description:
      - Each file rewritten (or that would be) is shown before and after. Before is the original
        with every secret replaced by its redacted hint (the plan's hint). After is the rewritten
        text. Never a value.
    support: full
requirements:
  - On the controller, the vaultshift Python package (the engine) in the Python that runs
    C(ansible-playbook)
  - On the host, Python 3 and its standard library, nothing else
notes:
  - Secrets shared by several hosts are stored once; each host stores what its files hold
    (the same value is not written twice).
  - The fingerprint key is needed on the controller only; it never goes to a host.
  - C(ANSIBLE_DEBUG=1), a developer switch that prints every module's raw input and output
    whatever C(no_log) says, would print file contents too; verbosity (C(-v) to C(-vvvvvv))
    never does.
seealso:
  - module: vaultshift.secrets.rollback
  - module: vaultshift.secrets.scan
  - name: vaultshift apply
    description: The command line apply whose engine this action runs.
    link: https://github.com/vaultshift/vaultshift#apply-verify-rollback
"""

EXAMPLES = r"""
# On the controller: vaultshift plan web1=/srv/fleet/web1 web2=/srv/fleet/web2 -o plan.json
- name: Move the fleet's plaintext secrets into the vault
  hosts: app_servers
  gather_facts: false
  tasks:
    - name: Store the secrets and rewrite the files
      vaultshift.secrets.migrate:
        plan: plan.json
        config: vaultshift.yml
      register: migrated

    - name: Say what was done
      ansible.builtin.debug:
        msg: "{{ migrated.stored | length }} secrets stored, {{ migrated.rewritten }} rewritten"

# ansible-playbook migrate.yml --check --diff: what would be stored and rewritten, nothing changed
"""

RETURN = r"""
run_id:
  description: The journal's id of this run (for M(vaultshift.secrets.rollback)); null in check mode.
  returned: always
  type: str
  sample: 20261128T101500-3f9a
state_dir:
  description: The host's journal directory on the controller.
  returned: always
  type: str
  sample: .vaultshift/hosts/web1
secrets_stored:
  description: Secrets written to their backend and read back (in check mode, that would be).
  returned: always
  type: int
secrets_already_stored:
  description: Secrets the backend already held.
  returned: always
  type: int
files_rewritten:
  description: Files rewritten (in check mode, that would be).
  returned: always
  type: int
files_already_done:
  description: Files an earlier run already rewrote.
  returned: always
  type: int
stored:
  description: The references (C(path#field)) of the secrets stored, or that would be.
  returned: always
  type: list
  elements: str
  sample: ["apps/shop/db#password"]
rewritten:
  description: The files rewritten, or that would be.
  returned: always
  type: list
  elements: str
  sample: ["/etc/shop/config.ini"]
problems:
  description:
    - One line per item not done and why (a file, or a secret's reference), never a value. The
      task fails when there is any.
  returned: always
  type: list
  elements: str
  sample: ["/etc/shop/config.ini: changed since the plan was made; make the plan again"]
"""
