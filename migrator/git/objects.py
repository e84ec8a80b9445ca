"""Reading blobs: one ``git cat-file --batch`` process answers every request of a run."""

from __future__ import annotations

import contextlib
import subprocess
from types import TracebackType

from migrator.git.repo import Git, GitError

_CHUNK = 1 << 20


class BlobReader:
    """``read(oid)`` returns a blob's bytes, or ``None`` with its size when it is over ``max_size``
    (the bytes are drained, never kept)."""

    def __init__(self, git: Git, max_size: int) -> None:
        self.max_size = max_size
        self._proc: subprocess.Popen[bytes] = git.popen("cat-file", "--batch")

    def read(self, oid: str) -> tuple[bytes | None, int]:
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(oid.encode() + b"\n")
            proc.stdin.flush()
        except BrokenPipeError:
            raise GitError("git cat-file stopped unexpectedly") from None
        header = proc.stdout.readline()
        parts = header.split()
        if len(parts) != 3:
            raise GitError(f"object {oid} is missing from the repository")
        size = int(parts[2])
        if size > self.max_size:
            remaining = size + 1  # and the newline after the contents
            while remaining:
                chunk = proc.stdout.read(min(remaining, _CHUNK))
                if not chunk:
                    raise GitError("git cat-file stopped unexpectedly")
                remaining -= len(chunk)
            return None, size
        data = proc.stdout.read(size + 1)
        if len(data) != size + 1:
            raise GitError("git cat-file stopped unexpectedly")
        return data[:-1], size

    def close(self) -> None:
        proc = self._proc
        if proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
