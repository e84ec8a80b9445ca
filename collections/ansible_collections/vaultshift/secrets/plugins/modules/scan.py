#!/usr/bin/python
# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: scan
author: vaultshift developers (@vaultshift)
short_description: Find plaintext credentials in the files of managed hosts
version_added: 0.1.0
description:
  - Finds plaintext credentials (passwords, API tokens, private keys, credentials in URLs and
    connection strings, ...) in the files under O(paths) on each host, with the vaultshift
    engine, as C(vaultshift scan) does in a local tree, and returns where each one is (host,
    path, line, key path), its kind, a keyed fingerprint and a redacted hint. Never a value.
  - The host only lists and reads files, with the Python standard library. Everything the engine
    decides runs on the controller, in the action plugin, with the same code as C(vaultshift scan)
    - C(.gitignore) / C(.vaultshiftignore) files and O(exclude) patterns, which reader reads a
    file, detectors, filters, the baseline and the fingerprint key - so a finding's fingerprint
    on a host equals the one C(vaultshift scan) gives for the same value.
  - The host first lists the trees; the controller applies the ignore rules to the listing and
    then reads only the files it scans. Their contents travel in the module's raw result, which
    the action plugin never shows, logs or returns (the module runs with C(no_log)).
  - The same secret on many hosts has the same fingerprint; the
    P(vaultshift.secrets.merge_findings#filter) filter turns the results of a fleet into one
    inventory entry per secret.
  - Read-only. The task never reports a change, and runs the same in check mode.
options:
  paths:
    description:
      - Files and directory trees to scan, as absolute paths as the host sees them (they are looked
        up under O(root)).
      - Trees are walked as C(vaultshift scan) walks them. C(.git) is skipped. Symlinks are
        followed only while they stay inside their tree. FIFOs, sockets and devices are never
        opened. Binary files are skipped.
      - A path that does not exist, and a file or directory that cannot be read, is named in
        RV(errors); everything else is still scanned.
    type: list
    elements: str
    required: true
  root:
    description:
      - The host's file system root, for a chroot, a mounted image or a per-host directory of a
        test fleet. O(paths) are looked up under it, and findings name them as the host sees them
        (without O(root)).
      - Symlinks are resolved on the real file system. One that leads out of O(root) or out of its
        tree is named in RV(notes) and not followed.
    type: str
    default: /
  exclude:
    description:
      - Gitignore-style patterns of paths not to scan, matched relative to each path of O(paths),
        as C(vaultshift scan --exclude). They take precedence over ignore files.
    type: list
    elements: str
    default: []
  ignore_files:
    description:
      - Honour C(.gitignore) and C(.vaultshiftignore) files inside the scanned trees, with git's
        semantics, as C(vaultshift scan) does. V(false) is C(vaultshift scan --no-ignore-files).
    type: bool
    default: true
  max_file_size:
    description:
      - Files larger than this are not read. A text file over the cap is named in RV(errors) (its
        content is left unscanned); a binary one is skipped.
      - Bytes, or a size with a unit (V(512K), V(5M), V(1G)).
    type: bytes
    default: 20M
  min_confidence:
    description:
      - Report only findings at least this sure, as C(vaultshift scan --min-confidence).
        V(medium) hides bare UUIDs and other low-confidence findings.
    type: str
    choices: [low, medium, high]
    default: low
  baseline:
    description:
      - A baseline file on the controller (C(vaultshift baseline create)); findings it accepts are
        not reported. An entry matches a fingerprint, a path and a key path; paths are host paths
        as findings name them (C(/etc/app/config.yml)).
      - It must have been made with the same fingerprint key.
      - Looked up like the C(src) of M(ansible.builtin.copy) - a role's C(files/), then the
        playbook's directory - when relative.
    type: path
  uuids:
    description:
      - Report bare UUIDs, at low confidence unless their key names a credential, as
        C(vaultshift scan) does. V(false) is C(vaultshift scan --no-uuids).
    type: bool
    default: true
  fingerprint_key_file:
    description:
      - The HMAC key for fingerprints, a file on the controller (hex, 32 bytes or more).
      - When not given, the key comes from the controller's E(VAULTSHIFT_FINGERPRINT_KEY), else
        the user's C(~/.config/vaultshift/fingerprint.key), exactly as for C(vaultshift scan), so
        fingerprints of the fleet and of local scans can be compared.
    type: path
extends_documentation_fragment:
  - vaultshift.secrets.attributes
  - vaultshift.secrets.attributes.ACTION
attributes:
  action:
    description: The engine runs on the controller, in the action plugin; the host only lists and
      reads files.
    support: full
  check_mode:
    description: Read-only; runs the same in check mode.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
requirements:
  - On the controller, the vaultshift Python package (the engine) in the Python that runs
    C(ansible-playbook)
  - On the host, Python 3 and its standard library, nothing else
notes:
  - Differences from C(vaultshift scan) on a local tree. Ignore files above a scanned path (those
    of an enclosing git repository) are not read. A symlink to a directory inside its tree is not
    walked again under the link's name (the directory is walked under its own).
  - The files that are scanned travel from the host to the controller (in batches of about
    32 MiB). Scan configuration trees (C(/etc), C(/srv/app), C(/opt/app/conf)), not whole disks.
  - C(ANSIBLE_DEBUG=1), a developer switch that prints every module's raw output whatever
    C(no_log) says, would print the files' contents (base64) too; verbosity (C(-v) to C(-vvvvvv))
    never does.
seealso:
  - name: vaultshift scan
    description: The command line scanner whose engine this module runs.
    link: https://github.com/vaultshift/vaultshift#vaultshift-scan
"""

EXAMPLES = r"""
- name: Find plaintext credentials in the application's configuration
  vaultshift.secrets.scan:
    paths:
      - /etc/myapp
      - /srv/myapp/.env
    exclude:
      - "*.bak"
  register: scan

- name: Fail the host when anything was found or left unscanned
  ansible.builtin.assert:
    that:
      - scan.findings | length == 0
      - scan.errors | length == 0
    fail_msg: "{{ scan.findings | map(attribute='path') | unique | list }} {{ scan.errors }}"

- name: Scan as an unprivileged user, report only what the team's baseline does not accept
  vaultshift.secrets.scan:
    paths: [/etc, /srv]
    min_confidence: medium
    baseline: fleet-baseline.json
  become: true
  become_user: scanner
  register: scan

- name: One entry per secret across the fleet (the same password on 40 hosts is one entry)
  ansible.builtin.copy:
    content: "{{ fleet | vaultshift.secrets.merge_findings | to_nice_json }}"
    dest: fleet-secrets.json
    mode: "0600"
  vars:
    fleet: "{{ ansible_play_hosts | map('extract', hostvars, 'scan') | list }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
host:
  description: The host (C(inventory_hostname)).
  returned: success
  type: str
  sample: web1
root:
  description: O(root), the file system root the paths were looked up under.
  returned: success
  type: str
  sample: /
key_id:
  description:
    - The public name of the fingerprint key (16 hex digits of an HMAC under it, not the key), as
      baselines and plans record it. Fingerprints compare only under the same key.
  returned: success
  type: str
  sample: 3f2a1b0c9d8e7f6a
findings:
  description:
    - The credentials found, sorted by path and position. A finding names where a value is and
      what it is; it never holds the value.
    - The fields of a finding of C(vaultshift scan --format json), plus RV(findings[].host) and
      RV(findings[].file_digest), so that M(vaultshift.secrets.plan) can plan the fleet's migration
      from them.
  returned: success
  type: list
  elements: dict
  contains:
    host:
      description: The host (C(inventory_hostname)).
      type: str
      sample: web1
    path:
      description: The file, as the host sees it (without O(root)).
      type: str
      sample: /etc/myapp/config.yml
    line:
      description: The line the value starts on, 1-based.
      type: int
      sample: 12
    column:
      description: The column the value starts at, 1-based, in characters.
      type: int
      sample: 15
    end_line:
      description: The line the value ends on.
      type: int
      sample: 12
    end_column:
      description: The column just after the value (exclusive).
      type: int
      sample: 39
    start_byte:
      description: The offset of the value's first byte in the file, 0-based.
      type: int
      sample: 231
    end_byte:
      description: The offset just after the value's last byte (exclusive).
      type: int
      sample: 255
    key_path:
      description: Where the value sits in the file's structure (empty when it has no key).
      type: str
      sample: database.primary.password
    kind:
      description: What the value is.
      type: str
      sample: password
    rule:
      description: The detector rule that found it.
      type: str
      sample: keyword-password
    confidence:
      description: How sure the detector is, V(low), V(medium) or V(high).
      type: str
      sample: high
    fingerprint:
      description:
        - HMAC-SHA256 of the value under the fingerprint key. Identical values have the same
          fingerprint on every host and in C(vaultshift scan) reports made with the same key.
      type: str
      sample: hmac-sha256:1f0c6a3b9e2d4c5f8a7b6c5d4e3f2a1b
    hint:
      description: A redacted hint, the first and last character and the length at most.
      type: str
      sample: "Z***T (24 chars)"
    reader:
      description: What read the file (C(yaml), C(env), ...; C(yaml+line) when a parse error left
        the rest to the line reader).
      type: str
      sample: yaml
    file_digest:
      description:
        - A keyed HMAC-SHA256 of the whole file as it was scanned (under the fingerprint key), so
          that a plan and its apply can tell the file changed. Not a hash anyone can check
          without the key.
      type: str
      sample: file-hmac-sha256:5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592
errors:
  description:
    - One line per path whose content was left unscanned, and why (a path that does not exist,
      permission denied, a text file over O(max_file_size)). The scan is incomplete when this is
      not empty; the task then also warns.
  returned: success
  type: list
  elements: str
  sample: ["/etc/myapp/secret.yml: permission denied", "/opt/missing: no such file or directory"]
notes:
  description:
    - One line per path with a caveat that left nothing unscanned (a FIFO or device, a symlink out
      of its tree, a malformed file scanned line by line).
    - The C(note) entries of C(vaultshift scan --format json).
  returned: success
  type: list
  elements: str
  sample: ["/srv/myapp/run/app.sock: not a regular file (socket); skipped"]
stats:
  description: The counts of C(vaultshift scan --format json)'s C(stats).
  returned: success
  type: dict
  contains:
    files_scanned:
      description: Files scanned.
      type: int
    files_skipped:
      description: Files and paths not scanned (binary, or named in RV(errors) or RV(notes)).
      type: int
    findings:
      description: Findings reported.
      type: int
    bytes_scanned:
      description: Bytes scanned.
      type: int
    candidates:
      description: Values the detectors proposed, before filters.
      type: int
    dropped_by_filter:
      description: Candidates each filter dropped, by filter name (C(baseline), C(placeholder), ...).
      type: dict
    skipped:
      description: Files skipped, by reason (C(binary), C(error)).
      type: dict
    seconds:
      description: Time the scan took (listing, reading and scanning).
      type: float
  sample:
    files_scanned: 3
    files_skipped: 1
    findings: 2
    bytes_scanned: 512
    candidates: 4
    dropped_by_filter: {placeholder: 2}
    skipped: {error: 1}
    seconds: 0.012
"""

import base64
import errno
import os
import posixpath
import stat

from ansible.module_utils.basic import AnsibleModule

# The options of a task. The action plugin validates a task's arguments against this spec; most
# of them are used on the controller only, and the module accepts them so that they and the
# documentation above stay one list.
ARGUMENT_SPEC = dict(
    paths=dict(type="list", elements="str", required=True),
    root=dict(type="str", default="/"),
    exclude=dict(type="list", elements="str", default=[]),
    ignore_files=dict(type="bool", default=True),
    max_file_size=dict(type="bytes", default="20M"),
    min_confidence=dict(type="str", choices=["low", "medium", "high"], default="low"),
    baseline=dict(type="path"),
    uuids=dict(type="bool", default=True),
    fingerprint_key_file=dict(type="path", no_log=False),
)

# Set by the action plugin only (a task cannot: the action refuses options it does not document).
_PROTOCOL_SPEC = dict(
    _read=dict(type="list", elements="str"),  # read these files (host paths) instead of listing
    _skip_names=dict(type="list", elements="str", default=[]),  # never descend into these (.git)
    _inline_names=dict(type="list", elements="str", default=[]),  # list these files with their content
    _inline_limit=dict(type="int", default=0),  # ... up to this many bytes
    _sniff=dict(type="int", default=0),  # from a file over the cap, read this many bytes
)

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NONBLOCK", 0)


def _failure(path, exc, kind="error"):
    """An entry that could not be listed or read: the errno's name, for the controller to word."""
    code = exc.errno
    return {"path": path, "type": kind, "errno": errno.errorcode.get(code, "") if code else "",
            "strerror": exc.strerror or type(exc).__name__}


def _facts(st):
    return {"size": st.st_size, "mode": f"{stat.S_IMODE(st.st_mode):04o}", "uid": st.st_uid, "gid": st.st_gid}


def _inside(real, tree):
    return tree == "/" or real == tree or real.startswith(tree + "/")


def _host_path(path):
    """An absolute, normalised host path: no ``..`` climbs above the root."""
    return posixpath.normpath("/" + path.lstrip("/"))


def _read(path, limit):
    """The first ``limit(stat)`` bytes of a regular file and its stat, or (None, stat) when it is
    not a regular file. Never blocks on a FIFO swapped in, never follows a symlink swapped in."""
    fd = os.open(path, _OPEN_FLAGS | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None, st
        return handle.read(limit(st)), st


class Host:
    """The host's files under ``root``, named by host paths."""

    def __init__(self, root, skip_names=(), inline_names=(), inline_limit=0):
        self.root = _host_path(root)
        self.real_root = os.path.realpath(self.root)
        self.skip_names = frozenset(skip_names)
        self.inline_names = frozenset(inline_names)
        self.inline_limit = inline_limit

    def full(self, host_path):
        return host_path if self.root == "/" else self.root + host_path

    def tree(self, top):
        """The real path of the scanned path ``top`` when it lies inside the root, else None."""
        real = os.path.realpath(self.full(top))
        return real if _inside(real, self.real_root) else None

    # -- listing --------------------------------------------------------------------------------
    def listing(self, top):
        """What is at host path ``top``: a file, a special file, a link out of the root, an error,
        or a directory with its entries (paths relative to ``top``)."""
        full = self.full(top)
        try:
            st = os.stat(full)
        except OSError as exc:
            return _failure(top, exc, "link" if os.path.islink(full) else "error")
        real = self.tree(top)
        if real is None:
            return {"path": top, "type": "link", "dir": stat.S_ISDIR(st.st_mode), "outside": True}
        if not stat.S_ISDIR(st.st_mode):
            return self._classify(top, st, real, inline=False)
        entries = []
        pending = [(real, "")]
        while pending:
            directory, prefix = pending.pop()
            try:
                with os.scandir(directory) as listing:
                    found = sorted(listing, key=lambda entry: entry.name)
            except OSError as exc:
                if not prefix:
                    return _failure(top, exc, "dir")
                entries.append(_failure(prefix.rstrip("/"), exc, "dir"))
                continue
            subdirs = []
            for entry in found:
                if entry.name in self.skip_names:
                    continue
                rel = prefix + entry.name
                try:
                    is_link = entry.is_symlink()
                    is_dir = not is_link and entry.is_dir(follow_symlinks=False)
                    st = None if is_link or is_dir else entry.stat(follow_symlinks=False)
                except OSError as exc:
                    entries.append(_failure(rel, exc))
                    continue
                if is_link:
                    entries.append(self._link(entry.path, rel, real))
                elif is_dir:
                    subdirs.append((entry.path, rel + "/"))
                else:
                    entries.append(self._classify(rel, st, entry.path, entry.name in self.inline_names))
            pending.extend(reversed(subdirs))
        return {"path": top, "type": "dir", "entries": entries}

    def _link(self, path, rel, tree):
        try:
            st = os.stat(path)
        except OSError as exc:
            return _failure(rel, exc, "link")  # broken, or a loop
        is_dir = stat.S_ISDIR(st.st_mode)
        if not _inside(os.path.realpath(path), tree):
            return {"path": rel, "type": "link", "dir": is_dir, "outside": True}
        if is_dir:
            return {"path": rel, "type": "link", "dir": True, "outside": False}
        return self._classify(rel, st, path, inline=False)

    def _classify(self, rel, st, path, inline):
        if not stat.S_ISREG(st.st_mode):
            return {"path": rel, "type": "special", "st_mode": st.st_mode}
        item = {"path": rel, "type": "file"}
        item.update(_facts(st))
        if inline and self.inline_limit > 0:
            try:
                data = _read(path, lambda found: self.inline_limit)[0]
            except OSError:
                data = None  # the file's own read reports the error
            if data is not None:
                item["content"] = base64.b64encode(data).decode("ascii")
        return item

    # -- reading --------------------------------------------------------------------------------
    def read(self, host_path, trees, max_file_size, sniff):
        """A file's bytes (all of them, up to one byte over the cap; from a file larger than the
        cap only the first ``sniff``), or why not. Only files inside one of ``trees`` are read."""
        real = os.path.realpath(self.full(host_path))
        if not any(_inside(real, tree) for tree in trees):
            return {"path": host_path, "type": "link", "dir": False, "outside": True}
        try:
            data, st = _read(real, lambda found: sniff if found.st_size > max_file_size else max_file_size + 1)
        except OSError as exc:
            return _failure(host_path, exc)
        if data is None:
            return {"path": host_path, "type": "special", "st_mode": st.st_mode}
        over = st.st_size > max_file_size
        item = {"path": host_path, "type": "file", "over": over, "data": base64.b64encode(data).decode("ascii")}
        item.update(_facts(st))
        return item


def respond(params):
    """The answer to one request of the action plugin (``params`` as the module validated them):
    the listing of ``paths``, or with ``_read`` the contents of those files."""
    host = Host(params["root"], params["_skip_names"], params["_inline_names"], params["_inline_limit"])
    tops = [_host_path(path) for path in params["paths"]]
    if params["_read"] is None:
        return {"trees": [host.listing(top) for top in tops]}
    trees = [real for real in (host.tree(top) for top in tops) if real is not None]
    return {"files": [host.read(_host_path(path), trees, params["max_file_size"], params["_sniff"])
                      for path in params["_read"]]}


def main():
    module = AnsibleModule(argument_spec=dict(ARGUMENT_SPEC, **_PROTOCOL_SPEC), supports_check_mode=True)
    root = module.params["root"]
    if not root.startswith("/"):
        module.fail_json(msg=f"root {root}: not an absolute path")
    if not os.path.isdir(root):
        module.fail_json(msg=f"root {root}: not a directory on the host")
    module.exit_json(changed=False, **respond(module.params))


if __name__ == "__main__":
    main()
