"""A .env file whose secrets the Vault / OpenBao agent provides. Two modes (``AgentOptions.env_mode``):

``exec`` (default): the agent runs the application (``exec { command = [...] }``) with each
variable that held a secret set from an ``env_template`` block, one per variable, whose template
is the variable's value with the span replaced by a ``with secret`` action (a variable that held
``postgres://app:PASSWORD@db/app`` keeps its literal parts). The application keeps reading the
.env for its other variables; dotenv loaders do not override a variable already set, so the
agent's value wins. The unit generated runs the agent, which supervises the application and
restarts it when a secret changes.

``file``: the agent renders the whole .env to its own path from a template (as
:mod:`migrator.rewrite.agent_template` does for any config file), for applications that read
the file only.

Either way the .env keeps every byte except the spans, which hold ``__VAULTSHIFT_AGENT__``
(still a valid .env; the scanner reads it as a placeholder). Companions go to
``<dir>/.vaultshift/``: ``<name>.agent.hcl`` and ``vaultshift-agent-<escaped path>.service``
(plus ``<name>.ctmpl`` in file mode).
"""

from __future__ import annotations

from collections.abc import Sequence

from migrator.discover.models import Entry
from migrator.rewrite import agent_template
from migrator.rewrite.agent_config import (
    agent_hcl,
    build_template_text,
    companions_for,
    secret_action,
    systemd_unit,
)
from migrator.rewrite.agent_template import ACTION_PATTERN, MARKER_PATTERN
from migrator.rewrite.base import (
    MARKER,
    Replacement,
    RewriteContext,
    RewriteError,
    RewriteResult,
    describe_refs,
)
from migrator.rewrite.spans import Analysis, Edit, Site, already_rewritten, analyze, refuse_references, splice


def env_templates(original: bytes, replacements: Sequence[Replacement],
                  context: RewriteContext) -> list[tuple[str, str]]:
    """(variable, Go template of its value) for every variable that holds a span, in file order:
    what the generated ``env_template`` blocks say (and what verify.verify_env runs)."""
    return _env_templates(analyze(original, context.path, replacements), context)


def _env_templates(analysis: Analysis, context: RewriteContext) -> list[tuple[str, str]]:
    doc = analysis.doc
    if analysis.reader != "env":
        raise RewriteError(f"{context.path}: not a .env file (read as {analysis.reader}); "
                           "use the agent-template style for other files")
    groups: dict[Entry, list[Site]] = {}
    for site in analysis.sites:
        if site.entry is None:
            raise RewriteError(f"line {doc.line_of(site.start)}: the span is not inside a variable's value")
        groups.setdefault(site.entry, []).append(site)
    names = [entry.key for entry in groups]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RewriteError(f"variable {duplicates[0]} is assigned more than once with secrets; keep one")
    result = []
    for entry, sites in groups.items():
        whole = len(sites) == 1 and sites[0].whole
        if not whole and entry.raw:
            raise RewriteError(f"line {doc.line_of(entry.start)}: {entry.key} is written with escapes and "
                               "the secret is only part of it; make the secret the whole value first")
        parts = []
        for site in sites:
            ref = site.replacement.ref
            action = secret_action(context.mount_for(ref), ref)
            parts.append((site.start - entry.start, site.end - entry.start, action))
        written = doc.text[entry.start: entry.end]
        result.append((entry.key, build_template_text(written, parts)))
    return result


def rewrite(original: bytes, replacements: Sequence[Replacement], context: RewriteContext) -> RewriteResult:
    options = context.agent
    if options.env_mode == "file":
        result = agent_template.rewrite(original, replacements, context)
        return RewriteResult(result.new_bytes, result.companions,
                             result.description.replace("agent template", "agent-rendered .env"),
                             result.spans, result.modes, result.unchanged)
    if options.env_mode != "exec":
        raise RewriteError(f"unknown env mode {options.env_mode!r} (exec or file)")
    if not options.command:
        raise RewriteError(f"{context.path}: exec mode needs the application's command (AgentOptions.command)")
    companions = companions_for(context.pure_path)
    if already_rewritten(original, replacements, MARKER_PATTERN):
        return RewriteResult(original, {}, f"{context.path}: already rewritten for the agent", unchanged=True)
    analysis = analyze(original, context.path, replacements)
    doc = analysis.doc
    refuse_references(doc, analysis.sites, ACTION_PATTERN)
    refuse_references(doc, analysis.sites, MARKER_PATTERN)
    templates = _env_templates(analysis, context)
    new_bytes, spans = splice(doc, [Edit(s.start, s.end, MARKER) for s in analysis.sites])
    header = [f"vaultshift: runs {options.command[0]} with {', '.join(n for n, _ in templates)} from the vault",
              f"({describe_refs(replacements)}); {context.path} holds the marker instead.",
              "Holds no secret: the values are read at start with the agent's own token."]
    config = agent_hcl(options, header, env_templates=templates, command=options.command)
    unit = systemd_unit(options, companions.config,
                        f"vaultshift: agent running {options.command[0]} with secrets from the vault",
                        render_first=False)
    return RewriteResult(
        new_bytes,
        {companions.config: config, companions.unit: unit},
        f"{context.path}: {len(templates)} variable(s) -> agent env_template + exec ({describe_refs(replacements)})",
        tuple(spans),
        {companions.config: 0o600, companions.unit: 0o644},
    )
