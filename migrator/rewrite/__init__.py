"""The rewrite stage: one rewriter per reference style, registered here by ReferenceStyle.

Adding a style is adding a module with ``rewrite(original, replacements, context)`` and a line in
``REWRITERS``. Rewriters are pure (bytes in, bytes out); :mod:`migrator.rewrite.atomic` writes
the result and :mod:`migrator.rewrite.verify` checks it.
"""

from __future__ import annotations

from collections.abc import Sequence

from migrator.plan.models import ReferenceStyle
from migrator.rewrite import agent_env, agent_template, ansible_lookup
from migrator.rewrite.base import (
    COMPANION_DIR,
    MARKER,
    AgentOptions,
    AutoAuth,
    KvMount,
    Replacement,
    RewriteContext,
    RewriteError,
    Rewriter,
    RewriteResult,
)

REWRITERS: dict[ReferenceStyle, Rewriter] = {
    ReferenceStyle.ANSIBLE_LOOKUP: ansible_lookup.rewrite,
    ReferenceStyle.AGENT_TEMPLATE: agent_template.rewrite,
    ReferenceStyle.AGENT_ENV: agent_env.rewrite,
}


def rewriter_for(style: ReferenceStyle) -> Rewriter:
    try:
        return REWRITERS[style]
    except KeyError:
        raise RewriteError(f"no rewriter for the {style} style yet") from None


def rewrite(style: ReferenceStyle, original: bytes, replacements: Sequence[Replacement],
            context: RewriteContext) -> RewriteResult:
    """Rewrite ``original`` (the bytes of ``context.path``) to ``style``'s references."""
    return rewriter_for(style)(original, replacements, context)


__all__ = ["COMPANION_DIR", "MARKER", "REWRITERS", "AgentOptions", "AutoAuth", "KvMount",
           "Replacement", "RewriteContext", "RewriteError", "RewriteResult", "Rewriter", "rewrite", "rewriter_for"]
