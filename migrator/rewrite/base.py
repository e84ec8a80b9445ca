"""What every rewriter shares: the replacements it is given, the context it needs, what it returns.

A rewriter is a pure function ``rewrite(original, replacements, context) -> RewriteResult``: no
I/O, deterministic, and it never sees a secret's value. ``original`` is the file's bytes as
read, each :class:`Replacement` a byte span of it (``start_byte``..``end_byte``, as the scan
reported) and the vault location that now holds the value; the context says where the file lives
and how the backends are mounted. Everything outside the spans stays byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Protocol

from migrator.plan.models import Occurrence, SecretRef

# What an agent-rendered file (or a .env whose variable the agent provides) holds at the span
# until the agent renders it. The scanner reads __NAME__ as a placeholder, and the word is safe
# unquoted in every format we read (no quote, space, '#', ':', '{' or '$').
MARKER = "__VAULTSHIFT_AGENT__"
LOOKUP_PLUGIN = "vaultshift.secrets.secret"
COMPANION_DIR = ".vaultshift"  # beside the rewritten file: templates, agent configs, units
KUBERNETES_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # a pod's service account token
AUTO_AUTH_METHODS = ("approle", "kubernetes", "jwt", "token_file")

# Vault paths and field names end up inside Jinja and Go string literals and HCL strings: the
# planner's naming makes them from [a-z0-9._-/]; anything that could close or escape a literal is
# refused here rather than escaped four different ways.
_UNSAFE_PATH = re.compile(r"[^A-Za-z0-9._\-/@+=,]")
_UNSAFE_FIELD = re.compile(r"[\x00-\x1f\x7f'\"\\{}$#`]")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._\-]")


class RewriteError(ValueError):
    """The file cannot be rewritten as asked. One line; it names lines and spans, never a value."""


@dataclass(frozen=True, slots=True, order=True)
class Replacement:
    """Replace ``original[start_byte:end_byte]`` (a value, as the scan reported it) by a reference
    to ``ref``."""

    start_byte: int
    end_byte: int
    ref: SecretRef

    @classmethod
    def from_occurrence(cls, occurrence: Occurrence, ref: SecretRef) -> Replacement:
        return cls(occurrence.start_byte, occurrence.end_byte, ref)


@dataclass(frozen=True, slots=True)
class KvMount:
    """Where a Vault / OpenBao backend keeps secrets: the KV mount, a path prefix under it, and the
    KV version (2 unless told)."""

    mount: str = "secret"
    prefix: str = ""
    version: int = 2

    def api_path(self, ref: SecretRef) -> str:
        """The path an agent template reads: ``MOUNT/data/PREFIX/PATH`` for KV v2."""
        parts = [self.mount.strip("/"), "data" if self.version == 2 else "", self.prefix.strip("/"),
                 ref.path.strip("/")]
        return "/".join(p for p in parts if p)

    @property
    def data(self) -> str:
        """Where a secret's fields are in the template's response: ``.Data.data`` for KV v2."""
        return ".Data.data" if self.version == 2 else ".Data"


def kv_mounts(backends: Mapping[str, Mapping[str, Any]]) -> dict[str, KvMount]:
    """How each Vault backend of a configuration's ``backends`` (name -> settings) keeps secrets,
    by name: its KV mount and path prefix. A database engine's credentials (``vault-database``
    backends) read like KV version 1 paths: ``MOUNT/PATH``, fields under ``.Data``."""
    mounts = {name: KvMount(str(s.get("mount") or "secret"), str(s.get("prefix") or ""))
              for name, s in backends.items() if s.get("type", "vault") == "vault"}
    mounts.update({name: KvMount(str(s.get("mount") or "database"), "", version=1)
                   for name, s in backends.items() if s.get("type") == "vault-database"})
    return mounts


@dataclass(frozen=True, slots=True)
class AutoAuth:
    """How the agent logs in; every credential is a file's path, never a value.

    - ``approle`` (the default, for hosts): the role id and secret id in root-only files (where
      ``vaultshift.secrets.approle_identity`` delivers them).
    - ``kubernetes`` (pods): ``role`` and the service account token at ``jwt_file`` (default
      :data:`KUBERNETES_TOKEN_FILE`).
    - ``jwt`` (CI jobs, workload identities): ``role`` and the JWT at ``jwt_file``.
    - ``token_file``: a token something else maintains (and the tests' render checks).

    ``mount_path`` is the auth mount's path (``auth/approle``); empty: ``auth/METHOD``."""

    method: str = "approle"  # one of AUTO_AUTH_METHODS
    mount_path: str = ""
    role_id_file: str = "/etc/vaultshift/approle/role_id"
    secret_id_file: str = "/etc/vaultshift/approle/secret_id"
    token_file: str = ""
    exit_on_err: bool = False  # give up on a failed login instead of retrying with backoff
    role: str = ""  # kubernetes and jwt: the role to log in as
    jwt_file: str = ""  # kubernetes: the service account token (default KUBERNETES_TOKEN_FILE); jwt: required

    @property
    def path(self) -> str:
        """The auth mount's path as the agent wants it: ``auth/MOUNT``."""
        mount = self.mount_path.strip("/") or self.method
        return mount if mount.startswith("auth/") else f"auth/{mount}"

    @classmethod
    def token(cls, path: str, exit_on_err: bool = False) -> AutoAuth:
        return cls(method="token_file", token_file=path, exit_on_err=exit_on_err)

    @classmethod
    def kubernetes(cls, role: str, mount: str = "kubernetes", token_path: str = "",
                   exit_on_err: bool = False) -> AutoAuth:
        return cls(method="kubernetes", mount_path=mount, role=role, jwt_file=token_path, exit_on_err=exit_on_err)

    @classmethod
    def jwt(cls, role: str, jwt_file: str, mount: str = "jwt", exit_on_err: bool = False) -> AutoAuth:
        return cls(method="jwt", mount_path=mount, role=role, jwt_file=jwt_file, exit_on_err=exit_on_err)


@dataclass(frozen=True, slots=True)
class AgentOptions:
    """What the generated agent configurations and systemd units say."""

    address: str = "https://127.0.0.1:8200"
    binary: str = "/usr/bin/bao"  # "/usr/bin/vault" for HashiCorp Vault's agent: same configuration
    auth: AutoAuth = field(default_factory=AutoAuth)
    render_interval: str = "5m"  # template_config.static_secret_render_interval: how often KV is re-read
    app_unit: str = ""  # the unit that reads the file ("myapp.service"): Before= and WantedBy=
    env_mode: str = "exec"  # agent_env: "exec" (env_template + exec) or "file" (a rendered .env)
    command: tuple[str, ...] = ()  # agent_env exec mode: the application's command line
    destination: str = ""  # agent_template: render there (a tmpfs path) instead of over the file
    ca_cert: str = ""
    namespace: str = ""
    retries: int | None = None  # vault.retry.num_retries (None: the agent's default, 12; -1: none)


@dataclass(frozen=True, slots=True)
class RewriteContext:
    """Where the file lives and what the backends are. ``path`` is the file as its host sees it
    (absolute for the agent styles: generated configs name it); ``mode``, ``uid`` and ``gid`` are
    the original file's, for the rendered file. ``mounts`` maps backend names (``SecretRef.backend``)
    to their KV mounts; a lookup names its backend only when it is not ``default_backend``."""

    path: str
    mounts: Mapping[str, KvMount] = field(default_factory=lambda: {"vault": KvMount()})
    default_backend: str = "vault"
    mode: int = 0o600
    uid: int | None = None
    gid: int | None = None
    agent: AgentOptions = field(default_factory=AgentOptions)

    @property
    def pure_path(self) -> PurePosixPath:
        return PurePosixPath(self.path)

    def mount_for(self, ref: SecretRef) -> KvMount:
        mount = self.mounts.get(ref.backend)
        if mount is None:
            raise RewriteError(f"backend {ref.backend!r} of {ref} is not a Vault/OpenBao KV backend here; "
                               "agent templates can read only those")
        return mount


@dataclass(frozen=True, slots=True)
class RewriteResult:
    """The rewritten file, the files generated beside it (absolute paths; ``modes`` gives each one's
    permission bits), a one-line description, and the byte spans of ``new_bytes`` that were
    written (one per edit, in file order; an edit covers one replacement, or a whole YAML scalar
    that had to be quoted around several), for verification. ``unchanged`` means the
    input already was this rewrite's output: ``new_bytes`` is the input, and nothing is
    generated again."""

    new_bytes: bytes
    companions: dict[PurePosixPath, bytes]
    description: str
    spans: tuple[tuple[int, int], ...] = ()
    modes: dict[PurePosixPath, int] = field(default_factory=dict)
    unchanged: bool = False
    # For each span, the byte span of the original it replaced, when the rewriter knows it (the
    # Terraform rewrite's edits include ones that hold no secret); else apply works it out.
    originals: tuple[tuple[int, int], ...] = ()


class Rewriter(Protocol):
    def __call__(self, original: bytes, replacements: Sequence[Replacement],
                 context: RewriteContext) -> RewriteResult: ...


def check_ref(ref: SecretRef) -> None:
    """Refuse paths, fields and backend names that could break out of a string literal."""
    path = ref.path.strip("/")
    if not path or _UNSAFE_PATH.search(path) or any(part in ("", ".", "..") for part in path.split("/")):
        raise RewriteError(f"vault path of {ref.field!r} is not a plain path (letters, digits, . _ - / only)")
    if not ref.field or _UNSAFE_FIELD.search(ref.field):
        raise RewriteError(f"field name at {path} holds a quote, brace, '$', '#' or control character")
    if not ref.backend or _UNSAFE_NAME.search(ref.backend):
        raise RewriteError(f"backend name of {path} is not a plain name")


def describe_refs(replacements: Sequence[Replacement]) -> str:
    refs = sorted({str(r.ref) for r in replacements})
    shown = ", ".join(refs[:3]) + (f" and {len(refs) - 3} more" if len(refs) > 3 else "")
    return shown
