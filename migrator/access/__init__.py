"""The access model (issue 8): least-privilege policies for apps, write-only ones for developers,
an operators' policy, and the identities apps log in with (secret zero).

- :mod:`migrator.access.settings`: the ``access:`` section of ``vaultshift.yml``;
- :mod:`migrator.access.model`: who reads and who writes what, from the migration plan;
- :mod:`migrator.access.vault_policies`: Vault / OpenBao ACL policies (HCL);
- :mod:`migrator.access.vault_apply`: plan and apply them (and the roles) on the server, all or nothing;
- :mod:`migrator.access.engine`: the two together, what the CLI and the Ansible collection call.
"""
