#!/usr/bin/python
# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: files
author: vaultshift developers (@vaultshift)
short_description: Read files exactly, and replace them atomically only if they did not change
version_added: 0.1.0
description:
  - The host side of M(vaultshift.secrets.migrate) and M(vaultshift.secrets.rollback). The vaultshift
    engine runs on the controller and reads and writes the files of each managed host through this
    module. It is documented for completeness; playbooks use the two actions, not this module.
  - With O(state=read) it returns the bytes (base64), mode and owner of each of O(paths).
  - With O(state=written) it replaces each file of O(files) atomically, but only while the file
    still holds exactly what the controller read from it (its SHA-256). A file that changed since
    is named in RV(files) with the error C(changed since it was read), and nothing is written for it.
    The other files are written.
  - A file is replaced the way C(vaultshift apply) replaces it. A temporary file is made in the
    same directory (mode 0600 from the start, a random name), written and fsynced. It gets the
    original's owner, mode and extended attributes, is renamed over the file, and the directory is
    fsynced. Readers see the old file or the new one, never a mix. Symlinks are never followed or
    replaced.
  - Only the Python standard library is used on the host.
options:
  state:
    description:
      - V(read) returns the files of O(paths). V(written) writes the files of O(files), after
        removing the stale temporary files of O(clean).
    type: str
    choices: [read, written]
    default: read
  paths:
    description:
      - With O(state=read), the files to read (absolute paths). Each must be a regular file.
    type: list
    elements: str
    default: []
  files:
    description:
      - With O(state=written), the files to write, in order. For each file, its O(files[].companions)
        are written first, then the file itself, then O(files[].remove) is removed.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The file (an absolute path).
        type: str
        required: true
      content:
        description:
          - The new content, base64-encoded. When not given, the file itself is left as it is (only
            its companions are written and O(files[].remove) removed).
        type: str
      sha256:
        description:
          - The SHA-256 (hex) of what the file holds now, as the controller read it. Required with
            O(files[].content). The file is written only if its content still has this digest.
        type: str
      companions:
        description:
          - Files generated beside it (agent template, agent configuration, systemd unit), written
            before it. An existing companion keeps its owner. Missing parent directories are made
            with mode 0700.
        type: list
        elements: dict
        default: []
        suboptions:
          path:
            description: The companion (an absolute path).
            type: str
            required: true
          content:
            description: Its content, base64-encoded.
            type: str
            required: true
          mode:
            description: Its permission bits, in octal.
            type: str
            default: "0600"
      remove:
        description:
          - Files removed once the file is written (companions that a rollback no longer needs).
            Missing files are ignored.
        type: list
        elements: str
        default: []
  clean:
    description:
      - With O(state=written), directories from which to remove the temporary files that a killed
        run left (C(.*.vaultshift-tmp)). Their C(.vaultshift) companion directories are cleaned too.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - vaultshift.secrets.attributes
attributes:
  check_mode:
    description:
      - With O(state=written), checks each file's digest and reports what would be written.
        Nothing is written or removed.
    support: full
  diff_mode:
    description: Not supported. The actions show diffs with every secret redacted.
    support: none
notes:
  - The contents travel in the module's arguments and results. O(files[].content) and
    O(files[].sha256) are C(no_log) options. The actions run this module with C(no_log) and never
    show its results.
seealso:
  - module: vaultshift.secrets.migrate
  - module: vaultshift.secrets.rollback
"""

EXAMPLES = r"""
# The actions call this module themselves; this shows its protocol.
- name: Read two files
  vaultshift.secrets.files:
    state: read
    paths: [/etc/myapp/config.yml, /srv/myapp/.env]
  register: read
  no_log: true

- name: Replace one of them, only if it did not change since
  vaultshift.secrets.files:
    state: written
    files:
      - path: /etc/myapp/config.yml
        content: "{{ new_config | b64encode }}"
        sha256: "{{ read.files[0].content | b64decode | hash('sha256') }}"
  no_log: true
"""

RETURN = r"""
files:
  description:
    - One entry per file, in the order asked.
    - With O(state=read), C(content), C(mode), C(uid) and C(gid), or C(error) (and C(errno)).
    - With O(state=written), C(changed), or C(error) (and C(errno)).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    content:
      description: Its bytes, base64-encoded (O(state=read)).
      type: str
    mode:
      description: Its permission bits, in octal (O(state=read)).
      type: str
      sample: "0640"
    uid:
      description: Its owner's user id (O(state=read)).
      type: int
    gid:
      description: Its group id (O(state=read)).
      type: int
    changed:
      description: Whether it was written (or its companions, or a removal) (O(state=written)).
      type: bool
    error:
      description: Why it could not be read or written, one line. Nothing was written for it.
      type: str
      sample: changed since it was read
    errno:
      description: The error's errno name, when it came from the operating system.
      type: str
      sample: EACCES
removed:
  description: How many stale temporary files were removed from O(clean).
  returned: O(state=written)
  type: int
"""

import base64
import contextlib
import errno
import hashlib
import os
import secrets
import stat

from ansible.module_utils.basic import AnsibleModule

# The engine's names (migrator.rewrite.atomic.TEMP_SUFFIX, migrator.rewrite.base.COMPANION_DIR):
# a killed run of either leaves temporary files the other recognises.
TEMP_SUFFIX = ".vaultshift-tmp"
COMPANION_DIR = ".vaultshift"

_COMPANION_SPEC = dict(
    path=dict(type="str", required=True),
    content=dict(type="str", required=True, no_log=True),
    mode=dict(type="str", default="0600"),
)
_FILE_SPEC = dict(
    path=dict(type="str", required=True),
    content=dict(type="str", no_log=True),
    sha256=dict(type="str", no_log=True),
    companions=dict(type="list", elements="dict", default=[], options=_COMPANION_SPEC),
    remove=dict(type="list", elements="str", default=[]),
)
ARGUMENT_SPEC = dict(
    state=dict(type="str", choices=["read", "written"], default="read"),
    paths=dict(type="list", elements="str", default=[]),
    files=dict(type="list", elements="dict", default=[], options=_FILE_SPEC),
    clean=dict(type="list", elements="str", default=[]),
)

_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NOFOLLOW", 0)


class Refused(Exception):
    """A file this module will not touch, and why (one line)."""


def _os_failure(path, exc):
    code = exc.errno
    return {"path": path, "error": exc.strerror or type(exc).__name__,
            "errno": errno.errorcode.get(code, "") if code else ""}


def _absolute(path):
    if not path.startswith("/"):
        raise Refused("not an absolute path")
    return path


def _read_exact(path):
    """Every byte of the regular file at ``path`` (not through a symlink) and its stat."""
    fd = os.open(path, _READ_FLAGS | getattr(os, "O_NONBLOCK", 0))  # a FIFO swapped in never blocks
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused("not a regular file")
        chunks = []
        while True:
            chunk = os.read(fd, max(st.st_size, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks), st
    finally:
        os.close(fd)


def read_file(path):
    try:
        data, st = _read_exact(_absolute(path))
    except Refused as exc:
        return {"path": path, "error": str(exc)}
    except OSError as exc:
        return _os_failure(path, exc)
    return {"path": path, "content": base64.b64encode(data).decode("ascii"),
            "mode": f"{stat.S_IMODE(st.st_mode):04o}", "uid": st.st_uid, "gid": st.st_gid}


def fsync_directory(directory):
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_xattrs(source, fd):
    """Best effort: extended attributes (ACLs, security labels) the process may set."""
    if not hasattr(os, "listxattr"):
        return
    try:
        names = os.listxattr(source, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        with contextlib.suppress(OSError):
            os.setxattr(fd, name, os.getxattr(source, name, follow_symlinks=False))


def write_atomic(path, data, like, mode=None, check=None, sync_directory=True):
    """Replace ``path`` with ``data``: a temporary file beside it, fsynced, with the owner, mode
    and extended attributes of ``like`` (a stat of the file, or None for a new file of ``mode``),
    renamed over it. ``check()``, called just before the rename, may refuse it."""
    directory = os.path.dirname(path) or "/"
    if os.path.islink(path):
        raise Refused("refusing to replace a symlink")
    new_mode = mode if mode is not None else (stat.S_IMODE(like.st_mode) if like is not None else 0o600)
    temp = os.path.join(directory, f".{secrets.token_hex(8)}{TEMP_SUFFIX}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                 | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if like is not None and (like.st_uid, like.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(fd, like.st_uid, like.st_gid)
                except PermissionError:
                    raise Refused(f"cannot keep the owner ({like.st_uid}:{like.st_gid}); run as root or as the "
                                  "owner") from None
            if like is not None:
                _copy_xattrs(path, fd)
            os.fchmod(fd, new_mode)  # after fchown, which clears set-id bits
            os.fsync(fd)
        finally:
            os.close(fd)
        if check is not None:
            check()
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    if sync_directory:
        fsync_directory(directory)


def write_companions(companions):
    """Each companion atomically with its mode (an existing one keeps its owner); parent
    directories made 0700 as needed; every rename durable before the file itself is written."""
    directories = set()
    for companion in sorted(companions, key=lambda c: c["path"]):
        target = _absolute(companion["path"])
        parent = os.path.dirname(target)
        created = []
        while not os.path.isdir(parent):
            created.append(parent)
            parent = os.path.dirname(parent)
        for directory in reversed(created):
            with contextlib.suppress(FileExistsError):  # another writer may have made it since
                os.mkdir(directory, 0o700)
            fsync_directory(os.path.dirname(directory))
        try:
            like = os.stat(target, follow_symlinks=False)
        except FileNotFoundError:
            like = None
        if like is not None and not stat.S_ISREG(like.st_mode):
            raise Refused(f"{target}: not a regular file")
        write_atomic(target, base64.b64decode(companion["content"]), like, mode=int(companion["mode"], 8),
                     sync_directory=False)
        directories.add(os.path.dirname(target))
    for directory in sorted(directories):
        fsync_directory(directory)


def _sha256_of(path):
    return hashlib.sha256(_read_exact(path)[0]).hexdigest()


def write_file(entry, check_mode):
    """One file of ``files``: checked against its digest, then its companions, the file, the removals."""
    path = entry["path"]
    content = entry["content"]
    try:
        _absolute(path)
        for other in entry["remove"]:
            _absolute(other)
        like = None
        if content is not None:
            if not entry["sha256"]:
                raise Refused("no sha256 of the content it must still have")
            data, like = _read_exact(path)
            if hashlib.sha256(data).hexdigest() != entry["sha256"].lower():
                raise Refused("changed since it was read")
            del data
        if check_mode:
            return {"path": path, "changed": True}
        write_companions(entry["companions"])
        if content is not None:
            def unchanged():
                if _sha256_of(path) != entry["sha256"].lower():
                    raise Refused("changed since it was read")

            write_atomic(path, base64.b64decode(content), like, check=unchanged)
        removed = False
        for other in entry["remove"]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(other)
                removed = True
        changed = content is not None or bool(entry["companions"]) or removed
    except Refused as exc:
        return {"path": path, "error": str(exc)}
    except OSError as exc:
        return _os_failure(path, exc)
    return {"path": path, "changed": changed}


def remove_stale_temporaries(directories, check_mode):
    """Temporary files a killed run left in ``directories`` and their companion directories."""
    removed = 0
    for directory in sorted(set(directories)):
        if not directory.startswith("/"):
            continue
        for folder in (directory, os.path.join(directory, COMPANION_DIR)):
            try:
                names = [name for name in os.listdir(folder) if name.startswith(".") and name.endswith(TEMP_SUFFIX)]
            except OSError:
                continue
            for name in names:
                if not check_mode:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(folder, name))
                removed += 1
    return removed


def respond(params, check_mode=False):
    """The answer to one request (``params`` as the module validated them)."""
    if params["state"] == "read":
        return {"changed": False, "files": [read_file(path) for path in params["paths"]]}
    removed = remove_stale_temporaries(params["clean"], check_mode)
    files = [write_file(entry, check_mode) for entry in params["files"]]
    return {"changed": bool(removed) or any(item.get("changed") for item in files), "files": files,
            "removed": removed}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**respond(module.params, module.check_mode))


if __name__ == "__main__":
    main()
