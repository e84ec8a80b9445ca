"""Reading a backend's settings (one entry of ``backends:`` in ``vaultshift.yml``) with types checked.

A typo must not pass silently (``namspace: team-a`` would store secrets in the root namespace), so
every backend declares the keys it knows and an unknown key is a :class:`ConfigError`, as is a
value of the wrong type. Errors are one line naming the backend and the key.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from migrator.backends.retry import DEFAULT_DELAY, DEFAULT_MAX_DELAY, DEFAULT_RETRIES, RetryPolicy
from migrator.config import ConfigError

DEFAULT_TIMEOUT = 10.0
COMMON_KEYS = frozenset({"type", "timeout", "retries", "retry_delay", "retry_max_delay"})


class Settings:
    """One backend's settings: its configured ``name`` and the mapping from the file."""

    def __init__(self, name: str, data: Mapping[str, Any], known: Iterable[str], where: str = "") -> None:
        self.name = name
        self.data = dict(data)
        self.where = where  # "settings" or "settings.auth", for messages
        allowed = set(known) | (set() if where else COMMON_KEYS)
        unknown = sorted(str(key) for key in set(self.data) - allowed)
        if unknown:
            raise self.error(unknown[0], f"unknown setting (known: {', '.join(sorted(allowed))})")

    def error(self, key: str, problem: str) -> ConfigError:
        prefix = f"{self.where}." if self.where else ""
        return ConfigError(f"backend {self.name!r}: {prefix}{key}: {problem}")

    def string(self, key: str, default: str | None = None, env: str | None = None) -> str | None:
        """The setting, else ``$env`` when set and not empty, else ``default``."""
        value = self.data.get(key)
        if value is None:
            return (os.environ.get(env) or default) if env else default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(key, f"expected a string, not {type(value).__name__}")
        return str(value)

    def number(self, key: str, default: float, minimum: float = 0.0) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number, not {type(value).__name__}")
        if value < minimum:
            raise self.error(key, f"must be at least {minimum:g}")
        return float(value)

    def integer(self, key: str, default: int, minimum: int = 0) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected a whole number, not {type(value).__name__}")
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, not {type(value).__name__}")
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.data.get(key) or {}
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping, not {type(value).__name__}")
        return value

    def timeout(self) -> float:
        timeout = self.number("timeout", DEFAULT_TIMEOUT)
        if timeout <= 0:
            raise self.error("timeout", "must be more than 0 seconds")
        return timeout

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(retries=self.integer("retries", DEFAULT_RETRIES),
                           delay=self.number("retry_delay", DEFAULT_DELAY),
                           max_delay=self.number("retry_max_delay", DEFAULT_MAX_DELAY))
