"""A config file rendered by a Vault / OpenBao agent sidecar to its own path (file mount).

Generated, in ``<dir>/.vaultshift/`` beside the file:

- ``<name>.ctmpl``: the original file as a Go template: literal text escaped, each span replaced
  by ``{{ with secret "MOUNT/data/PREFIX/PATH" }}{{ .Data.data.FIELD }}{{ end }}``;
- ``<name>.agent.hcl``: the agent configuration: ``vault``, ``auto_auth`` (AppRole by default),
  ``template_config`` (``static_secret_render_interval``, exit on retry failure) and one
  ``template`` block (source the template, destination the original path, perms the original
  mode, user and group the original owner when known, error on a missing key);
- ``vaultshift-agent-<escaped path>.service``: a systemd unit that renders once before the
  application starts and keeps the file current.

The original file keeps every byte except the spans, which hold ``__VAULTSHIFT_AGENT__``: no
plaintext stays on disk until the agent renders the file, and an application started before the
agent fails on an obviously wrong value rather than an empty one.

When the written bytes are not the value itself, the template re-encodes it with template
functions: a YAML literal block (continuation lines indented), double quotes with ``\\\\`` and
``\\"`` escapes, YAML single quotes (``''``), a block scalar's trailing newlines. Other escapes
(``\\n`` or ``\\u`` in JSON, XML entities, properties escapes) cannot be reproduced byte for byte and
are refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from migrator.rewrite.agent_config import (
    TemplateBlock,
    agent_hcl,
    companions_for,
    escape_literal,
    pipeline,
    secret_action,
    systemd_unit,
)
from migrator.rewrite.base import (
    MARKER,
    Replacement,
    RewriteContext,
    RewriteError,
    RewriteResult,
    describe_refs,
)
from migrator.rewrite.spans import (
    Analysis,
    Edit,
    already_rewritten,
    analyze,
    bare_json_value,
    encoding_of,
    refuse_references,
    splice,
)

MARKER_PATTERN = re.compile(re.escape(MARKER.encode("ascii")))
ACTION_PATTERN = re.compile(rb"\{\{ with secret ")


def template_parts(analysis: Analysis, context: RewriteContext) -> list[tuple[int, int, str]]:
    """For each span: the byte range of the original the action stands for, and the action."""
    doc = analysis.doc
    parts = []
    for site in analysis.sites:
        if analysis.inner == "json" and bare_json_value(doc, site):
            raise RewriteError(f"line {doc.line_of(site.start)}: an unquoted JSON value cannot hold the marker; "
                               "quote it first")
        encoding = encoding_of(doc, site, analysis.inner)
        if encoding is None:
            raise RewriteError(f"line {doc.line_of(site.start)}: the value is written with escapes the agent "
                               "cannot reproduce byte for byte (\\n, \\u, entities, folded lines)")
        ref = site.replacement.ref
        action = secret_action(context.mount_for(ref), ref, pipeline(encoding))
        start = encoding.content_start if encoding.content_start >= 0 else site.start
        parts.append((doc.byte_offset(start), doc.byte_offset(site.end), action))
    return parts


def build_template(data: bytes, parts: Sequence[tuple[int, int, str]], for_hcl: bool = False) -> bytes:
    """``data`` as a Go template: literal text escaped, each part's range replaced by its action."""
    out = []
    done = 0
    for begin, end, action in parts:
        out.append(escape_literal(data[done:begin], for_hcl))
        out.append(action.encode("utf-8"))
        done = end
    out.append(escape_literal(data[done:], for_hcl))
    return b"".join(out)


def rewrite(original: bytes, replacements: Sequence[Replacement], context: RewriteContext) -> RewriteResult:
    companions = companions_for(context.pure_path)
    if already_rewritten(original, replacements, MARKER_PATTERN):
        return RewriteResult(original, {}, f"{context.path}: already rewritten for the agent", unchanged=True)
    analysis = analyze(original, context.path, replacements)
    doc = analysis.doc
    refuse_references(doc, analysis.sites, ACTION_PATTERN)
    refuse_references(doc, analysis.sites, MARKER_PATTERN)
    parts = template_parts(analysis, context)
    template = build_template(original, parts)
    new_bytes, spans = splice(doc, [Edit(s.start, s.end, MARKER) for s in analysis.sites])

    options = context.agent
    destination = options.destination or context.path
    block = TemplateBlock(str(companions.template), destination, context.mode, context.uid, context.gid)
    header = [f"vaultshift: renders {context.path} from the vault ({describe_refs(replacements)}).",
              "Holds no secret: the values are read at render time with the agent's own token."]
    config = agent_hcl(options, header, templates=[block])
    unit = systemd_unit(options, companions.config, f"vaultshift: agent rendering {context.path}",
                        render_first=True)
    return RewriteResult(
        new_bytes,
        {companions.template: template, companions.config: config, companions.unit: unit},
        f"{context.path}: {len(analysis.sites)} value(s) -> agent template ({describe_refs(replacements)})",
        tuple(spans),
        {companions.template: context.mode & 0o666 or 0o600, companions.config: 0o600, companions.unit: 0o644},
    )
