"""The JSON report: ``{"findings": [...], "errors": [...], "stats": {...}}``. No values, ever."""

from __future__ import annotations

import json

from migrator import __version__
from migrator.discover.models import ScanResult


def scan_to_dict(result: ScanResult) -> dict[str, object]:
    return {
        "version": 1,
        "tool": {"name": "vaultshift", "version": __version__},
        "findings": [finding.to_dict() for finding in result.findings],
        "errors": [error.to_dict() for error in result.errors],
        "stats": result.stats.to_dict(),
    }


def render(result: ScanResult) -> str:
    return json.dumps(scan_to_dict(result), indent=2, sort_keys=False) + "\n"
