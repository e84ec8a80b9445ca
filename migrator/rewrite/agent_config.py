"""What the agent styles generate: Go template text, the agent's HCL configuration, a systemd unit.

Go templates (consul-template, which Vault and OpenBao agents embed): literal text is copied, and
``{{`` starts an action, so every literal run of two or more braces is written as an action that
prints it (``{{ "{{" }}``), as is a lone ``{`` just before one of our actions (``{{{`` would start
an action early). A secret is ``{{ with secret "MOUNT/data/PREFIX/PATH" }}{{ .Data.data.FIELD }}{{ end }}``;
a field that is not a Go identifier is read with ``index .Data.data "FIELD"``.

The agent reads its configuration as HCL 1: in a string only ``\\`` and ``"`` need escaping, and
``${`` opens an interpolation that would swallow the closing quote, so a literal ``$`` before
``{`` in template text embedded in the configuration is printed by an action too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from migrator.plan.models import SecretRef
from migrator.rewrite.base import (
    AUTO_AUTH_METHODS,
    COMPANION_DIR,
    KUBERNETES_TOKEN_FILE,
    AgentOptions,
    AutoAuth,
    KvMount,
    RewriteError,
)
from migrator.rewrite.spans import Encoding

_GO_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_LITERAL = re.compile(rb"\{\{+|\}\}+|\{\Z")
_LITERAL_HCL = re.compile(rb"\{\{+|\}\}+|\{\Z|\$(?=\{)")
_GO_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_HCL_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


_GO_PLAIN = re.compile(r'[^\\"\x00-\x1f\x7f]*\Z')


def go_string(text: str) -> str:
    """A Go interpreted string literal."""
    if _GO_PLAIN.match(text):
        return f'"{text}"'
    out = []
    for char in text:
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def escape_literal(data: bytes, for_hcl: bool = False) -> bytes:
    """Literal file text made safe for a Go template: it renders back to exactly ``data``."""
    pattern = _LITERAL_HCL if for_hcl else _LITERAL
    return pattern.sub(lambda m: b"{{ " + go_string(m.group().decode("ascii")).encode("ascii") + b" }}", data)


def build_template_text(text: str, parts: Sequence[tuple[int, int, str]]) -> str:
    """``text`` (a variable's value) as a Go template for an HCL string: literal text escaped,
    each part (character range, action) replaced by its action."""
    out = []
    done = 0
    for begin, end, action in parts:
        out.append(escape_literal(text[done:begin].encode("utf-8"), for_hcl=True).decode("utf-8"))
        out.append(action)
        done = end
    out.append(escape_literal(text[done:].encode("utf-8"), for_hcl=True).decode("utf-8"))
    return "".join(out)


def pipeline(encoding: Encoding) -> list[str]:
    """The template functions that turn the stored value into the bytes written at the span."""
    steps = ['trimSuffix "\\n"'] * encoding.trailing
    if encoding.kind == "indented":
        steps.append(f'replaceAll "\\n" {go_string(chr(10) + " " * encoding.indent)}')
    elif encoding.kind == "backslash":
        steps += ['replaceAll "\\\\" "\\\\\\\\"', 'replaceAll "\\"" "\\\\\\""']
    elif encoding.kind == "doubled-quote":
        steps.append('replaceAll "\'" "\'\'"')
    return steps


def secret_action(mount: KvMount, ref: SecretRef, steps: Sequence[str] = ()) -> str:
    """The Go template that prints the field of the secret (through ``steps``, a pipeline)."""
    if _GO_IDENTIFIER.match(ref.field):
        value = f"{mount.data}.{ref.field}"
    else:
        value = f"index {mount.data} {go_string(ref.field)}"
    chain = "".join(f" | {step}" for step in steps)
    return f"{{{{ with secret {go_string(mount.api_path(ref))} }}}}{{{{ {value}{chain} }}}}{{{{ end }}}}"


# -- HCL ------------------------------------------------------------------------------------------

def hcl_string(text: str, what: str = "value") -> str:
    if _HCL_UNSAFE.search(text):
        raise RewriteError(f"{what} holds a control character")
    if "${" in text:
        raise RewriteError(f"{what} holds '${{', which the agent's configuration would interpolate")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + escaped.replace("\r", "\\r") + '"'


def _auth_block(auth: AutoAuth) -> list[str]:
    """The ``auto_auth`` block: paths of files that hold credentials, never a credential."""
    lines = ["auto_auth {"]
    exit_on_err = ["    exit_on_err = true"] if auth.exit_on_err else []
    if auth.method == "approle":
        lines += [
            '  method "approle" {',
            f"    mount_path  = {hcl_string(auth.path, 'auth mount path')}",
            *exit_on_err,
            "    config = {",
            f"      role_id_file_path                   = {hcl_string(auth.role_id_file, 'role id file')}",
            f"      secret_id_file_path                 = {hcl_string(auth.secret_id_file, 'secret id file')}",
            "      remove_secret_id_file_after_reading = false",
            "    }",
            "  }",
        ]
    elif auth.method in ("kubernetes", "jwt"):
        if not auth.role:
            raise RewriteError(f"{auth.method} auto-auth needs the role to log in as")
        jwt_file = auth.jwt_file or (KUBERNETES_TOKEN_FILE if auth.method == "kubernetes" else "")
        if not jwt_file:
            raise RewriteError("jwt auto-auth needs the JWT file's path")
        # The platform owns the token file (a projected service account token, a CI job's JWT):
        # the agent reads it at each login and never removes it.
        pairs = [("role", hcl_string(auth.role, "role"))]
        if auth.method == "kubernetes":
            pairs.append(("token_path", hcl_string(jwt_file, "token file")))
        else:
            pairs += [("path", hcl_string(jwt_file, "JWT file")), ("remove_jwt_after_reading", "false")]
        width = max(len(key) for key, _ in pairs)
        lines += [
            f'  method "{auth.method}" {{',
            f"    mount_path  = {hcl_string(auth.path, 'auth mount path')}",
            *exit_on_err,
            "    config = {",
            *(f"      {key.ljust(width)} = {value}" for key, value in pairs),
            "    }",
            "  }",
        ]
    elif auth.method == "token_file":
        if not auth.token_file:
            raise RewriteError("token_file auto-auth needs the token file's path")
        lines += [
            '  method "token_file" {',
            *exit_on_err,
            f"    config = {{ token_file_path = {hcl_string(auth.token_file, 'token file')} }}",
            "  }",
        ]
    else:
        raise RewriteError(f"unknown auto-auth method {auth.method!r} ({', '.join(AUTO_AUTH_METHODS)})")
    lines.append("}")
    return lines


@dataclass(frozen=True, slots=True)
class TemplateBlock:
    source: str
    destination: str
    perms: int
    user: int | None = None
    group: int | None = None


def agent_hcl(options: AgentOptions, header: Sequence[str], templates: Sequence[TemplateBlock] = (),
              env_templates: Sequence[tuple[str, str]] = (), command: Sequence[str] = (),
              exit_on_retry_failure: bool = True) -> bytes:
    """An agent configuration: vault address, auto_auth, template_config, then the ``template``
    blocks, or the ``env_template`` blocks (name, Go template text) and ``exec``."""
    lines = [f"# {line}" for line in header]
    lines += ["", "vault {", f"  address = {hcl_string(options.address, 'vault address')}"]
    if options.ca_cert:
        lines.append(f"  ca_cert = {hcl_string(options.ca_cert, 'CA certificate path')}")
    if options.retries is not None:
        lines += ["  retry {", f"    num_retries = {int(options.retries)}", "  }"]
    lines.append("}")
    if options.namespace:
        lines.append(f"namespace = {hcl_string(options.namespace, 'namespace')}")
    lines += ["", *_auth_block(options.auth), ""]
    lines += [
        "template_config {",
        f"  static_secret_render_interval = {hcl_string(options.render_interval, 'render interval')}",
        f"  exit_on_retry_failure         = {'true' if exit_on_retry_failure else 'false'}",
        "}",
    ]
    for block in templates:
        lines += [
            "",
            "template {",
            f"  source               = {hcl_string(block.source, 'template path')}",
            f"  destination          = {hcl_string(block.destination, 'destination path')}",
            f'  perms                = "{block.perms & 0o7777:04o}"',
            *([f'  user                 = "{block.user}"'] if block.user is not None else []),
            *([f'  group                = "{block.group}"'] if block.group is not None else []),
            "  error_on_missing_key = true",
            "}",
        ]
    for name, contents in env_templates:
        lines += [
            "",
            f"env_template {hcl_string(name, 'variable name')} {{",
            f"  contents             = {hcl_string(contents, 'template of ' + name)}",
            "  error_on_missing_key = true",
            "}",
        ]
    if command:
        argv = ", ".join(hcl_string(arg, "command") for arg in command)
        lines += [
            "",
            "exec {",
            f"  command                   = [{argv}]",
            '  restart_on_secret_changes = "always"',
            '  restart_stop_signal       = "SIGTERM"',
            "}",
        ]
    return ("\n".join(lines) + "\n").encode("utf-8")


# -- companions and units --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Companions:
    """Where the files generated for ``path`` go: ``<dir>/.vaultshift/``."""

    directory: PurePosixPath
    template: PurePosixPath  # <name>.ctmpl
    config: PurePosixPath  # <name>.agent.hcl
    unit: PurePosixPath  # vaultshift-agent-<escaped path>.service
    unit_name: str


def unit_name(path: PurePosixPath) -> str:
    """``vaultshift-agent-`` + the path escaped as ``systemd-escape --path`` does, so two files of
    the same name in different directories get different units."""
    text = str(path).strip("/")
    out = []
    for index, char in enumerate(text):
        if char == "/":
            out.append("-")
        elif (char.isascii() and (char.isalnum() or char in ":_.")) and not (index == 0 and char == "."):
            out.append(char)
        else:
            out.append("".join(f"\\x{byte:02x}" for byte in char.encode("utf-8")))
    return f"vaultshift-agent-{''.join(out)}.service"


def companions_for(path: PurePosixPath) -> Companions:
    if not path.is_absolute():
        raise RewriteError(f"{path}: an agent-rendered file needs its absolute path on the host")
    directory = path.parent / COMPANION_DIR
    name = unit_name(path)
    return Companions(directory, directory / f"{path.name}.ctmpl", directory / f"{path.name}.agent.hcl",
                      directory / name, name)


def _unit_value(text: str, what: str) -> str:
    if any(c in text for c in "\n\r\0"):
        raise RewriteError(f"{what} holds a line break")
    return text


def _exec_arg(text: str) -> str:
    """An ExecStart= argument, quoted for systemd (which also expands '%' and '$')."""
    text = _unit_value(text, "agent argument").replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_./=:@+,-]+", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_unit(options: AgentOptions, config: PurePosixPath, description: str,
                 render_first: bool) -> bytes:
    """A unit that runs ``<binary> agent -config=<config>``. With ``render_first`` (file
    templates) an ExecStartPre renders once and exits (``-exit-after-auth``) so the file exists
    before the application, ordered Before= it, starts; the long-running agent then keeps it
    current. Without (exec mode) the agent is the application's supervisor."""
    binary = _exec_arg(options.binary)
    arg = _exec_arg(f"-config={config}")
    app = _unit_value(options.app_unit, "application unit")
    lines = [
        "# Generated by vaultshift. Install with: systemctl link <this file> && systemctl enable --now <unit>",
        "[Unit]",
        f"Description={_unit_value(description, 'description')}",
        "Wants=network-online.target",
        "After=network-online.target",
    ]
    if app and render_first:
        lines.append(f"Before={app}")
    lines += ["", "[Service]", "Type=simple"]
    if render_first:
        lines.append(f"ExecStartPre={binary} agent {arg} -exit-after-auth")
    lines += [
        f"ExecStart={binary} agent {arg}",
        "Restart=on-failure",
        "RestartSec=5s",
        "",
        "[Install]",
        f"WantedBy={app if app and render_first else 'multi-user.target'}",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")
