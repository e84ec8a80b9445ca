"""The JSON report: ``{"findings": [...], "errors": [...], "stats": {...}}``. No values, ever."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from migrator import __version__
from migrator.discover.models import Finding, ScanResult

Annotate = Callable[[Finding], dict[str, Any]]


def scan_to_dict(result: ScanResult, annotate: Annotate | None = None) -> dict[str, object]:
    """The report; ``annotate`` adds fields to each finding (a history scan's commits)."""
    return {
        "version": 1,
        "tool": {"name": "vaultshift", "version": __version__},
        "findings": [finding.to_dict() | (annotate(finding) if annotate else {}) for finding in result.findings],
        "errors": [error.to_dict() for error in result.errors],
        "stats": result.stats.to_dict(),
    }


def render(result: ScanResult, annotate: Annotate | None = None) -> str:
    return json.dumps(scan_to_dict(result, annotate), indent=2, sort_keys=False) + "\n"
