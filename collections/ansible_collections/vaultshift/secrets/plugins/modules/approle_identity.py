#!/usr/bin/python
# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
# The action plugin of the same name does the work (plugins/action/approle_identity.py); this file
# is its documentation.
from __future__ import annotations

DOCUMENTATION = r"""
module: approle_identity
author: vaultshift developers (@vaultshift)
short_description: Deliver an app's AppRole identity to a host with a wrapped, single-use secret id
version_added: 0.1.0
description:
  - Secret zero. The identity the app's agent logs in to Vault/OpenBao with (the AppRole role
    C(PREFIX-APP) that C(vaultshift access apply) makes, whose tokens read only the app's paths)
    reaches the host without any long-lived or shared token.
  - On the controller, with the operator's vault credentials, the app's role id and a fresh
    secret id are asked for. The secret id comes response-wrapped, for O(wrap_ttl), so the
    controller only holds a single-use wrapping token. On the host,
    M(vaultshift.secrets.approle_unwrap) checks where the token was made, unwraps it (the secret
    id travels only between the vault and the host) and writes the role id and the secret id to
    O(role_id_file) and O(secret_id_file) (mode 0600, root's when run as root). These are the
    files the agent configurations vaultshift writes read.
  - The secret id is single-use. Each run delivers a fresh one and destroys the one the files
    held before (when it was never used; a used one is gone already).
  - If the wrapping token was unwrapped before it reached the host, someone else held it and
    may hold the secret id. The task fails saying so, and the secret id is destroyed.
  - The app is the one of the plan whose files are on this host (C(inventory_hostname)), as
    C(vaultshift access plan) names apps, or O(app). A host where no app runs is skipped.
options:
  plan:
    description:
      - The migration plan file on the controller, the one C(vaultshift access apply) made the
        roles from. A relative path is looked up in the working directory, then like the C(src)
        of M(ansible.builtin.copy).
    type: path
    required: true
  config:
    description:
      - The vaultshift configuration on the controller, with its C(backends) and its C(access)
        section (the prefix, the Vault backend, the C(approle) auth mount and its C(wrap_ttl)).
      - Default C(vaultshift.yml) in the working directory when it exists, else one Vault/OpenBao
        backend at E(VAULT_ADDR) with E(VAULT_TOKEN).
    type: path
  app:
    description:
      - The app whose identity the host gets. Default the app of the plan that runs on this host.
    type: str
  wrap_ttl:
    description:
      - How long the wrapping token lives (seconds, or like V(90s), V(2m)). Default the
        configuration's C(access.auth.approle.wrap_ttl), else 60 seconds.
    type: str
  vault_addr:
    description:
      - The vault's address as the host reaches it. Default the backend's address.
    type: str
  ca_cert:
    description:
      - A CA bundle on the host to check the vault's certificate with.
    type: path
  validate_certs:
    description:
      - Whether the host checks the vault's TLS certificate.
    type: bool
    default: true
  role_id_file:
    description:
      - Where the role id goes on the host.
    type: path
    default: /etc/vaultshift/approle/role_id
  secret_id_file:
    description:
      - Where the secret id goes on the host. Its accessor goes beside it, with C(.accessor) appended.
    type: path
    default: /etc/vaultshift/approle/secret_id
  owner:
    description:
      - The files' owner on the host (the user the agent runs as). Default the user the module
        runs as (root with C(become)).
    type: str
  group:
    description:
      - The files' group on the host.
    type: str
  timeout:
    description:
      - Seconds the host waits for each request to the vault.
    type: int
    default: 10
extends_documentation_fragment:
  - vaultshift.secrets.attributes
  - vaultshift.secrets.attributes.ACTION
attributes:
  action:
    description: The vault side runs on the controller, in the action plugin.
    support: full
  check_mode:
    description: Says which app's identity would be delivered; no secret id is made.
    support: full
  diff_mode:
    description: Not supported. The files hold credentials.
    support: none
requirements:
  - On the controller, the vaultshift Python package and a Vault token allowed to read the
    role's id and make its secret ids (the operators policy C(vaultshift access) writes)
  - On the host, Python 3 and its standard library, and a route to the vault
notes:
  - The wrapping token and the secret id never appear in the task's result or in Ansible's output,
    at any verbosity. The host module runs with C(no_log), over pipelining when the connection
    can; without pipelining, the wrapping token is in Ansible's temporary module file on the host
    until the module ran (it is spent by then).
  - A single-use secret id logs the agent in once. Its token lives up to C(token_max_ttl) (or
    is renewed forever with C(token_period)); run this again before an agent needs to log in
    again, after a restart.
seealso:
  - module: vaultshift.secrets.approle_unwrap
  - name: vaultshift access apply
    description: Makes the policies and the roles this module delivers identities of.
    link: https://github.com/vaultshift/vaultshift#access
"""

EXAMPLES = r"""
- name: Give each app server its identity
  hosts: app_servers
  become: true
  gather_facts: false
  tasks:
    - name: Deliver a wrapped, single-use secret id
      vaultshift.secrets.approle_identity:
        plan: plan.json
        config: vaultshift.yml
        vault_addr: https://vault.internal:8200
        ca_cert: /etc/ssl/certs/vault-ca.pem
"""

RETURN = r"""
app:
  description: The app whose identity was delivered (null when none runs on the host).
  returned: always
  type: str
  sample: shop
role:
  description: Its AppRole role.
  returned: success
  type: str
  sample: vaultshift-shop
secret_id_accessor:
  description: The accessor of the secret id delivered (to revoke it, or find it in the audit log).
  returned: success
  type: str
role_id_file:
  description: Where the role id was written on the host.
  returned: success
  type: str
secret_id_file:
  description: Where the secret id was written on the host.
  returned: success
  type: str
previous_accessor:
  description: The accessor of the secret id the files held before, empty when none.
  returned: success
  type: str
previous:
  description:
    - What became of the previous secret id. V(destroyed) (never used), V(gone) (used or expired
      already), or V(none) (there was none).
  returned: success
  type: str
"""
