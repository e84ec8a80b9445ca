#!/usr/bin/python
# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: approle_unwrap
author: vaultshift developers (@vaultshift)
short_description: Unwrap an AppRole secret id on the host and keep it in root-only files
version_added: 0.1.0
description:
  - The host side of M(vaultshift.secrets.approle_identity), which playbooks use. It can also be
    given a wrapping token made elsewhere (C(bao write -wrap-ttl=60s -f auth/approle/role/NAME/secret-id)).
  - Looks the wrapping token up first. A token made anywhere but O(creation_path) is refused
    unopened, since it may have been substituted.
  - Unwraps it, from this host, so the secret id travels only between the vault and this host.
    A wrapping token that can no longer be unwrapped was unwrapped by someone else, unless it
    expired. The task then fails with RV(spent) set, asking to revoke the secret id's accessor
    and investigate.
  - Writes O(role_id) to O(role_id_file) and the secret id to O(secret_id_file), each replaced
    atomically, mode 0600, owned by O(owner) and O(group) (default the user the module runs as,
    root with C(become)). The secret id's accessor goes to O(secret_id_file) with C(.accessor)
    appended, so the next delivery can destroy an unused one.
  - These are the files the agent configurations vaultshift writes read by default
    (C(/etc/vaultshift/approle/role_id), C(/etc/vaultshift/approle/secret_id)).
  - Only the Python standard library is used on the host.
options:
  address:
    description:
      - The Vault/OpenBao address as this host reaches it.
    type: str
    required: true
  wrapping_token:
    description:
      - The response-wrapping token that holds the secret id. Single use, short-lived.
    type: str
    required: true
  role_id:
    description:
      - The role id of the AppRole role (not a secret on its own).
    type: str
    required: true
  secret_id_accessor:
    description:
      - The accessor the secret id must have, as the controller got it with the wrapping token.
        Named in the message when the token was unwrapped before.
    type: str
  creation_path:
    description:
      - Where the wrapping token must have been made, C(auth/MOUNT/role/NAME/secret-id).
    type: str
  role_id_file:
    description:
      - Where the role id goes.
    type: path
    default: /etc/vaultshift/approle/role_id
  secret_id_file:
    description:
      - Where the secret id goes.
    type: path
    default: /etc/vaultshift/approle/secret_id
  owner:
    description:
      - The files' owner (a name or a uid). Default the user the module runs as.
    type: str
  group:
    description:
      - The files' group (a name or a gid). Default the user's group.
    type: str
  ca_cert:
    description:
      - A CA bundle on this host to check the server's certificate with.
    type: path
  validate_certs:
    description:
      - Whether to check the server's TLS certificate.
    type: bool
    default: true
  namespace:
    description:
      - Vault Enterprise / OpenBao namespace of the role.
    type: str
  timeout:
    description:
      - Seconds to wait for each request.
    type: int
    default: 10
extends_documentation_fragment:
  - vaultshift.secrets.attributes
attributes:
  check_mode:
    description: Nothing is unwrapped or written (a wrapping token opens once).
    support: full
  diff_mode:
    description: Not supported. The files hold credentials.
    support: none
notes:
  - O(wrapping_token) is a C(no_log) option. The secret id is never returned.
  - Directories missing on the way to the files are made with mode 0700.
seealso:
  - module: vaultshift.secrets.approle_identity
"""

EXAMPLES = r"""
- name: Unwrap a secret id made elsewhere
  vaultshift.secrets.approle_unwrap:
    address: https://vault.example.org:8200
    wrapping_token: "{{ wrapped.wrap_info.token }}"
    role_id: "{{ shop_role_id }}"
    secret_id_accessor: "{{ wrapped.wrap_info.wrapped_accessor }}"
    creation_path: auth/approle/role/vaultshift-shop/secret-id
  become: true
"""

RETURN = r"""
role_id_file:
  description: Where the role id was written.
  returned: success
  type: str
secret_id_file:
  description: Where the secret id was written.
  returned: success
  type: str
secret_id_accessor:
  description: The accessor of the secret id now in O(secret_id_file).
  returned: success
  type: str
previous_accessor:
  description:
    - The accessor of the secret id the files held before, empty when there was none. The
      controller destroys it when it was never used.
  returned: success
  type: str
spent:
  description:
    - Whether the task failed because the wrapping token could no longer be unwrapped (someone
      else unwrapped it, or it expired).
  returned: always
  type: bool
"""

import contextlib
import json
import os
import tempfile
from urllib.error import HTTPError, URLError

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import SSLValidationError, open_url

ARGUMENT_SPEC = dict(
    address=dict(type="str", required=True),
    wrapping_token=dict(type="str", required=True, no_log=True),
    role_id=dict(type="str", required=True, no_log=False),
    secret_id_accessor=dict(type="str", no_log=False),
    creation_path=dict(type="str"),
    role_id_file=dict(type="path", default="/etc/vaultshift/approle/role_id", no_log=False),
    secret_id_file=dict(type="path", default="/etc/vaultshift/approle/secret_id", no_log=False),
    owner=dict(type="str"),
    group=dict(type="str"),
    ca_cert=dict(type="path"),
    validate_certs=dict(type="bool", default=True),
    namespace=dict(type="str"),
    timeout=dict(type="int", default=10),
)
SPENT_STATUSES = (400, 403, 404)


class Spent(Exception):
    """The wrapping token no longer exists (unwrapped before, or expired)."""


class Failed(Exception):
    """Anything else, one line."""


def _post(module, path, body=None, token=None):
    """POST to the server; the JSON answer. The token goes in a header, never in a message."""
    params = module.params
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-Vault-Token"] = token
    if params["namespace"]:
        headers["X-Vault-Namespace"] = params["namespace"]
    url = params["address"].rstrip("/") + path
    try:
        response = open_url(url, data=json.dumps(body or {}), headers=headers, method="POST",
                            timeout=params["timeout"], validate_certs=params["validate_certs"],
                            ca_path=params["ca_cert"], follow_redirects="none", use_netrc=False)
        return json.loads(response.read().decode("utf-8") or "{}")
    except HTTPError as exc:
        if exc.code in SPENT_STATUSES:
            raise Spent() from None
        raise Failed(f"{path}: the server answered HTTP {exc.code}") from None
    except URLError as exc:
        raise Failed(f"cannot reach {params['address']} ({exc.reason})") from None
    except (SSLValidationError, UrlsConnectionError) as exc:
        raise Failed(f"cannot reach {params['address']} ({type(exc).__name__})") from None
    except (OSError, ValueError) as exc:
        raise Failed(f"{path}: {type(exc).__name__}") from None


def _unwrap(module):
    """(secret id, its accessor) from the wrapping token, after checking where it was made."""
    params = module.params
    token = params["wrapping_token"]
    looked = _post(module, "/v1/sys/wrapping/lookup", {"token": token})
    made_at = str((looked.get("data") or {}).get("creation_path") or "")
    expected = params["creation_path"]
    if expected and made_at != expected:
        raise Failed(f"the wrapping token was made at {made_at or 'an unknown path'}, not {expected}: refused "
                     "unopened (it may have been substituted); investigate")
    answer = _post(module, "/v1/sys/wrapping/unwrap", token=token)
    data = answer.get("data") or {}
    secret_id, accessor = data.get("secret_id"), str(data.get("secret_id_accessor") or "")
    if not isinstance(secret_id, str) or not secret_id:
        raise Failed("the wrapping token did not hold an AppRole secret id")
    wanted = params["secret_id_accessor"]
    if wanted and accessor != wanted:
        raise Failed(f"the wrapping token held the secret id with accessor {accessor}, not {wanted}; investigate")
    return secret_id, accessor


def _ids(module):
    """The uid and gid to give the files: O(owner) (and its primary group) and O(group); root's
    when the module runs as root and none is given; -1 leaves the creating user's."""
    import grp
    import pwd

    owner, group = module.params["owner"], module.params["group"]
    uid = gid = 0 if os.geteuid() == 0 else -1
    if owner:
        try:
            entry = pwd.getpwuid(int(owner)) if owner.isdigit() else pwd.getpwnam(owner)
        except KeyError:
            raise Failed(f"no such user: {owner}") from None
        uid, gid = entry.pw_uid, entry.pw_gid
    if group:
        try:
            gid = grp.getgrgid(int(group)).gr_gid if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            raise Failed(f"no such group: {group}") from None
    return uid, gid


def _write(path, text, uid, gid):
    """Replace ``path`` atomically with ``text``: a 0600 temporary file in the same directory,
    owned as asked, fsynced, renamed over it; the directory fsynced."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".vaultshift-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            if uid != -1 or gid != -1:
                os.fchown(handle.fileno(), uid, gid)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _previous(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except (OSError, ValueError):
        return ""


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    role_id_file, secret_id_file = params["role_id_file"], params["secret_id_file"]
    accessor_file = secret_id_file + ".accessor"
    result = dict(changed=False, spent=False, role_id_file=role_id_file, secret_id_file=secret_id_file)
    if module.check_mode:
        module.exit_json(msg="check mode: the secret id would be unwrapped and written", **result)
    accessor_text = params["secret_id_accessor"] or "(unknown)"
    try:
        uid, gid = _ids(module)
        secret_id, accessor = _unwrap(module)
    except Spent:
        result["spent"] = True
        module.fail_json(msg=f"the wrapped secret id (accessor {accessor_text}) could not be unwrapped: it has "
                             "expired, or it was unwrapped before: someone else may hold the secret id; revoke "
                             f"the secret id accessor {accessor_text} and investigate", **result)
    except Failed as exc:
        module.fail_json(msg=f"the wrapped secret id (accessor {accessor_text}): {exc}", **result)
    previous = _previous(accessor_file)
    try:
        _write(role_id_file, params["role_id"] + "\n", uid, gid)
        _write(secret_id_file, secret_id + "\n", uid, gid)
        _write(accessor_file, accessor + "\n", uid, gid)
    except OSError as exc:
        del secret_id
        module.fail_json(msg=f"cannot write the identity files ({exc.strerror or type(exc).__name__}: "
                             f"{exc.filename or secret_id_file})", secret_id_accessor=accessor, **result)
    del secret_id
    module.exit_json(changed=True, spent=False, role_id_file=role_id_file, secret_id_file=secret_id_file,
                     secret_id_accessor=accessor, previous_accessor=previous if previous != accessor else "",
                     msg=f"secret id {accessor} delivered")


if __name__ == "__main__":
    main()
