"""What a blocked commit or push prints: every finding on one line, then how to fix it."""

from __future__ import annotations

from migrator.discover.models import Finding

HOW_TO_FIX = (
    "how to fix:",
    "  - move the value into your vault and read it at runtime instead,",
    "    then remove it from the change; rotate it if it ever left your machine;",
    "  - a false positive: add a `vaultshift: allow` comment on its line, or accept it with",
    "    `vaultshift baseline update .` at the top of the work tree and commit .vaultshift-baseline.json.",
)


def finding_line(finding: Finding, commit: str | None = None) -> str:
    """``abc1234 config/db.yml:12:9 password at db.password (keyword-password, high) p***d (12 chars)``"""
    where = f"{finding.path}:{finding.span.line}:{finding.span.column}"
    if commit:
        where = f"{commit[:12]} {where}"
    key = f" at {finding.key_path}" if finding.key_path else ""
    return f"{where} {finding.kind}{key} ({finding.rule}, {finding.confidence}) {finding.hint}"
