#!/usr/bin/python
# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
# The action plugin of the same name does the work (plugins/action/rotate.py); this file is its
# documentation.
from __future__ import annotations

DOCUMENTATION = r"""
module: rotate
author: vaultshift developers (@vaultshift)
short_description: Put a fleet's migrated database passwords under the vault's rotation, one wave and one step at a time
version_added: 0.1.0
description:
  - Phase 3 of a migration over a fleet, as C(vaultshift rotate) does on local files, split into
    the steps a fleet needs. O(step=classify) runs on each host. O(step=vault) and O(step=finish)
    run once, on the controller (C(run_once), C(delegate_to=localhost)). O(step=references) runs
    on each host that holds a secret of the wave.
  - O(step=classify) reads the plan's files on this host (as M(vaultshift.secrets.migrate) left
    them) and says what each secret is. For a database credential it gives the engine, host, port,
    user and database name its file names. RV(classified) never holds a value.
  - O(step=vault) merges every host's RV(classified) and decides each secret's mode and wave, as
    C(vaultshift rotate plan) does. It then does the vault side of O(action) for the secrets of
    O(wave). V(enable) puts each database user under a static role of the vault's database engine;
    the new password is proved to log in and the old one to be refused. V(dynamic) makes a dynamic
    role with the static user's grants, proved by one lease. V(rollback) undoes the last step of
    each secret; from static rotation, the current password is stored in KV as a new version.
  - O(step=references) switches this host's references (agent templates, agent env templates,
    Ansible lookups) to what the vault step made. They go to C(static-creds), C(creds), or back to
    KV. Each file is written atomically and read back. RV(units) names the agents to restart.
  - O(step=finish) removes a rollback's roles (leases revoked first) and records where each
    secret stands.
  - Each step fails on the first secret it cannot do, and it does not roll the wave back. A failed
    O(step=vault) undoes its own vault side before it fails. On a failure the play rolls back the
    rest by running the three steps again with O(action=rollback) and O(secrets) set to the vault
    step's RV(moved) (C(block)/C(rescue); see C(playbooks/phase3_rotate.yml)).
  - Where each secret stands is kept in the controller's journal (O(state_dir)). Each host's
    references run is recorded in that host's own journal, C(<state_dir>/hosts/<inventory_hostname>).
  - Values never appear in the task's result, the journals, or a log. Passwords go only between
    the vault and the database. The files switched hold references, not values.
options:
  step:
    description:
      - Which step of the wave this task runs (see the description).
    type: str
    required: true
    choices: [classify, vault, references, finish]
  action:
    description:
      - V(enable) puts database users under static rotation. V(dynamic) moves them on to dynamic
        credentials. V(rollback) undoes the last step of each secret.
      - Required unless O(step=classify).
    type: str
    choices: [enable, dynamic, rollback]
  wave:
    description:
      - The wave to run (the configuration's C(rotation.waves), then C(rest); without waves, the
        first host, sorted, is the wave C(canary)).
      - V(all) runs the secrets of every wave in one go, in wave order (the last wave first for
        V(rollback)).
      - A secret held by hosts of several waves is in the last of them.
      - Required unless O(step=classify).
    type: str
  plan:
    description:
      - The migration plan on the controller (C(vaultshift plan -o plan.json)), the one
        M(vaultshift.secrets.migrate) carried out.
      - A relative path is looked up in the working directory, then like the C(src) of
        M(ansible.builtin.copy).
    type: path
    required: true
  config:
    description:
      - The vaultshift configuration on the controller, with its C(rotation) section (databases,
        admin credentials, waves), as C(vaultshift rotate --config).
      - Default C(vaultshift.yml) in the working directory when it exists, else one Vault/OpenBao
        backend at E(VAULT_ADDR) with E(VAULT_TOKEN).
    type: path
  state_dir:
    description:
      - The controller's journal directory, where each secret's rotation record lives (as
        C(vaultshift rotate --state-dir)).
      - Default C(.vaultshift) in the working directory. The hosts' own journals are in
        C(hosts/<inventory_hostname>) below it, which are M(vaultshift.secrets.migrate)'s
        by default.
    type: path
  classified:
    description:
      - The RV(classified) results of O(step=classify) on every host, in one list.
      - Required unless O(step=classify). A secret's references move with its password, so every
        host that holds a secret of the wave must be in it; otherwise the step fails before any
        change.
    type: list
    elements: dict
  secrets:
    description:
      - Only these secrets of the wave, by fingerprint (RV(moved) of the vault step).
      - This is how a play rolls back what a failed run moved, and nothing else.
    type: list
    elements: str
extends_documentation_fragment:
  - vaultshift.secrets.attributes
  - vaultshift.secrets.attributes.ACTION
attributes:
  action:
    description: The engine runs on the controller, in the action plugin.
    support: full
  check_mode:
    description:
      - O(step=classify) runs as usual (it only reads).
      - The other steps change nothing. RV(planned) then lists the secrets the step would take,
        where each stands, and how it rotates.
    support: full
  diff_mode:
    description: No diff is shown.
    support: none
requirements:
  - On the controller, the vaultshift Python package (the engine) in the Python that runs
    C(ansible-playbook), and a network path to the vault and the databases
  - On the host, Python 3 and its standard library, nothing else
notes:
  - The vault's database engine must reach each database. Where it reaches it at another address
    than the files say, set C(address) in the configuration's database entry.
  - Restarting the agents of RV(units) is the play's job, after every host of the wave is switched.
seealso:
  - module: vaultshift.secrets.migrate
  - name: vaultshift rotate
    description: The command line rotation whose engine this action runs.
    link: https://github.com/vaultshift/vaultshift
"""

EXAMPLES = r"""
# The whole flow, with the rollback on failure: playbooks/phase3_rotate.yml
- name: Classify each host's migrated secrets
  vaultshift.secrets.rotate:
    step: classify
    plan: plan.json
  register: classify

- name: Put the canary wave's database users under static rotation (vault side)
  vaultshift.secrets.rotate:
    step: vault
    action: enable
    wave: canary
    plan: plan.json
    config: vaultshift.yml
    classified: "{{ ansible_play_hosts | map('extract', hostvars, 'classify')
                    | map(attribute='classified') | flatten }}"
  run_once: true
  delegate_to: localhost
  register: vault

- name: Switch the references on the wave's hosts
  vaultshift.secrets.rotate:
    step: references
    action: enable
    wave: canary
    plan: plan.json
    config: vaultshift.yml
    classified: "{{ ansible_play_hosts | map('extract', hostvars, 'classify')
                    | map(attribute='classified') | flatten }}"
  when: inventory_hostname in vault.hosts
  register: references
"""

RETURN = r"""
classified:
  description:
    - O(step=classify) only. One entry per secret of the plan on this host. Each has its
      C(fingerprint), C(category) (database, cloud, api-key, other), C(reason), the C(database)
      its file names (engine, host, port, user, database, found_in) or null, and this C(host).
  returned: success
  type: list
  elements: dict
unreadable:
  description: O(step=classify) only. Planned files on this host that could not be read.
  returned: success
  type: list
  elements: str
outcomes:
  description:
    - What the step did to each secret. Each has its C(ref), the C(mode) it stands in now, the
      C(action) (enabled, dynamic, rolled back, rotated, skipped, failed) and a C(detail) (a role,
      or why it was skipped or failed). Never a value.
  returned: when O(step) is not classify
  type: list
  elements: dict
moved:
  description:
    - The fingerprints of the secrets whose rotation record this step changed (the vault step of
      enable and dynamic; the finish step of rollback). A play rolls these back when a later step
      fails.
  returned: when O(step) is vault or finish
  type: list
  elements: str
hosts:
  description: The hosts holding a secret of the wave whose references move (where O(step=references) runs).
  returned: when O(step) is not classify
  type: list
  elements: str
waves:
  description: Every wave, in order.
  returned: when O(step) is not classify
  type: list
  elements: str
  sample: [canary, rest]
files:
  description: O(step=references) only. The files written on this host (agent templates, agent configurations, lookups).
  returned: when O(step=references)
  type: list
  elements: str
units:
  description:
    - O(step=references) only. The systemd units of the agents whose template or configuration
      changed. They must be restarted to render the switched references.
  returned: when O(step=references)
  type: list
  elements: str
  sample: [vaultshift-agent-etc-shop-app.ini.service]
rolled_back:
  description: The secrets a failed vault step took back on the vault side.
  returned: when O(step) is not classify
  type: list
  elements: str
problems:
  description: One line per secret that failed and why, never a value. The task fails when there is any.
  returned: when O(step) is not classify
  type: list
  elements: str
run_id:
  description: The journal's id of this step's run; null in check mode.
  returned: when O(step) is not classify
  type: str
state_dir:
  description: The journal this step recorded its run in (the controller's, or for O(step=references) this host's).
  returned: when O(step) is not classify and not in check mode
  type: str
planned:
  description:
    - Check mode only. The secrets the step would take. Each has its C(ref), C(wave), C(rotation)
      (static, aws-staged, track), C(mode) now (kv, static, dynamic, aws-staged) and C(blocked)
      (why it is only tracked).
  returned: in check mode, when O(step) is not classify
  type: list
  elements: dict
"""
