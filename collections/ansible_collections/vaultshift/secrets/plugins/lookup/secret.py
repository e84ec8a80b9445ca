# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
name: secret
author: vaultshift developers (@vaultshift)
short_description: Read a migrated secret from Vault/OpenBao KV v2 or AWS Secrets Manager
description:
  - Returns one key of a secret (C(PATH#KEY)) or the whole secret as a dictionary (C(PATH)), from
    the backend the migration stored it in, so configs that C(vaultshift apply) rewrote read their
    values at runtime.
  - One login per playbook run, not per lookup or host. The first lookup of a run starts a small
    session process (a unix socket in the user's private runtime directory) that all of Ansible's
    forked workers share. It holds the token and a short-lived read cache in memory, so a hundred
    hosts that template the same secret make one read. Tokens and values are never written to disk.
    The session ends with the run and revokes the tokens it logged in for.
  - Errors name the path, key and reason (missing path, missing key, permission denied), never a
    value.
extends_documentation_fragment:
  - vaultshift.secrets.connection
  - vaultshift.secrets.auth
options:
  _terms:
    description:
      - References C(PATH#KEY) (one key) or C(PATH) (every key, as a dictionary), e.g.
        C(apps/web/db#password).
    required: true
    type: list
    elements: str
  version:
    description:
      - Read this version of the secret (KV v2 version number; for Secrets Manager the version
        vaultshift wrote as number N). The latest when not given.
    type: int
  session:
    description:
      - Share one login and the read cache among all lookups of the run (see the description).
        With V(false) each lookup logs in and reads on its own, as community.hashi_vault does.
    type: bool
    default: true
    env:
      - name: VAULTSHIFT_SESSION
    ini:
      - section: vaultshift_secrets
        key: session
    vars:
      - name: ansible_vaultshift_session
  cache_ttl:
    description:
      - Seconds a value read by the session is served again without a read. V(0) reads every time
        (use it for a secret the same play changes and reads back).
    type: float
    default: 60
    env:
      - name: VAULTSHIFT_CACHE_TTL
    ini:
      - section: vaultshift_secrets
        key: cache_ttl
    vars:
      - name: ansible_vaultshift_cache_ttl
notes:
  - Needs the vaultshift package (C(pip install vaultshift)) on the controller, where lookups run;
    nothing on the managed hosts.
seealso:
  - name: community.hashi_vault.vault_kv2_get
    description: The option names are the same; change the plugin name to switch.
    link: https://docs.ansible.com/ansible/latest/collections/community/hashi_vault/
"""

EXAMPLES = r"""
- name: A key of a migrated secret
  ansible.builtin.debug:
    msg: "{{ lookup('vaultshift.secrets.secret', 'apps/web/db#password') }}"

- name: A secret stored in another backend of vaultshift.yml
  ansible.builtin.set_fact:
    stripe_key: "{{ lookup('vaultshift.secrets.secret', 'apps/billing/stripe#key', backend='aws') }}"
  no_log: true

- name: The whole secret, an older version, AppRole with a response-wrapped secret id
  ansible.builtin.template:
    src: app.conf.j2
    dest: /etc/app/app.conf
  vars:
    db: "{{ lookup('vaultshift.secrets.secret', 'apps/web/db', version=3) }}"
    ansible_vaultshift_auth_method: approle
    ansible_vaultshift_role_id: "{{ web_role_id }}"
    ansible_vaultshift_wrapped_secret_id: "{{ web_wrapped_secret_id }}"
"""

RETURN = r"""
_raw:
  description:
    - For each term, the key's value (a string), or the whole secret as a dictionary of keys to
      values.
  type: list
  elements: raw
"""

from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

# Every option but the lookup's own is handed to the engine as is.
_OWN = ("_terms", "version", "session", "cache_ttl")


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[Any]:
        self.set_options(var_options=variables, direct=kwargs)
        options = {name: value for name, value in self.get_options().items()
                   if value is not None and name not in _OWN}
        version = self.get_option("version")
        reader = _SessionReader(options, float(self.get_option("cache_ttl"))) if self.get_option("session") \
            else _LocalReader(options)
        return [_select(term, reader.read(_path_of(term), version)) for term in terms]


def _path_of(term: Any) -> str:
    if not isinstance(term, str) or not term.strip("#/ "):
        raise AnsibleError(f"vaultshift.secrets.secret: {term!r} is not a reference (PATH or PATH#KEY)")
    return term.split("#", 1)[0].strip("/")


def _select(term: str, secret: dict[str, Any]) -> Any:
    fields = secret["fields"]
    if "#" not in term:
        return fields
    key = term.split("#", 1)[1]
    if key not in fields:
        keys = ", ".join(sorted(fields)) or "none"
        raise AnsibleError(f"vaultshift.secrets.secret: {term}: no key {key!r} in the secret (its keys: {keys})")
    return fields[key]


class _SessionReader:
    """Reads through the run's session (one login, a shared cache)."""

    def __init__(self, options: dict[str, Any], cache_ttl: float) -> None:
        self.options = {**options, "cache_ttl": cache_ttl}

    def read(self, path: str, version: int | None) -> dict[str, Any]:
        try:
            from migrator.session.client import session_client
            from migrator.session.wire import SessionUnavailable
        except ImportError:
            raise AnsibleError("vaultshift.secrets.secret needs the vaultshift package on the controller "
                               "(pip install vaultshift)") from None
        try:
            answer = session_client().read(self.options, path, version)
        except SessionUnavailable as exc:
            raise AnsibleError(f"vaultshift.secrets.secret: {path}: {exc}") from None
        return _answer(path, answer)


class _LocalReader:
    """Logs in and reads in this process (``session: false``)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    def read(self, path: str, version: int | None) -> dict[str, Any]:
        import os

        try:
            from migrator.session.server import Session
            from migrator.session.wire import PROTOCOL
        except ImportError:
            raise AnsibleError("vaultshift.secrets.secret needs the vaultshift package on the controller "
                               "(pip install vaultshift)") from None
        answer = Session().handle({"protocol": PROTOCOL, "op": "read", "cwd": os.getcwd(), "path": path,
                                   "version": version, "options": {**self.options, "cache_ttl": 0}})
        return _answer(path, answer)


def _answer(path: str, answer: dict[str, Any]) -> dict[str, Any]:
    if "error" in answer:
        raise AnsibleError(f"vaultshift.secrets.secret: {answer['error']}")
    return answer
