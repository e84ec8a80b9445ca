# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
"""How to log in to Vault/OpenBao (Secrets Manager uses the AWS credential chain). The names are
community.hashi_vault's, so its users switch by changing the plugin name."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  auth_method:
    description:
      - How to log in. C(token) (the default) uses O(token), else C(VAULT_TOKEN), else
        C(~/.vault-token). C(approle) uses O(role_id) with O(secret_id) or O(wrapped_secret_id).
        C(kubernetes) and C(jwt) log in with a service-account or OIDC token (O(jwt) or
        O(jwt_file)) for O(role). C(userpass) uses O(username) and O(password).
      - When not given it is chosen from the options present (a O(role_id) means C(approle)), or
        taken from the configuration's backend.
    type: str
    choices: [token, approle, kubernetes, jwt, userpass]
    env:
      - name: ANSIBLE_HASHI_VAULT_AUTH_METHOD
    ini:
      - section: vaultshift_secrets
        key: auth_method
    vars:
      - name: ansible_vaultshift_auth_method
      - name: ansible_hashi_vault_auth_method
  mount_point:
    description:
      - The auth method's mount, when it is not the method's name.
    type: str
    vars:
      - name: ansible_vaultshift_mount_point
      - name: ansible_hashi_vault_mount_point
  token:
    description:
      - A Vault token. Kept in memory only. Without it, C(VAULT_TOKEN) or C(~/.vault-token).
    type: str
    env:
      - name: ANSIBLE_HASHI_VAULT_TOKEN
    vars:
      - name: ansible_vaultshift_token
      - name: ansible_hashi_vault_token
  role_id:
    description:
      - AppRole role id.
    type: str
    env:
      - name: ANSIBLE_HASHI_VAULT_ROLE_ID
    ini:
      - section: vaultshift_secrets
        key: role_id
    vars:
      - name: ansible_vaultshift_role_id
      - name: ansible_hashi_vault_role_id
  secret_id:
    description:
      - AppRole secret id.
    type: str
    env:
      - name: ANSIBLE_HASHI_VAULT_SECRET_ID
    vars:
      - name: ansible_vaultshift_secret_id
      - name: ansible_hashi_vault_secret_id
  wrapped_secret_id:
    description:
      - A response-wrapping token that holds an AppRole secret id (C(vault write -wrap-ttl=...
        auth/approle/role/NAME/secret-id)). It is unwrapped once, at the run's first login; a
        wrapping token that was already unwrapped is refused with a clear message.
    type: str
    env:
      - name: VAULTSHIFT_WRAPPED_SECRET_ID
    vars:
      - name: ansible_vaultshift_wrapped_secret_id
  role:
    description:
      - The role to log in as, for C(kubernetes) and C(jwt).
    type: str
    aliases: [role_name]
    vars:
      - name: ansible_vaultshift_role
  jwt:
    description:
      - The JWT for C(jwt) or C(kubernetes).
    type: str
    env:
      - name: ANSIBLE_HASHI_VAULT_JWT
    vars:
      - name: ansible_vaultshift_jwt
      - name: ansible_hashi_vault_jwt
  jwt_file:
    description:
      - A file holding the JWT (for C(kubernetes), the pod's service-account token at
        C(/var/run/secrets/kubernetes.io/serviceaccount/token), the default).
    type: path
    vars:
      - name: ansible_vaultshift_jwt_file
  username:
    description:
      - User name for C(userpass).
    type: str
    vars:
      - name: ansible_vaultshift_username
      - name: ansible_hashi_vault_username
  password:
    description:
      - Password for C(userpass). Kept in memory only.
    type: str
    vars:
      - name: ansible_vaultshift_password
      - name: ansible_hashi_vault_password
"""
