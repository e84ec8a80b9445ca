"""The terminal view: one row per finding, errors below, a summary line last."""

from __future__ import annotations

import shutil

from migrator.discover.models import ScanResult

_COLUMNS = ("LOCATION", "KIND", "KEY", "RULE", "CONF", "HINT")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


def render(result: ScanResult, color: bool = False, width: int | None = None) -> str:
    width = width or shutil.get_terminal_size((120, 24)).columns
    rows = [
        (f"{f.path}:{f.span.line}", f.kind, f.key_path or "-", f.rule, str(f.confidence), f.hint)
        for f in result.findings
    ]
    lines: list[str] = []
    if rows:
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(_COLUMNS)]
        # Fit the terminal: shrink the widest columns (location first keeps file:line readable).
        budget = width - 2 * (len(widths) - 1)
        caps = [60, 22, 40, 30, 6, 22]
        while sum(widths) > budget and any(w > 8 for w in widths):
            i = max(range(len(widths)), key=lambda j: widths[j] - caps[j])
            widths[i] -= 1
        bold, red, reset = ("\033[1m", "\033[31m", "\033[0m") if color else ("", "", "")
        lines.append(bold + "  ".join(c.ljust(widths[i]) for i, c in enumerate(_COLUMNS)).rstrip() + reset)
        for row in rows:
            cells = [_clip(cell, widths[i]).ljust(widths[i]) for i, cell in enumerate(row)]
            cells[0] = red + cells[0] + reset if color else cells[0]
            lines.append("  ".join(cells).rstrip())
        lines.append("")
    for error in result.errors:
        marker = "error" if error.fatal else "note"
        lines.append(f"{marker}: {error.path}: {error.reason}")
    if result.errors:
        lines.append("")
    lines.append(summary(result))
    if result.findings:
        lines.append("Move them into the vault with `vaultshift plan` / `vaultshift apply`, or accept a false "
                     "positive with a `vaultshift: allow` comment or a baseline.")
    return "\n".join(lines) + "\n"


def summary(result: ScanResult) -> str:
    """One line: how many findings in how many files, and what was scanned."""
    stats = result.stats
    files = {f.path for f in result.findings}
    return (f"{len(result.findings)} finding{'s' if len(result.findings) != 1 else ''} in {len(files)} "
               f"file{'s' if len(files) != 1 else ''}; {stats.files_scanned} files scanned, "
               f"{stats.files_skipped} skipped, {len(result.errors)} "
            f"error{'s' if len(result.errors) != 1 else ''} ({stats.seconds:.2f}s)")
