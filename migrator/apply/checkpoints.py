"""Fault injection for crash-safety tests: ``VAULTSHIFT_KILL_AT_STEP=N`` kills the process with
SIGKILL at the N-th checkpoint an apply or rollback passes (as ``kill -9`` would, mid-run).

Checkpoints sit between every pair of durable steps (a backend write, a journal record, a
companion file, the file itself), so a test can crash a run at each of them in turn and check
that a re-run leaves every file original or rewritten to stored, verified secrets. Unset (as in
any real use), a checkpoint only counts.
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "VAULTSHIFT_KILL_AT_STEP"
_passed = 0
_lock = threading.Lock()  # the store phase passes checkpoints from several threads


def checkpoint() -> None:
    global _passed
    with _lock:
        _passed += 1
        step = _passed
    if os.environ.get(ENV) == str(step):
        os.kill(os.getpid(), signal.SIGKILL)


def passed() -> int:
    """How many checkpoints this process has passed."""
    return _passed
