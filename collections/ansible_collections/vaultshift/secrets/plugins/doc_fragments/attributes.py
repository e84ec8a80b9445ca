# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
"""Attributes every module of the collection shares: what the managed host needs."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  platform:
    description: The host needs Python 3 and its standard library only.
    support: full
    platforms: posix
"""

    # Modules whose work runs in an action plugin on the controller.
    ACTION = r"""
attributes:
  async:
    description: Cannot run with C(async).
    support: none
"""
