"""The reviewable summary of a plan: one row per secret, totals, the planner's notes, errors.

It shows vault references, backends, kinds, redacted hints and file names; never a value.
"""

from __future__ import annotations

from collections import Counter

from migrator.discover.models import ScanStats
from migrator.plan.models import Plan
from migrator.plan.planner import occurrence_label, single_root

_COLUMNS = ("VAULT REF", "BACKEND", "KIND", "HINT", "OCC", "FILES")
_FILES_SHOWN = 3


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def render(plan: Plan, stats: ScanStats | None = None) -> str:
    occurrences = [o for s in plan.secrets for o in s.occurrences]
    one_tree = single_root(occurrences)
    rows = []
    for secret in plan.secrets:
        files = list(dict.fromkeys(occurrence_label(o, one_tree) for o in secret.occurrences))
        shown = ", ".join(files[:_FILES_SHOWN])
        if len(files) > _FILES_SHOWN:
            shown += f", +{len(files) - _FILES_SHOWN} more"
        rows.append((str(secret.ref), secret.ref.backend, secret.kind, secret.hint or "-",
                     str(len(secret.occurrences)), shown))
    lines: list[str] = []
    if rows:
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(_COLUMNS)]
        lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(_COLUMNS)).rstrip())
        for row in rows:
            cells = [cell.rjust(widths[i]) if i == 4 else cell.ljust(widths[i]) for i, cell in enumerate(row)]
            lines.append("  ".join(cells).rstrip())
        lines.append("")
    for note in plan.notes:
        lines.append(f"note: {note}")
    for error in plan.errors:
        lines.append(f"{error.get('severity', 'error')}: {error.get('path', '')}: {error.get('reason', '')}")
    if plan.notes or plan.errors:
        lines.append("")
    lines.append(totals(plan, stats))
    return "\n".join(lines) + "\n"


def totals(plan: Plan, stats: ScanStats | None = None) -> str:
    """One line: secrets, occurrences, files, per backend and per reference style."""
    occurrences = [o for s in plan.secrets for o in s.occurrences]
    files = {(o.host, o.file) for o in occurrences}
    scanned = f"; {_plural(stats.files_scanned, 'file')} scanned" if stats is not None else ""
    if not plan.secrets:
        found = "only in Terraform state (see the notes)" if any("Terraform state holds" in n for n in plan.notes) \
            else "no plaintext secret found"
        line = f"nothing to migrate: {found}{scanned}"
    else:
        backends = Counter(s.ref.backend for s in plan.secrets)
        styles = Counter(str(o.style) for o in occurrences)
        line = (f"{_plural(len(plan.secrets), 'secret')}, {_plural(len(occurrences), 'occurrence')} in "
                f"{_plural(len(files), 'file')}{scanned}; backends: "
                + ", ".join(f"{name} {count}" for name, count in sorted(backends.items()))
                + "; styles: " + ", ".join(f"{name} {count}" for name, count in sorted(styles.items())))
    renamed = sum(1 for n in plan.notes if n.startswith("renamed "))
    conflicts = sum(1 for n in plan.notes if n.startswith("routing conflict "))
    fatal = sum(1 for e in plan.errors if e.get("severity") == "error")
    extra = [text for count, text in ((renamed, _plural(renamed, "path") + " renamed to stay unique"),
                                      (conflicts, _plural(conflicts, "routing conflict")),
                                      (fatal, _plural(fatal, "error"))) if count]
    return line + ("; " + ", ".join(extra) if extra else "")
