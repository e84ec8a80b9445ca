"""Ansible vars, inventories and templates: the value becomes a runtime lookup.

A span becomes ``{{ lookup('vaultshift.secrets.secret', 'PATH#FIELD') }}`` (with
``, backend='NAME'`` when the secret is not in the default backend), written so that the file
still reads as it did, with the lookup where the value was:

YAML (vars files, YAML inventories, playbooks)
    - a plain value: the span is wrapped in double quotes (the value now starts with ``{``);
      a secret that is only part of a plain value is replaced in place, and when the value
      would then start with ``{`` or no longer read back (inside a flow collection) the whole
      scalar is double-quoted, its other characters escaped;
    - inside double quotes: in place; inside single quotes: in place, quotes doubled;
    - a block scalar (``|``, ``>``) whose whole value is the secret (a PEM key): the whole block,
      indicator included, becomes one double-quoted scalar, with ``\\n`` for the newlines the
      block's chomping kept after the value; a secret on one line of a block (a password in a
      script): in place;
    - a value tagged ``!unsafe`` is refused (Ansible would not run the lookup).
    Every rewrite is read back with PyYAML: each rewritten scalar must hold the lookup, or the
    rewrite is refused.
Jinja templates (``*.j2`` and the other template extensions)
    - in the template's text: ``{{ lookup(...) }}`` in place; the rendered file is the original,
      so the inner format's quoting stays as written. Values written with escapes are
      re-encoded with filters (``indent(N)`` for a YAML literal block, ``replace`` for doubled
      single quotes and ``\\\\``/``\\"`` escapes); other escapes are refused;
    - a whole string literal inside ``{{ }}`` or ``{% %}`` (``default('...')``,
      ``{% set x = "..." %}``): the literal, quotes included, becomes ``lookup(...)``;
    - inside a comment, a ``{% raw %}`` block, or part of a literal: refused.
INI inventories and other files Ansible templates: in place. On an inventory host line
(``web1 ansible_password=...``), which Ansible splits like a shell (quotes removed, ``#``
outside quotes a comment), an unquoted value is wrapped in double quotes and the arguments
inside single quotes are written with double quotes.
JSON vars: in place inside quotes, wrapped in quotes otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from migrator.discover.models import Entry
from migrator.rewrite.base import LOOKUP_PLUGIN, Replacement, RewriteContext, RewriteError, RewriteResult, describe_refs
from migrator.rewrite.spans import (
    Analysis,
    Edit,
    Site,
    already_rewritten,
    analyze,
    bare_json_value,
    block_indent,
    dedent,
    encoding_of,
    refuse_references,
    splice,
)

SIGNATURE = re.compile(
    rb"""["']?(?:\{\{ ?)?lookup\(('{1,2})vaultshift\.secrets\.secret\1, ?\1[^'\n]*?\1(?:, ?backend=\1[^'\n]*?\1)?\)"""
    rb"""(?: ?(?:\|[^}\n]*)?\}\})?(?:\\n)*["']?"""
)
_HOST_LINE = re.compile(r"^[ \t]*[^\s=#;\[][^\s=]*[ \t]+\S+=")
_SECTION = re.compile(r"^[ \t]*\[([^\]\n]*)\]", re.MULTILINE)

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAGS = {yaml.ScalarNode: "tag:yaml.org,2002:str", yaml.SequenceNode: "tag:yaml.org,2002:seq",
         yaml.MappingNode: "tag:yaml.org,2002:map"}


class _Loader(_BaseLoader):
    """Composes nodes without resolving implicit tags (explicit ones, such as ``!unsafe``, stay)."""

    def resolve(self, kind: type, value: object, implicit: object) -> str:
        return _TAGS[kind]


def expression(ref_path: str, field: str, backend: str | None) -> str:
    args = f"'{LOOKUP_PLUGIN}', '{ref_path}#{field}'"
    if backend:
        args += f", backend='{backend}'"
    return f"lookup({args})"


def _expr(site: Site, context: RewriteContext) -> str:
    ref = site.replacement.ref
    return expression(ref.path.strip("/"), ref.field, ref.backend if ref.backend != context.default_backend else None)


def _jinja(site: Site, context: RewriteContext) -> str:
    return "{{ " + _expr(site, context) + " }}"


def _dq(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


# -- YAML -----------------------------------------------------------------------------------------

@dataclass
class _Expect:
    """What a rewritten scalar must read back as: exactly ``value``, or holding every ``parts``."""

    entry: Entry
    node_start: int
    value: str | None
    parts: tuple[str, ...]
    in_place_plain: bool = False


def _scalars(text: str) -> list[yaml.ScalarNode]:
    nodes: list[yaml.ScalarNode] = []
    seen: set[int] = set()
    for root in yaml.compose_all(text, Loader=_Loader):
        stack = [root] if root is not None else []
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, yaml.ScalarNode):
                nodes.append(node)
            elif isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    stack += [key, value]
            elif isinstance(node, yaml.SequenceNode):
                stack += node.value
    return nodes


def _node_of(nodes: list[yaml.ScalarNode], entry: Entry) -> yaml.ScalarNode | None:
    best = None
    for node in nodes:
        if node.start_mark.index <= entry.start and node.end_mark.index >= entry.end and (
                best is None or node.start_mark.index > best.start_mark.index):
            best = node
    return best


def _yaml_entry(analysis: Analysis, entry: Entry, sites: list[Site], context: RewriteContext,
                requote: bool) -> tuple[list[Edit], str | None, tuple[str, ...], bool]:
    """The edits for one YAML scalar, and what it must read back as."""
    doc = analysis.doc
    text = doc.text
    line = doc.line_of(sites[0].start)
    exprs = tuple(_jinja(site, context) for site in sites)
    quote = entry.quote
    only = sites[0] if len(sites) == 1 else None
    if quote == '"':
        return [Edit(s.start, s.end, e) for s, e in zip(sites, exprs, strict=True)], \
            (exprs[0] if only and only.whole else None), exprs, False
    if quote == "'":
        return [Edit(s.start, s.end, e.replace("'", "''")) for s, e in zip(sites, exprs, strict=True)], \
            (exprs[0] if only and only.whole else None), exprs, False
    if quote in ("|", ">"):
        content_start, indent = block_indent(text, entry)
        if only and only.start == entry.start:  # the whole scalar, indicator included
            if only.end != entry.end:
                raise RewriteError(f"line {line}: the span covers a block scalar's indicator but not its end")
            return [Edit(entry.start, entry.end, f'"{exprs[0]}"')], exprs[0], exprs, False
        if only and only.start == content_start and only.end == entry.end:  # the block's content (a PEM key)
            written = text[only.start: only.end]
            decoded = written if "\n" not in written else (dedent(written, indent) if quote == "|" else None)
            tail = entry.value[len(decoded):] if decoded is not None and entry.value.startswith(decoded) else None
            if tail is None or tail.strip("\n"):
                raise RewriteError(f"line {line}: the block scalar's lines cannot be mapped back to its value; "
                                   "rewrite it by hand")
            return [Edit(entry.start, entry.end, f'"{exprs[0]}' + "\\n" * len(tail) + '"')], \
                exprs[0] + tail, exprs, False
        for site in sites:
            if "\n" in text[site.start: site.end]:
                raise RewriteError(f"line {line}: the secret spans several lines of a block scalar "
                                   "but not its whole value")
        return [Edit(s.start, s.end, e) for s, e in zip(sites, exprs, strict=True)], None, exprs, False
    # plain scalar
    if any("\n" in text[s.start: s.end] for s in sites):
        raise RewriteError(f"line {line}: the secret runs over several lines of a plain scalar; quote it first")
    if only and only.whole:
        return [Edit(entry.start, entry.end, f'"{exprs[0]}"')], exprs[0], exprs, False
    written = text[entry.start: entry.end]
    pieces = []
    done = entry.start
    for site, expr in zip(sites, exprs, strict=True):
        pieces += [text[done: site.start], expr]
        done = site.end
    pieces.append(text[done: entry.end])
    expected = "".join(pieces) if not entry.raw else None
    if requote or sites[0].start == entry.start:
        if entry.raw or "\n" in written:
            raise RewriteError(f"line {line}: a multi-line plain scalar would need quoting; quote it first")
        quoted = "".join(p if i % 2 else _dq(p) for i, p in enumerate(pieces))
        return [Edit(entry.start, entry.end, f'"{quoted}"')], expected, exprs, False
    return [Edit(s.start, s.end, e) for s, e in zip(sites, exprs, strict=True)], expected, exprs, True


def _yaml_edits(analysis: Analysis, context: RewriteContext) -> list[Edit]:
    doc = analysis.doc
    groups: dict[Entry, list[Site]] = {}
    for site in analysis.sites:
        if site.entry is None:
            raise RewriteError(f"line {doc.line_of(site.start)}: the span is not inside a YAML value (a comment?)")
        groups.setdefault(site.entry, []).append(site)
    try:
        before = _scalars(doc.text)
    except yaml.YAMLError:
        raise RewriteError(f"{context.path}: not valid YAML; fix the file before rewriting it") from None
    nodes = {}
    for entry in groups:
        node = _node_of(before, entry)
        if node is None:
            raise RewriteError(f"line {doc.line_of(entry.start)}: no YAML scalar at this span")
        if node.tag == "!unsafe":
            raise RewriteError(f"line {doc.line_of(entry.start)}: the value is tagged !unsafe, so Ansible would "
                               "not run a lookup there; remove the tag first")
        nodes[entry] = node
    requote: set[Entry] = set()
    for _attempt in range(2):
        edits: list[Edit] = []
        expects: list[_Expect] = []
        for entry, sites in groups.items():
            entry_edits, value, parts, in_place = _yaml_entry(analysis, entry, sites, context, entry in requote)
            edits += entry_edits
            expects.append(_Expect(entry, nodes[entry].start_mark.index, value, parts, in_place))
        failed = _check_yaml(doc.text, edits, expects)
        if not failed:
            return edits
        if any(not e.in_place_plain for e in failed) or requote:
            raise RewriteError(f"line {doc.line_of(failed[0].entry.start)}: the rewritten YAML does not read back "
                               "as the lookup; rewrite this value by hand")
        requote = {e.entry for e in failed}
    raise AssertionError("unreachable")  # pragma: no cover


def _check_yaml(text: str, edits: list[Edit], expects: list[_Expect]) -> list[_Expect]:
    """The expectations the edited text does not meet (all of them when it no longer parses)."""
    ordered = sorted(edits, key=lambda e: e.start)
    pieces = []
    done = 0
    for edit in ordered:
        pieces += [text[done: edit.start], edit.text]
        done = edit.end
    pieces.append(text[done:])
    try:
        after = {node.start_mark.index: node for node in _scalars("".join(pieces))}
    except yaml.YAMLError:
        return expects
    failed = []
    for expect in expects:
        shift = sum(len(e.text) - (e.end - e.start) for e in ordered if e.start < expect.node_start)
        node = after.get(expect.node_start + shift)
        if (node is None or (expect.value is not None and node.value != expect.value)
                or any(node.value.count(part) < expect.parts.count(part) for part in expect.parts)):
            failed.append(expect)
    return failed


# -- Jinja templates --------------------------------------------------------------------------------

_TAG_OPEN = re.compile(r"\{\{|\{%|\{#")
_RAW = re.compile(r"[-+]?\s*raw\s*[-+]?")
_ENDRAW = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")


def jinja_regions(text: str) -> list[tuple[str, int, int]]:
    """Jinja's tags in ``text``: ("expr" | "stmt" | "comment" | "raw", start, end); "raw" is the
    body of a ``{% raw %}`` block. Quoted strings inside tags are skipped when finding the end."""
    regions: list[tuple[str, int, int]] = []
    pos = 0
    size = len(text)
    while True:
        match = _TAG_OPEN.search(text, pos)
        if match is None:
            return regions
        start = match.start()
        if match.group() == "{#":
            close = text.find("#}", start + 2)
            end = size if close < 0 else close + 2
            regions.append(("comment", start, end))
            pos = end
            continue
        closer = "}}" if match.group() == "{{" else "%}"
        index = start + 2
        while index < size and not text.startswith(closer, index):
            if text[index] in "'\"":
                quote = text[index]
                index += 1
                while index < size and text[index] != quote:
                    index += 2 if text[index] == "\\" else 1
            index += 1
        end = min(index + 2, size)
        kind = "expr" if closer == "}}" else "stmt"
        regions.append((kind, start, end))
        pos = end
        if kind == "stmt" and _RAW.fullmatch(text[start + 2: end - 2]):
            endraw = _ENDRAW.search(text, end)
            stop = endraw.start() if endraw else size
            regions.append(("raw", end, stop))
            pos = stop


def _jinja_filters(analysis: Analysis, site: Site) -> list[str]:
    doc = analysis.doc
    line = doc.line_of(site.start)
    encoding = encoding_of(doc, site, analysis.inner)
    if encoding is None or encoding.trailing or encoding.content_start >= 0:
        raise RewriteError(f"line {line}: the value is written in a form the template cannot reproduce "
                           "(escapes, or a block scalar's header); rewrite it by hand")
    if encoding.kind == "indented":
        lines = doc.text[site.start: site.end].split("\n")[1:]
        if any(not line_text.strip() for line_text in lines):
            raise RewriteError(f"line {line}: a block value with blank lines cannot be re-indented exactly")
        return [f"indent({encoding.indent})"]
    if encoding.kind == "doubled-quote":
        return ["replace(\"'\", \"''\")"]
    if encoding.kind == "backslash":
        return ["replace('\\\\', '\\\\\\\\')", "replace('\"', '\\\\\"')"]
    return []


def _jinja_edits(analysis: Analysis, context: RewriteContext) -> list[Edit]:
    doc = analysis.doc
    text = doc.text
    regions = jinja_regions(text)
    edits = []
    for site in analysis.sites:
        line = doc.line_of(site.start)
        inside = None
        for kind, start, end in regions:
            if start < site.end and site.start < end:
                if not (start <= site.start and site.end <= end):
                    raise RewriteError(f"line {line}: the span crosses a Jinja tag")
                inside = kind
                break
        if inside is None:
            filters = "".join(f" | {f}" for f in _jinja_filters(analysis, site))
            edits.append(Edit(site.start, site.end, "{{ " + _expr(site, context) + filters + " }}"))
        elif inside in ("expr", "stmt"):
            quote = text[site.start - 1: site.start]
            literal = text[site.start: site.end]
            if quote not in ("'", '"') or text[site.end: site.end + 1] != quote or "\\" in literal \
                    or quote in literal or "\n" in literal:
                raise RewriteError(f"line {line}: inside a Jinja expression the secret must be a whole "
                                   "string literal; rewrite it by hand")
            edits.append(Edit(site.start - 1, site.end + 1, _expr(site, context)))
        elif inside == "comment":
            raise RewriteError(f"line {line}: the secret is in a Jinja comment: delete the comment instead")
        else:
            raise RewriteError(f"line {line}: the secret is inside a {{% raw %}} block, where a lookup would not run")
    return edits


# -- other formats ----------------------------------------------------------------------------------

def _host_line(doc_text: str, start: int) -> bool:
    """Whether ``start`` is on an INI inventory host line (``web1 key=value ...``), which Ansible
    splits like a shell: quotes are removed, and '#' outside quotes starts a comment."""
    line_start = doc_text.rfind("\n", 0, start) + 1
    line_end = doc_text.find("\n", start)
    line = doc_text[line_start: line_end if line_end >= 0 else len(doc_text)]
    if not _HOST_LINE.match(line):
        return False
    header = _SECTION.findall(doc_text, 0, line_start)
    return not (header and header[-1].endswith(":vars"))


def _plain_edits(analysis: Analysis, context: RewriteContext) -> list[Edit]:
    doc = analysis.doc
    text = doc.text
    edits = []
    for site in analysis.sites:
        before, after = text[site.start - 1: site.start], text[site.end: site.end + 1]
        quoted = before if before in ("'", '"') and after == before else ""
        if site.entry is not None and site.entry.quote in ("'", '"'):
            quoted = site.entry.quote
        expr = _jinja(site, context)
        if analysis.reader in ("ini", "line") and _host_line(text, site.start):
            if quoted == "'":
                expr = expr.replace("'", '"')
            elif not quoted:
                expr = f'"{expr}"'
        elif analysis.reader == "json" and bare_json_value(doc, site):
            expr = f'"{expr}"'
        edits.append(Edit(site.start, site.end, expr))
    return edits


def rewrite(original: bytes, replacements: Sequence[Replacement], context: RewriteContext) -> RewriteResult:
    if already_rewritten(original, replacements, SIGNATURE):
        return RewriteResult(original, {}, f"{context.path}: already rewritten to lookups", unchanged=True)
    analysis = analyze(original, context.path, replacements)
    refuse_references(analysis.doc, analysis.sites, SIGNATURE)
    if analysis.reader == "yaml":
        edits = _yaml_edits(analysis, context)
    elif analysis.reader == "jinja":
        edits = _jinja_edits(analysis, context)
    else:
        edits = _plain_edits(analysis, context)
    new_bytes, spans = splice(analysis.doc, edits)
    return RewriteResult(new_bytes, {}, f"{context.path}: {len(analysis.sites)} value(s) -> Ansible lookup "
                                        f"({describe_refs(replacements)})", tuple(spans))
