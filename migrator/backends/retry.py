"""Bounded retries with exponential backoff, for transient failures only (:class:`Unavailable`)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

DEFAULT_RETRIES = 3
DEFAULT_DELAY = 0.25
DEFAULT_MAX_DELAY = 4.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry a request that failed transiently.

    ``retries`` is the number of attempts after the first; the n-th retry waits
    ``min(delay * 2**(n-1), max_delay)`` seconds, less up to half of it at random (``jitter``) so
    that many clients do not retry in step. The waits never exceed :attr:`max_total_delay`, so an
    operation against a dead server ends after at most ``(retries + 1)`` request timeouts plus
    that.
    """

    retries: int = DEFAULT_RETRIES
    delay: float = DEFAULT_DELAY
    max_delay: float = DEFAULT_MAX_DELAY
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.retries < 0 or self.delay < 0 or self.max_delay < 0:
            raise ValueError("retries and delays must not be negative")

    def delays(self) -> Iterator[float]:
        """The wait before each retry, in order (``retries`` of them)."""
        for n in range(self.retries):
            wait = min(self.delay * 2**n, self.max_delay)
            yield wait * random.uniform(0.5, 1.0) if self.jitter else wait

    @property
    def max_total_delay(self) -> float:
        return sum(min(self.delay * 2**n, self.max_delay) for n in range(self.retries))
