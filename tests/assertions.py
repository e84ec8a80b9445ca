"""Assertions several test modules share."""

from __future__ import annotations

import base64
import subprocess


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit status 2 and exactly one line on stderr, ``vaultshift: error: ...``, holding ``needles``."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vaultshift: error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0]


def one_line(exc: BaseException, *secrets: str) -> str:
    """The exception's message, asserted to be one line holding none of ``secrets``."""
    text = str(exc)
    assert "\n" not in text
    for secret in secrets:
        assert secret not in text
    return text


def pieces(value: str) -> set[str]:
    """The value, every 8-character window of it, and 12-character windows of its base64 at each
    byte alignment (file contents travel in base64 through Ansible's modules)."""
    found = {value}
    found.update(value[i:i + 8] for i in range(max(len(value) - 7, 1)))
    raw = value.encode()
    for shift in range(3):
        whole = raw[shift:][: (len(raw) - shift) // 3 * 3]
        encoded = base64.b64encode(whole).decode()
        found.update(encoded[i:i + 12] for i in range(0, max(len(encoded) - 11, 1), 4))
    return {piece for piece in found if piece}


def assert_no_canary(text: str, canaries: dict[str, str], where: str) -> None:
    """No canary, nor a piece of one, in ``text``; names the canaries that leaked, never their
    values (a failing test's output is a log too)."""
    leaked = sorted(name for name, canary in canaries.items() if any(piece in text for piece in pieces(canary)))
    assert not leaked, f"canaries {leaked} (or pieces of them) leaked into {where}"
