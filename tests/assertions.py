"""Assertions several test modules share."""

from __future__ import annotations

import subprocess


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit status 2 and exactly one line on stderr, ``vaultshift: error: ...``, holding ``needles``."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vaultshift: error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0]
