"""A progress bar on standard error for long scans; silent when stderr is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Call with (done, total, current item); draws at most ten times a second."""

    def __init__(self, stream: TextIO | None = None, min_total: int = 200, interval: float = 0.1) -> None:
        self.stream = stream or sys.stderr
        self.min_total = min_total
        self.interval = interval
        self._last = float("-inf")  # the first call always draws
        self._drawn = False

    def __call__(self, done: int, total: int, item: str) -> None:
        if total < self.min_total:
            return
        now = time.monotonic()
        if done < total and now - self._last < self.interval:
            return
        self._last = now
        width = 30
        filled = width * done // max(total, 1)
        name = item if len(item) <= 40 else "…" + item[-39:]
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name:<40}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r" + " " * 90 + "\r")
            self.stream.flush()
