"""The terminal view: one row per finding, errors below, a summary line last."""

from __future__ import annotations

from migrator.discover.models import ScanResult

_COLUMNS = ("LOCATION", "KIND", "KEY", "RULE", "CONF", "HINT")


def _clip(text: str, width: int, keep_end: bool = False) -> str:
    """Shorten to ``width`` with an ellipsis; ``keep_end`` keeps the tail (a path's file:line)."""
    if len(text) <= width:
        return text
    if keep_end:
        return "…" + text[len(text) - max(width - 1, 1):]
    return text[: max(width - 1, 1)] + "…"


def render(result: ScanResult, color: bool = False, width: int | None = None) -> str:
    """The findings table. ``width`` caps the line length (a terminal's width); None: no cap."""
    rows = [
        (f"{f.path}:{f.span.line}", f.kind, f.key_path or "-", f.rule, str(f.confidence), f.hint)
        for f in result.findings
    ]
    lines: list[str] = []
    if rows:
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(_COLUMNS)]
        if width is not None:
            # Shrink the key path, then the location, then the kind, down to a readable minimum;
            # rule, confidence and hint stay whole.
            for column, floor in ((2, 12), (0, 24), (1, 10)):
                excess = sum(widths) + 2 * (len(widths) - 1) - width
                if excess > 0:
                    widths[column] = max(min(floor, widths[column]), widths[column] - excess)
        bold, red, reset = ("\033[1m", "\033[31m", "\033[0m") if color else ("", "", "")
        lines.append(bold + "  ".join(c.ljust(widths[i]) for i, c in enumerate(_COLUMNS)).rstrip() + reset)
        for row in rows:
            cells = [_clip(cell, widths[i], keep_end=i in (0, 2)).ljust(widths[i]) for i, cell in enumerate(row)]
            if color:
                cells[0] = red + cells[0] + reset
            lines.append("  ".join(cells).rstrip())
        lines.append("")
    for error in result.errors:
        lines.append(f"{error.severity}: {error.path}: {error.reason}")
    if result.errors:
        lines.append("")
    lines.append(summary(result))
    if result.findings:
        lines.append("Move each value into your vault and reference it at runtime; accept a false positive "
                     "with a `vaultshift: allow` comment or a baseline.")
    return "\n".join(lines) + "\n"


def summary(result: ScanResult) -> str:
    """One line: how many findings in how many files, and what was scanned."""
    stats = result.stats
    files = {f.path for f in result.findings}
    return (f"{len(result.findings)} finding{'s' if len(result.findings) != 1 else ''} in {len(files)} "
               f"file{'s' if len(files) != 1 else ''}; {stats.files_scanned} files scanned, "
               f"{stats.files_skipped} skipped, {len(result.errors)} "
            f"error{'s' if len(result.errors) != 1 else ''} ({stats.seconds:.2f}s)")
