"""The loader: bytes to a Document, binary files skipped, read problems reported in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sandbox import run_as_nobody, watch_fifo

from migrator.discover.loader import BINARY_SNIFF, is_binary, load
from migrator.discover.models import ScanError
from migrator.discover.walker import SourceFile, walk

CAP = 5 * 1024 * 1024


def source(path: Path, display: str | None = None) -> SourceFile:
    size = path.stat().st_size if path.exists() else 0
    return SourceFile(path, display or path.name, size)


def write(tmp_path: Path, name: str, data: bytes) -> SourceFile:
    path = tmp_path / name
    path.write_bytes(data)
    return source(path, f"conf/{name}")


# -- text -------------------------------------------------------------------------------------


def test_loads_utf8_text(tmp_path: Path) -> None:
    data = "name: café\npassword: s3cr€t\n".encode()
    doc, errors = load(write(tmp_path, "app.yaml", data), CAP)
    assert errors == []
    assert doc is not None
    assert doc.path == "conf/app.yaml"  # the display path, not the absolute one
    assert doc.text == data.decode()
    assert doc.data == data
    assert doc.encoding == "utf-8"
    start = doc.text.index("s3cr€t")
    span = doc.span(start, start + len("s3cr€t"))
    assert data[span.start : span.end] == "s3cr€t".encode()


def test_an_empty_file_is_an_empty_document(tmp_path: Path) -> None:
    doc, errors = load(write(tmp_path, "empty.env", b""), CAP)
    assert errors == []
    assert doc is not None and doc.text == ""


def test_a_utf8_bom_is_kept_so_offsets_stay_exact(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbfAPI_KEY=abc123\n"
    doc, errors = load(write(tmp_path, "bom.env", data), CAP)
    assert errors == []
    assert doc is not None
    assert doc.text.startswith("\ufeffAPI_KEY")
    start = doc.text.index("abc123")
    span = doc.span(start, start + 6)
    assert (span.start, span.end) == (data.index(b"abc123"), data.index(b"abc123") + 6)
    assert data[span.start : span.end] == b"abc123"


def test_invalid_utf8_is_a_non_fatal_error_and_decodes_as_latin1(tmp_path: Path) -> None:
    data = b"user: ren\xe9\npassword: hunter2\n"
    doc, errors = load(write(tmp_path, "legacy.yaml", data), CAP)
    assert errors == [ScanError("conf/legacy.yaml", "invalid UTF-8 at byte 9; scanned as Latin-1", fatal=False)]
    assert doc is not None
    assert doc.encoding == "latin-1"
    assert doc.text == data.decode("latin-1")
    assert len(doc.text) == len(data)
    start = doc.text.index("hunter2")
    span = doc.span(start, start + len("hunter2"))
    assert (span.start, span.end) == (data.index(b"hunter2"), data.index(b"hunter2") + 7)
    assert (span.line, span.column) == (2, 11)
    assert data[span.start : span.end] == b"hunter2"
    assert "hunter2" not in errors[0].reason and "ren" not in errors[0].reason


# -- binary -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "magic",
    [
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff\xe0",
        b"GIF87a",
        b"GIF89a",
        b"%PDF-1.7\n",
        b"PK\x03\x04",
        b"PK\x05\x06",
        b"\x1f\x8b\x08",
        b"\x7fELF\x02\x01\x01",
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
    ],
    ids=lambda magic: magic[:4].hex(),
)
def test_known_binary_signatures_are_binary_without_any_nul(magic: bytes) -> None:
    data = magic + b"password=hunter2\n" * 10
    assert b"\x00" not in data
    assert is_binary(data)
    assert not is_binary(b"x" + data)  # only at the start


def test_a_nul_byte_in_the_first_8_kib_means_binary() -> None:
    assert not is_binary(b"")
    assert not is_binary(b"plain = text\n" * 1000)
    assert is_binary(b"a" * (BINARY_SNIFF - 1) + b"\x00")
    assert not is_binary(b"a" * BINARY_SNIFF + b"\x00")  # beyond the sniffed prefix
    assert BINARY_SNIFF == 8192


def test_binary_files_are_skipped_without_error(tmp_path: Path) -> None:
    assert load(write(tmp_path, "logo.png", b"\x89PNG\r\n\x1a\nIHDR password=x"), CAP) == (None, [])
    assert load(write(tmp_path, "blob.dat", b"key=value\n\x00\x01\x02"), CAP) == (None, [])
    doc, _ = load(write(tmp_path, "late_nul.txt", b"k=v\n" * 2100 + b"\x00"), CAP)
    assert doc is not None  # the NUL sits after the first 8 KiB


# -- size cap ---------------------------------------------------------------------------------


def test_the_cap_is_checked_again_when_reading(tmp_path: Path) -> None:
    path = tmp_path / "growing.log"
    path.write_bytes(b"a=1\n")
    item = source(path, "growing.log")
    assert item.size == 4
    doc, errors = load(item, 100)
    assert doc is not None and errors == []
    path.write_bytes(b"a=1\n" * 30)  # grew past the cap after the walk sized it
    assert load(item, 100) == (
        None,
        [ScanError("growing.log", "larger than the 100 bytes cap; skipped (raise it with --max-file-size)")],
    )
    doc, errors = load(item, 120)  # exactly at the cap is fine
    assert errors == [] and doc is not None and len(doc.data) == 120


def test_the_default_cap_message(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with open(path, "wb") as fh:
        fh.write(b'{"a": "' + b"x" * 8192)
        fh.truncate(CAP + 1)
    assert load(source(path, "huge.json"), CAP) == (
        None,
        [ScanError("huge.json", "larger than the 5 MiB cap; skipped (raise it with --max-file-size)")],
    )


def test_a_binary_file_over_the_cap_is_skipped_as_binary_not_reported(tmp_path: Path) -> None:
    path = tmp_path / "libbig.so"
    with open(path, "wb") as fh:
        fh.write(b"\x7fELF\x02\x01\x01\x00")
        fh.truncate(CAP + 1)
    assert load(source(path, "libbig.so"), CAP) == (None, [])


# -- read problems ----------------------------------------------------------------------------


def test_a_file_that_vanished_is_an_error(tmp_path: Path) -> None:
    item = SourceFile(tmp_path / "gone.env", "gone.env", 10)
    assert load(item, CAP) == (None, [ScanError("gone.env", "no such file or directory")])


def test_a_directory_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    item = SourceFile(tmp_path / "dir", "dir", 0)
    assert load(item, CAP) == (None, [ScanError("dir", "not a regular file (directory); skipped", fatal=False)])


def test_a_fifo_swapped_in_after_the_walk_is_never_opened(tmp_path: Path) -> None:
    (tmp_path / "x.env").write_text("A=1\n")
    (item,) = list(walk([tmp_path]))
    assert isinstance(item, SourceFile)
    item.path.unlink()
    with watch_fifo(item.path) as opened:
        result = load(item, CAP)
        assert not opened.wait(0.2), "the loader opened the FIFO"
    assert result == (None, [ScanError("x.env", "not a regular file (FIFO); skipped", fatal=False)])


def test_an_unreadable_file_as_an_unprivileged_user(public_dir: Path) -> None:
    secret = public_dir / "secret.env"
    secret.write_text("PASSWORD=hunter2\n")
    secret.chmod(0o000)
    readable = public_dir / "ok.env"
    readable.write_text("A=1\n")
    readable.chmod(0o644)

    def run() -> object:
        out = []
        for path in (secret, readable):
            doc, errors = load(SourceFile(path, path.name, path.stat().st_size), CAP)
            out.append([doc.text if doc else None, [[e.path, e.reason, e.fatal] for e in errors]])
        return out

    assert run_as_nobody(run) == [
        [None, [["secret.env", "permission denied", True]]],
        ["A=1\n", []],
    ]
    # Control: root reads it, so the error above comes from the dropped privileges.
    assert load(SourceFile(secret, "secret.env", 17), CAP)[0] is not None
