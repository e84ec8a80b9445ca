"""What rotation raises when a step cannot be done: one line naming the item (a database, a user,
a role, a secret's path) and the reason, never a password."""

from __future__ import annotations

from migrator.backends.errors import one_line


class RotationError(RuntimeError):
    """A rotation step failed or was refused; ``item`` names what it was about."""

    def __init__(self, item: str, reason: str) -> None:
        self.item = item
        self.reason = one_line(reason)
        super().__init__(one_line(f"{item}: {self.reason}"))


class DatabaseUnreachable(RotationError):
    """The database did not answer (refused, timed out, no such host)."""
