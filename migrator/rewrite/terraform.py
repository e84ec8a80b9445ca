"""Terraform code: secrets in ``*.tfvars``, variable defaults, provider blocks and other arguments
rewritten to the ``vaultshift`` provider's ``vaultshift_secret``, a module at a time.

Unlike the other styles this is not a rewrite of one file: Terraform code reads values where
they are used, so a module (one directory of ``*.tf`` files) changes together.

- **An argument** holding a literal (``password = "..."`` in a resource, module call, local,
  output): the literal becomes ``data.vaultshift_secret.NAME.value``; a secret inside a longer
  string becomes ``${data.vaultshift_secret.NAME.value}`` in it. In a **provider block** the
  reference is ``ephemeral.vaultshift_secret.NAME.value`` (Terraform >= 1.10): provider
  configuration may read ephemeral values, and they never reach the plan or the state.
- **A variable's value** (in a ``*.tfvars`` file, or its ``default``): neither can read a data
  source, so the value becomes ``null`` and every ``var.NAME`` of the module (bare, or inside
  ``${...}``) becomes the reference: ephemeral when every use is in a provider block (or the
  variable is ``ephemeral = true``), else the data source. The variable block stays, now
  optional, so a ``-var`` or ``TF_VAR_`` still given is accepted (and not used).
- The blocks go to ``vaultshift.tf`` in the module (created, or appended to), with the
  ``required_providers`` entry: in that file when the module has no ``required_providers`` block,
  else as one line inserted into the module's own (a module may have only one).

Every other byte stays as it was; each change is an edit of a span (a value, a ``var.NAME``, an
insertion) that the journal records, so ``vaultshift rollback`` puts the module back. Refused,
with a one-line reason naming the file and line: a backend block (it cannot read a data
source), a variable set whole-value elsewhere, nested values in ``*.tfvars``, a variable with a
``validation`` block or ``nullable = false``, one variable given different secrets, a ``*.tfvars``
variable that no block declares, and malformed HCL anywhere in the module. Pure: bytes in, bytes out.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from migrator.discover.document import Document
from migrator.discover.readers import ReaderError
from migrator.discover.readers.hcl import Block, blocks, traversals
from migrator.plan.models import SecretRef
from migrator.rewrite.base import Replacement, RewriteError
from migrator.rewrite.spans import Edit, Site, analyze, splice
from migrator.terraform import PROVIDER_SOURCE, PROVIDER_TYPE

GENERATED_FILE = "vaultshift.tf"
SECRET_TYPE = f"{PROVIDER_TYPE}_secret"
DATA, EPHEMERAL = "data", "ephemeral"

_NOT_NAME = re.compile(r"[^a-z0-9_]+")
_HEADER = """\
# Written by `vaultshift apply`: the secrets this module's code and variables held, read at plan
# time from the vault through the vaultshift provider (`vaultshift terraform install-provider`).
# `vaultshift rollback` takes them out again. Holds no secret.
"""


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file of the module rewritten: ``original`` (empty for a file created), ``new_bytes``,
    and for each edit, in file order, the byte span it wrote in ``new_bytes`` (``spans``) and the
    byte span of ``original`` it replaced (``originals``; empty for an insertion)."""

    original: bytes
    new_bytes: bytes
    spans: tuple[tuple[int, int], ...]
    originals: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class ModuleRewrite:
    """A module's rewrite: the changed files (path -> change: the planned files, the files whose
    ``var.NAME`` changed, the file whose ``required_providers`` gained a line, ``vaultshift.tf``),
    every secret the module now reads, and one line saying what changed."""

    directory: str
    changes: dict[str, FileChange]
    refs: frozenset[SecretRef]
    description: str


def module_directory(path: str, has_code: Callable[[str], bool]) -> str:
    """The module a planned file belongs to: a ``*.tf`` file's directory; for a ``*.tfvars``
    file, its directory when it holds ``*.tf`` files, else its parent's when that does (the
    ``envs/prod.tfvars`` layout), else its own. ``has_code(directory)``: it holds ``*.tf`` files."""
    directory = os.path.dirname(path) or "."
    if not path.endswith(".tfvars") or has_code(directory):
        return directory
    parent = os.path.dirname(os.path.abspath(directory))
    return parent if has_code(parent) else directory


@dataclass(frozen=True, slots=True)
class _Reading:
    """A ``vaultshift_secret`` block: ``data`` or ``ephemeral``, its name, the secret it reads."""

    kind: str
    name: str
    ref: SecretRef | None  # None: a block not written in the form this module writes

    def expression(self) -> str:
        prefix = "data." if self.kind == DATA else "ephemeral."
        return f"{prefix}{SECRET_TYPE}.{self.name}.value"


@dataclass(slots=True)
class _Readings:
    """The module's ``vaultshift_secret`` blocks: those there already, and those to add."""

    default_backend: str
    existing: list[_Reading] = field(default_factory=list)
    added: list[_Reading] = field(default_factory=list)

    def get(self, kind: str, ref: SecretRef, preferred: str) -> _Reading:
        """The block of ``kind`` reading ``ref``: one already there, else a new one named
        ``preferred`` (``preferred_2`` ... when that name is taken)."""
        for reading in (*self.existing, *self.added):
            if reading.kind == kind and reading.ref == ref:
                return reading
        taken = {r.name for r in (*self.existing, *self.added) if r.kind == kind}
        name, number = preferred, 1
        while name in taken:
            number += 1
            name = f"{preferred}_{number}"
        reading = _Reading(kind, name, ref)
        self.added.append(reading)
        return reading

    def read_existing(self, text: str, found: Sequence[Block]) -> None:
        for block in found:
            if block.outer or len(block.labels) != 3 or block.labels[:2] not in ((DATA, SECRET_TYPE),
                                                                                  (EPHEMERAL, SECRET_TYPE)):
                continue
            literal = {name: _literal(text[start:end]) for name, (start, end) in block.attributes.items()}
            path, key = literal.get("path"), literal.get("key")
            backend = literal.get("backend", self.default_backend) if "backend" in block.attributes else \
                self.default_backend
            known = path is not None and key is not None and backend is not None and \
                set(block.attributes) <= {"path", "key", "backend"}
            ref = SecretRef(backend, path, key) if known and path and key and backend else None
            self.existing.append(_Reading(block.labels[0], block.labels[2], ref))

    def blocks_text(self) -> str:
        out = []
        for reading in self.added:
            assert reading.ref is not None
            lines = [f'{reading.kind} "{SECRET_TYPE}" "{reading.name}" {{',
                     f'  path = "{reading.ref.path}"', f'  key  = "{reading.ref.field}"']
            if reading.ref.backend != self.default_backend:
                lines.append(f'  backend = "{reading.ref.backend}"')
            out.append("\n".join([*lines, "}"]) + "\n")
        return "\n".join(out)


def _literal(expression: str) -> str | None:
    """A plain quoted string's value (no escapes, no interpolation), else None."""
    text = expression.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"' and not re.search(r'[\\"$%]', text[1:-1]):
        return text[1:-1]
    return None


def preferred_name(ref: SecretRef) -> str:
    """A block name for ``ref``: its path and field as one Terraform identifier."""
    name = _NOT_NAME.sub("_", f"{ref.path}_{ref.field}".lower()).strip("_")
    return name if name[:1].isalpha() else f"secret_{name}"


class _Module:
    """The module's files as read, their blocks, and the edits collected for each."""

    def __init__(self, directory: str, code: Mapping[str, bytes], planned: Mapping[str, bytes]) -> None:
        self.directory = directory
        self.data = {**code, **planned}
        self.docs = {path: Document.from_bytes(path, data)[0] for path, data in self.data.items()}
        self.code = sorted(code)
        self.blocks: dict[str, list[Block]] = {}
        for path in self.code:
            try:
                self.blocks[path] = blocks(self.docs[path].text)
            except ReaderError as exc:
                raise RewriteError(f"{path}: malformed HCL: {exc}; the module at {directory} is not rewritten") \
                    from None
        self.edits: dict[str, list[Edit]] = {}

    def edit(self, path: str, start: int, end: int, text: str) -> None:
        self.edits.setdefault(path, []).append(Edit(start, end, text))

    def where(self, path: str, offset: int) -> str:
        return f"{path}:{self.docs[path].line_of(offset)}"

    def top_block(self, path: str, offset: int) -> Block | None:
        return next((b for b in self.blocks.get(path, ()) if not b.outer and b.start <= offset < b.end), None)

    def declaration(self, name: str) -> tuple[str, Block] | None:
        for path in self.code:
            for block in self.blocks[path]:
                if block.labels == ("variable", name) and not block.outer:
                    return path, block
        return None


def rewrite_module(directory: str, code: Mapping[str, bytes],
                   planned: Mapping[str, tuple[bytes, Sequence[Replacement]]],
                   default_backend: str = "vault") -> ModuleRewrite:
    """Rewrite the module at ``directory``: ``code`` holds every ``*.tf`` file of it (path ->
    bytes; ``vaultshift.tf`` too when it is there), ``planned`` each file with secrets (a ``*.tf``
    of ``code`` or a ``*.tfvars``) -> its bytes and replacements. Raises RewriteError (one line)
    when any part cannot be rewritten: then nothing is."""
    module = _Module(directory, code, {path: data for path, (data, _) in planned.items()})
    readings = _Readings(default_backend)
    for path in module.code:
        readings.read_existing(module.docs[path].text, module.blocks[path])
    variables: dict[str, list[tuple[str, Site]]] = {}  # name -> each span of its values (path, site)
    arguments: list[tuple[str, Site, str]] = []
    for path in sorted(planned):
        data, replacements = planned[path]
        _place(module, path, data, replacements, variables, arguments)

    refs: set[SecretRef] = set()
    for path, site, kind in arguments:
        ref = site.replacement.ref
        refs.add(ref)
        reading = readings.get(kind, ref, preferred_name(ref))
        text = module.docs[path].text
        quoted = text[site.start - 1: site.start] == '"' and text[site.end: site.end + 1] == '"'
        if site.whole and quoted:
            module.edit(path, site.start - 1, site.end + 1, reading.expression())
        else:
            module.edit(path, site.start, site.end, "${" + reading.expression() + "}")
    for name in sorted(variables):
        refs.update(_move_variable(module, readings, name, variables[name]))
    _require_provider(module, readings)
    changes = {path: _change(module.data[path], module.docs[path], edits) for path, edits in module.edits.items()}
    moved = len(variables)
    description = (f"{directory}: {len(refs)} secret(s) -> {SECRET_TYPE} ({moved} variable(s) moved, "
                   f"{len(arguments)} argument(s)); {len(changes)} file(s) changed")
    return ModuleRewrite(directory, changes, frozenset(refs), description)


def _place(module: _Module, path: str, data: bytes, replacements: Sequence[Replacement],
           variables: dict[str, list[tuple[str, Site]]], arguments: list[tuple[str, Site, str]]) -> None:
    """Sort each span of a planned file: a variable's value, or an argument (data or ephemeral)."""
    analysis = analyze(data, path, replacements)
    if analysis.reader != "hcl":
        raise RewriteError(f"{path}: read as {analysis.reader}; only HCL syntax is rewritten (not *.tf.json)")
    tfvars = path.endswith(".tfvars")
    for site in analysis.sites:
        entry = site.entry
        where = module.where(path, site.start)
        if entry is None:
            raise RewriteError(f"{where}: the secret is not inside a value")
        parts = entry.key_path.split(".")
        if tfvars or parts[0] == "variable":
            name = parts[0] if tfvars else parts[1] if len(parts) > 1 else ""
            if tfvars and (len(parts) > 1 or "[" in entry.key_path):
                raise RewriteError(f"{where}: {entry.key_path} is inside an object or list; only a variable "
                                   "set to a string is moved")
            if not tfvars and (len(parts) != 3 or parts[2] != "default"):
                raise RewriteError(f"{where}: only a variable's default is moved, not {entry.key_path}")
            text = module.docs[path].text
            if entry.quote != '"' or not text[:entry.start - 1].rstrip(" \t").endswith("="):
                raise RewriteError(f"{where}: {name} is not set to a plain string (a heredoc or an expression); "
                                   "only a variable set to a quoted string is moved")
            variables.setdefault(name, []).append((path, site))
        elif parts[0] == "terraform":
            raise RewriteError(f"{where}: a backend block cannot read a data source; give {entry.key} with "
                               "-backend-config or the backend's environment variable instead")
        else:
            arguments.append((path, site, EPHEMERAL if parts[0] == "provider" else DATA))


def _move_variable(module: _Module, readings: _Readings, name: str,
                   places: list[tuple[str, Site]]) -> set[SecretRef]:
    """Set the variable's values to null and point every ``var.NAME`` at what they held: the
    secret's block, or a string with the secrets' blocks in it (``"postgres://app:${...}@db"``)."""
    values: dict[tuple[str, int], list[Site]] = {}  # each written value (file, start) -> its spans
    for path, site in places:
        assert site.entry is not None
        values.setdefault((path, site.entry.start), []).append(site)
    compositions = {_composition(module.docs[path].text, sites) for (path, _), sites in values.items()}
    first = module.where(places[0][0], places[0][1].start)
    if len(compositions) > 1:
        files = ", ".join(sorted({path for path, _ in places}))
        raise RewriteError(f"{first}: var.{name} is set to {len(compositions)} different values ({files}); a "
                           "module reads one secret per variable: keep one value, or give each environment its "
                           "own variable")
    literals, refs = compositions.pop()
    declared = module.declaration(name)
    if declared is None:
        raise RewriteError(f"{first}: {name} is set, but no variable block of the module at {module.directory} "
                           "declares it")
    path, block = declared
    text = module.docs[path].text
    if any(b.type == "validation" and block.open < b.start < block.end for b in module.blocks[path]):
        raise RewriteError(f"{module.where(path, block.start)}: variable {name} has a validation block, which "
                           "would check null once the value is moved; move the check to a precondition first")
    attributes = {key: text[start:end].strip() for key, (start, end) in block.attributes.items()}
    if attributes.get("nullable") == "false":
        raise RewriteError(f"{module.where(path, block.start)}: variable {name} is nullable = false; its value "
                           "cannot become null")
    variable = f"var.{name}"
    uses = []
    for code_path in module.code:
        for found_name, start, _ in traversals(module.docs[code_path].text):
            if found_name != variable and not found_name.startswith(variable + "."):
                continue
            if code_path == path and block.start <= start < block.end:
                continue
            top = module.top_block(code_path, start)
            uses.append((code_path, start, top is not None and top.type == "provider"))
    ephemeral = attributes.get("ephemeral") == "true" or (bool(uses) and all(in_provider for *_, in_provider in uses))
    kind = EPHEMERAL if ephemeral else DATA
    expressions = [readings.get(kind, ref, name if len(refs) == 1 else preferred_name(ref)).expression()
                   for ref in refs]
    if literals == ("", ""):
        expression = expressions[0]
    else:
        pieces = [literals[0]]
        for reading, literal in zip(expressions, literals[1:], strict=True):
            pieces += ["${", reading, "}", literal]
        expression = '"' + "".join(pieces) + '"'
    for code_path, start, _ in uses:
        module.edit(code_path, start, start + len(variable), expression)
    for (value_path, _), sites in values.items():
        entry = sites[0].entry
        assert entry is not None
        module.edit(value_path, entry.start - 1, entry.end + 1, "null")
    return set(refs)


def _composition(text: str, sites: Sequence[Site]) -> tuple[tuple[str, ...], tuple[SecretRef, ...]]:
    """A written string value as its literal pieces (as written: HCL string syntax) around the
    secrets' references, in order."""
    entry = sites[0].entry
    assert entry is not None
    literals, refs, cursor = [], [], entry.start
    for site in sorted(sites, key=lambda s: s.start):
        literals.append(text[cursor:site.start])
        refs.append(site.replacement.ref)
        cursor = site.end
    literals.append(text[cursor:entry.end])
    return tuple(literals), tuple(refs)


def _require_provider(module: _Module, readings: _Readings) -> None:
    """Add the new blocks to ``vaultshift.tf``, and the provider to the module's requirements."""
    requirement = next(((path, block) for path in module.code for block in module.blocks[path]
                        if block.labels == ("required_providers",) and block.outer == ("terraform",)), None)
    add_requirement = requirement is None
    if requirement is not None:
        path, block = requirement
        text = module.docs[path].text
        if PROVIDER_TYPE not in block.attributes:
            line_end = text.find("\n", block.open)
            if line_end < 0 or text[block.open + 1: line_end].strip():
                raise RewriteError(f"{module.where(path, block.start)}: required_providers is written on one line; "
                                   f"write it over several lines so that {PROVIDER_TYPE} can be added")
            line_start = text.rfind("\n", 0, block.start) + 1
            indent = text[line_start: block.start] if not text[line_start: block.start].strip() else ""
            module.edit(path, line_end + 1, line_end + 1,
                        f'{indent}  {PROVIDER_TYPE} = {{ source = "{PROVIDER_SOURCE}" }}\n')
    if not readings.added and not add_requirement:
        return
    generated = os.path.join(module.directory, GENERATED_FILE)
    pieces = []
    if add_requirement:
        pieces.append(f'terraform {{\n  required_providers {{\n    {PROVIDER_TYPE} = {{ source = "{PROVIDER_SOURCE}" }}'
                      "\n  }\n}\n")
    if readings.added:
        pieces.append(readings.blocks_text())
    body = "\n".join(pieces)
    if generated in module.data:
        text = module.docs[generated].text
        module.edit(generated, len(text), len(text), ("\n" if text.endswith("\n") else "\n\n") + body)
    else:
        module.data[generated] = b""
        module.docs[generated] = Document.from_text(generated, "")
        module.edit(generated, 0, 0, _HEADER + "\n" + body)


def _change(original: bytes, doc: Document, edits: list[Edit]) -> FileChange:
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    new_bytes, spans = splice(doc, ordered)
    text = new_bytes.decode(doc.encoding)
    try:
        blocks(text)
    except ReaderError as exc:
        raise RewriteError(f"{doc.path}: the rewritten file would not read as HCL ({exc})") from None
    originals = tuple((doc.byte_offset(e.start), doc.byte_offset(e.end)) for e in ordered)
    return FileChange(original, new_bytes, tuple(spans), originals)
