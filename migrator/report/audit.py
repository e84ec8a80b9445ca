"""The view of ``vaultshift baseline audit``: each baseline entry and where its secret is now."""

from __future__ import annotations

import json

from migrator.discover.baseline import PRESENT, STALE, UNSCANNED, AuditItem

_COLUMNS = ("STATUS", "LOCATION", "KIND", "KEY", "RULE", "HINT", "REASON")


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def counts(items: list[AuditItem]) -> dict[str, int]:
    return {status: sum(1 for item in items if item.status == status) for status in (PRESENT, STALE, UNSCANNED)}


def summary(items: list[AuditItem], new_findings: int) -> str:
    tally = counts(items)
    return (f"{len(items)} baseline entr{'ies' if len(items) != 1 else 'y'}: {tally[PRESENT]} present, "
            f"{tally[STALE]} stale, {tally[UNSCANNED]} in files not scanned; {new_findings} finding"
            f"{'s' if new_findings != 1 else ''} not in the baseline")


def rows(items: list[AuditItem]) -> list[tuple[str, ...]]:
    """One row per finding an entry accepts; one row for an entry that accepts none."""
    table: list[tuple[str, ...]] = []
    for item in items:
        entry = item.entry
        reason = _printable(entry.reason) or "-"
        if not item.findings:
            table.append((item.status, entry.path, "-", entry.key_path or "*", entry.rule or "-", "-", reason))
        for f in item.findings:
            table.append((item.status, f"{f.path}:{f.span.line}", f.kind, f.key_path or "-", f.rule, f.hint, reason))
    return table


def render_table(items: list[AuditItem], new_findings: int) -> str:
    body = rows(items)
    lines = []
    if body:
        widths = [max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(_COLUMNS)]
        for row in (_COLUMNS, *body):
            lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        lines.append("")
    lines.append(summary(items, new_findings))
    return "\n".join(lines) + "\n"


def render_json(items: list[AuditItem], new_findings: int, pruned: int = 0) -> str:
    entries = []
    for item in items:
        data: dict[str, object] = {**item.entry.to_dict(), "status": item.status}
        data["reason"] = item.entry.reason
        data["locations"] = [
            {"path": f.path, "line": f.span.line, "end_line": f.span.end_line, "key_path": f.key_path,
             "kind": f.kind, "rule": f.rule, "hint": f.hint}
            for f in item.findings
        ]
        entries.append(data)
    body = {"entries": entries, "summary": {"entries": len(items), **counts(items), "new_findings": new_findings,
                                            "pruned": pruned}}
    return json.dumps(body, indent=2) + "\n"
