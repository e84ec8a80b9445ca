"""Read one walked file into a Document, or say why it cannot be scanned.

Binary files are recognised (a NUL byte near the start, or a known binary signature) and
returned as ``(None, [])``: the caller counts them as skipped, not as errors. Text that is not
valid UTF-8 is decoded as Latin-1 so byte offsets stay exact, with a non-fatal ScanError. A
UTF-8 BOM is kept in the text, so character offsets still map onto the bytes on disk.
"""

from __future__ import annotations

import os
import stat

from migrator.discover.document import Document
from migrator.discover.models import ScanError
from migrator.discover.walker import (
    SourceFile,
    not_regular_reason,
    os_error_reason,
    starts_binary,
    too_large_reason,
)

__all__ = ["BINARY_SNIFF", "is_binary", "load"]

BINARY_SNIFF = 8192

# Signatures of formats that are binary even when their first bytes hold no NUL.
_MAGIC: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n",  # PNG
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",  # GIF
    b"GIF89a",
    b"%PDF-",  # PDF
    b"PK\x03\x04",  # ZIP, JAR, wheels, office documents
    b"PK\x05\x06",  # empty ZIP
    b"PK\x07\x08",  # spanned ZIP
    b"\x1f\x8b",  # gzip
    b"\x7fELF",  # ELF
    b"\xfe\xed\xfa\xce",  # Mach-O 32-bit
    b"\xfe\xed\xfa\xcf",  # Mach-O 64-bit
    b"\xce\xfa\xed\xfe",  # Mach-O 32-bit, little-endian
    b"\xcf\xfa\xed\xfe",  # Mach-O 64-bit, little-endian
    b"\xca\xfe\xba\xbe",  # Java class file; also a Mach-O universal binary
)

# Never block on (or become the controlling terminal of) something that turned out not to be a
# regular file between the walk and now; O_NONBLOCK changes nothing for regular files.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_NONBLOCK", 0)
)


def is_binary(data: bytes) -> bool:
    """True when ``data`` starts with a known binary signature or has a NUL in its first 8 KiB."""
    return data.startswith(_MAGIC) or data.find(b"\x00", 0, BINARY_SNIFF) != -1


def load(source: SourceFile, max_file_size: int) -> tuple[Document | None, list[ScanError]]:
    """Read ``source``: ``(doc, [])``, ``(doc, [non-fatal warning])``, ``(None, [])`` for a binary
    file, or ``(None, [error])`` when it cannot be read."""
    display = source.display
    try:
        # Check before opening: a FIFO or device swapped in since the walk is never opened.
        st = os.stat(source.path)
        if not stat.S_ISREG(st.st_mode):
            return None, [ScanError(display, not_regular_reason(st.st_mode), fatal=False)]
        if st.st_size > max_file_size:
            if starts_binary(source.path):
                return None, []  # binary: skipped whatever its size
            return None, [ScanError(display, too_large_reason(max_file_size))]
        fd = os.open(source.path, _OPEN_FLAGS)
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())  # the file we actually opened
            if not stat.S_ISREG(st.st_mode):
                return None, [ScanError(display, not_regular_reason(st.st_mode), fatal=False)]
            data = fh.read(max_file_size + 1)  # one byte more tells us the file grew past the cap
    except OSError as exc:
        return None, [ScanError(display, os_error_reason(exc))]
    if len(data) > max_file_size:
        return None, [ScanError(display, too_large_reason(max_file_size))]
    if is_binary(data):
        return None, []
    doc, warning = Document.from_bytes(display, data)
    return doc, ([ScanError(display, warning, fatal=False)] if warning else [])
