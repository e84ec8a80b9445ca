"""The walker: which files a scan reads, in which order, and what it reports instead."""

from __future__ import annotations

import os
import socket
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pathspec import GitIgnoreSpec
from sandbox import run_as_nobody, watch_fifo

from migrator.discover.loader import load
from migrator.discover.models import ScanError
from migrator.discover.walker import SourceFile, WalkOptions, _compile, walk

TOO_LARGE_20MIB = "larger than the 20 MiB cap; skipped (raise it with --max-file-size)"
OUTSIDE = "symlink to a path outside the scanned root; not followed"
LOOP = "symlink loop; not followed"


# -- helpers ----------------------------------------------------------------------------------


def make(root: Path, *paths: str, content: str = "x = 1\n") -> None:
    """Create files (and their directories); a path ending in '/' makes an empty directory."""
    for rel in paths:
        target = root / rel
        if rel.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)


def scan(*roots: str | Path, **options: object) -> tuple[list[str], list[tuple[str, str]]]:
    """Walk and split the result into file display paths and (path, reason) errors, in order."""
    files: list[str] = []
    errors: list[tuple[str, str]] = []
    for item in walk(list(roots), WalkOptions(**options)):  # type: ignore[arg-type]
        if isinstance(item, SourceFile):
            files.append(item.display)
        else:
            assert isinstance(item, ScanError)
            # Only failures make the report incomplete; policy skips (cap, FIFO, symlinks) are notes.
            assert item.fatal == (item.reason in {"permission denied", "no such file or directory"}
                                  or "--max-file-size" in item.reason)
            errors.append((item.path, item.reason))
    return files, errors



# -- order, paths, sizes ----------------------------------------------------------------------


def test_order_is_sorted_by_name_within_each_directory(tmp_path: Path) -> None:
    make(tmp_path, "b.txt", "a/z.txt", "a/b/c.txt", "A.txt", "a.txt", "c/", "_.txt", "a/a.txt")
    files, errors = scan(tmp_path)
    assert errors == []
    assert files == ["A.txt", "_.txt", "a/a.txt", "a/b/c.txt", "a/z.txt", "a.txt", "b.txt"]
    assert scan(tmp_path)[0] == files  # the same again


def test_source_files_carry_absolute_path_posix_display_and_size(tmp_path: Path) -> None:
    make(tmp_path, "conf/app.env", content="TOKEN=abc\n")
    (item,) = list(walk([tmp_path]))
    assert isinstance(item, SourceFile)
    assert item.display == "conf/app.env"
    assert item.path.is_absolute()
    assert item.path == (tmp_path / "conf" / "app.env").resolve()
    assert item.path.read_text() == "TOKEN=abc\n"
    assert item.size == len("TOKEN=abc\n")


def test_relative_root_gives_paths_relative_to_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make(tmp_path, "repo/sub/x.yaml")
    monkeypatch.chdir(tmp_path)
    (item,) = list(walk(["repo"]))
    assert isinstance(item, SourceFile)
    assert item.display == "sub/x.yaml"
    assert item.path == tmp_path.resolve() / "repo" / "sub" / "x.yaml"


def test_several_roots_are_walked_in_the_order_given(tmp_path: Path) -> None:
    make(tmp_path, "one/b.txt", "two/a.txt", "single.txt")
    files, errors = scan(tmp_path / "two", tmp_path / "single.txt", tmp_path / "one")
    assert errors == []
    # With several roots, each tree's paths start with the root as given, so they stay distinct.
    assert files == [f"{tmp_path}/two/a.txt", str(tmp_path / "single.txt"), f"{tmp_path}/one/b.txt"]


def test_a_single_tree_gives_paths_relative_to_it_and_several_relative_roots_keep_their_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make(tmp_path, "web/config.yml", "db/config.yml")
    monkeypatch.chdir(tmp_path)
    assert scan("web")[0] == ["config.yml"]
    assert scan("./web", "db/")[0] == ["web/config.yml", "db/config.yml"]


def test_lists_a_thousand_files_quickly(tmp_path: Path) -> None:
    for d in range(40):
        make(tmp_path, *(f"d{d:02}/f{f:02}.txt" for f in range(25)))
    (tmp_path / ".gitignore").write_text("*.log\nbuild/\n/dist\nnode_modules/\n!keep.log\n")
    best = min(_timed(lambda: sum(1 for _ in walk([tmp_path]))) for _ in range(3))
    assert sum(isinstance(item, SourceFile) for item in walk([tmp_path])) == 1001
    assert best < 0.25, f"walking 1000 files took {best * 1000:.1f} ms"


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -- ignore files and excludes ----------------------------------------------------------------


def test_nested_gitignore_negation_anchoring_and_globstar(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text(
        "# comment\n*.log\n/build/\nsecret*\n!secret.example\ndocs/**/draft.md\n/local.txt\n"
    )
    make(tmp_path, "sub/.gitignore", content="!important.log\n/local.txt\nnested-only.txt\n")
    make(
        tmp_path,
        "a.log",  # ignored by *.log
        "build/out.txt",  # ignored: /build/ at the root
        "sub/build/kept.txt",  # kept: /build/ is anchored to the root
        "sub/important.log",  # re-included by the deeper negation
        "sub/other.log",  # still ignored
        "local.txt",  # ignored: /local.txt at the root
        "sub/local.txt",  # ignored: /local.txt in sub/.gitignore
        "sub/deeper/local.txt",  # kept: both are anchored
        "secret.env",  # ignored by secret*
        "secret.example",  # re-included
        "sub/deeper/secret.key",  # a pattern without a slash matches at any depth
        "docs/draft.md",  # ignored: ** matches zero directories
        "docs/a/b/draft.md",  # ignored: ** matches several
        "docs/a/final.md",
        "nested-only.txt",  # kept: the pattern lives in sub/.gitignore
        "sub/nested-only.txt",  # ignored
    )
    files, errors = scan(tmp_path)
    assert errors == []
    assert files == [
        ".gitignore",
        "docs/a/final.md",
        "nested-only.txt",
        "secret.example",
        "sub/.gitignore",
        "sub/build/kept.txt",
        "sub/deeper/local.txt",
        "sub/important.log",
    ]


def test_a_deeper_ignore_file_can_ignore_what_a_shallower_one_re_includes(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.env\n!keep.env\n")
    make(tmp_path, "keep.env", "x.env", "sub/keep.env", "sub/other.txt")
    (tmp_path / "sub" / ".gitignore").write_text("keep.env\n")
    files, _ = scan(tmp_path)
    assert files == [".gitignore", "keep.env", "sub/.gitignore", "sub/other.txt"]


def test_nothing_below_an_ignored_directory_is_re_included_or_even_listed(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("logs/\n!logs/keep.txt\n")
    make(tmp_path, "logs/keep.txt", "logs/other.txt", "app.txt")
    (tmp_path / "logs" / "dangling").symlink_to(tmp_path / "nowhere")
    files, errors = scan(tmp_path)
    assert files == [".gitignore", "app.txt"]
    assert errors == []  # the broken symlink inside was never looked at


def test_trailing_slash_patterns_match_directories_only(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("cache/\n")
    make(tmp_path, "cache", "sub/cache/x.txt", "sub/y.txt")
    files, _ = scan(tmp_path)
    assert files == [".gitignore", "cache", "sub/y.txt"]


def test_vaultshiftignore_is_honoured_and_can_override_gitignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.env\n")
    (tmp_path / ".vaultshiftignore").write_text("fixtures/\n!prod.env\n")
    make(tmp_path, "dev.env", "prod.env", "fixtures/fake.yaml", "app.yaml")
    files, _ = scan(tmp_path)
    assert files == [".gitignore", ".vaultshiftignore", "app.yaml", "prod.env"]


def test_ignore_files_can_be_turned_off_or_renamed(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.env\n")
    (tmp_path / ".scanignore").write_text("*.yaml\n")
    make(tmp_path, "a.env", "b.yaml")
    assert scan(tmp_path, use_ignore_files=False)[0] == [".gitignore", ".scanignore", "a.env", "b.yaml"]
    assert scan(tmp_path, ignore_file_names=(".scanignore",))[0] == [".gitignore", ".scanignore", "a.env"]


def test_ignore_file_with_bom_and_crlf_line_endings(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_bytes(b"\xef\xbb\xbf*.env\r\n/dist\r\n")
    make(tmp_path, "a.env", "dist/x.js", "keep.txt")
    assert scan(tmp_path)[0] == [".gitignore", "keep.txt"]


def test_exclude_patterns_apply_relative_to_each_root(tmp_path: Path) -> None:
    make(tmp_path, "r1/top.txt", "r1/sub/top.txt", "r1/README.md", "r1/vendor/lib.py", "r1/app.py")
    make(tmp_path, "r2/top.txt", "r2/docs/guide.md", "r2/src/vendor/x.py", "r2/src/main.py")
    files, errors = scan(tmp_path / "r1", tmp_path / "r2", exclude=("/top.txt", "*.md", "vendor/"))
    assert errors == []
    assert files == [f"{tmp_path}/r1/app.py", f"{tmp_path}/r1/sub/top.txt", f"{tmp_path}/r2/src/main.py"]


def test_exclude_applies_even_without_ignore_files_and_a_negated_exclude_wins(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.log\n")
    make(tmp_path, "keep.log", "other.log", "a.tmp", "b.txt")
    files, _ = scan(tmp_path, exclude=("*.tmp", "!keep.log"), use_ignore_files=False)
    assert files == [".gitignore", "b.txt", "keep.log", "other.log"]
    # Like git's command-line excludes, they are consulted before the ignore files.
    files, _ = scan(tmp_path, exclude=("*.tmp", "!keep.log"))
    assert files == [".gitignore", "b.txt", "keep.log"]


def test_an_invalid_exclude_pattern_raises_before_iteration(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        walk([tmp_path], WalkOptions(exclude=("!",)))


@pytest.mark.parametrize(
    "lines",
    [
        ("*.log", "!keep.log", "build/", "/anchored", "a/**/b", "dir/*", "!dir/keep.txt"),
        ("**/cache/", "!**/cache/ok/", "*.py[cod]", r"\#literal", r"sp\ ace", "[ab]c?", "x(1).txt"),
        ("/*", "!/src/", "src/**/*.min.js", "!src/vendor/"),
    ],
)
def test_pattern_shortcut_agrees_with_pathspec(lines: tuple[str, ...]) -> None:
    """The walker pre-screens paths with one combined regex; it must never change a verdict."""
    ours = _compile(lines)
    reference = GitIgnoreSpec.from_lines(lines)
    assert ours is not None
    paths = [
        "a.log", "keep.log", "sub/keep.log", "build/", "build", "x/build/", "anchored", "sub/anchored",
        "a/b", "a/x/y/b", "dir/x", "dir/keep.txt", "cache/", "x/cache/", "x/cache/ok/", "m.pyc",
        "#literal", "sp ace", "ac1", "bcx", "x(1).txt", "x1.txt", "src/", "other/", "top.txt",
        "src/a/b.min.js", "src/vendor/", "src/vendor/x.min.js", "readme", "",
    ]  # fmt: skip
    for path in paths:
        assert ours.verdict(path) == reference.check_file(path).include, path


# -- .git, single-file roots, missing roots ---------------------------------------------------


def test_git_directories_are_always_skipped(tmp_path: Path) -> None:
    make(tmp_path, ".git/config", ".git/objects/ab/cd", "sub/.git/HEAD", ".github/workflow.yml", "a.txt")
    files, errors = scan(tmp_path, exclude=("!.git/",), use_ignore_files=False)
    assert errors == []
    assert files == [".github/workflow.yml", "a.txt"]


def test_a_single_file_root_is_yielded_even_when_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".gitignore").write_text("*.env\n")
    make(tmp_path, "config/prod.env", content="PASSWORD=hunter2\n")
    assert "config/prod.env" not in scan(tmp_path)[0]  # the directory walk does ignore it
    monkeypatch.chdir(tmp_path)
    items = list(walk(["config/prod.env"], WalkOptions(exclude=("*.env",))))
    assert len(items) == 1
    item = items[0]
    assert isinstance(item, SourceFile)
    assert item.display == "config/prod.env"  # as the user typed it
    assert item.path == (tmp_path / "config" / "prod.env").resolve()
    assert item.size == len("PASSWORD=hunter2\n")


def test_a_single_file_root_is_still_subject_to_the_size_cap(tmp_path: Path) -> None:
    make(tmp_path, "big.txt", content="x" * 11)
    files, errors = scan(tmp_path / "big.txt", max_file_size=10)
    assert files == []
    assert errors == [
        (str(tmp_path / "big.txt"), "larger than the 10 bytes cap; skipped (raise it with --max-file-size)")
    ]


def test_a_missing_root_is_an_error_and_the_walk_goes_on(tmp_path: Path) -> None:
    make(tmp_path, "there/a.txt")
    files, errors = scan(tmp_path / "missing", tmp_path / "there")
    assert errors == [(str(tmp_path / "missing"), "no such file or directory")]
    assert files == [f"{tmp_path}/there/a.txt"]


# -- symlinks ---------------------------------------------------------------------------------


def test_symlinks_leading_outside_the_root_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make(tmp_path, "outside/secret.env", "outside/dir/inner.env", "root/a.txt")
    (root / "abs_file").symlink_to(tmp_path / "outside" / "secret.env")
    (root / "rel_file").symlink_to(Path("..") / "outside" / "secret.env")
    (root / "abs_dir").symlink_to(tmp_path / "outside" / "dir")
    (root / "sneaky").symlink_to(root / ".." / "outside")  # starts inside, resolves outside
    items = list(walk([root]))
    assert [i.display for i in items if isinstance(i, SourceFile)] == ["a.txt"]
    errors = [(i.path, i.reason) for i in items if isinstance(i, ScanError)]
    assert errors == [("abs_dir", OUTSIDE), ("abs_file", OUTSIDE), ("rel_file", OUTSIDE), ("sneaky", OUTSIDE)]
    outside = (tmp_path / "outside").resolve()
    assert not any(isinstance(i, SourceFile) and outside in i.path.parents for i in items)


def test_a_symlinked_root_is_walked_as_its_target(tmp_path: Path) -> None:
    make(tmp_path, "real/a.txt")
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "up").symlink_to(tmp_path / "real")  # inside the (resolved) root: a loop
    files, errors = scan(tmp_path / "alias")
    assert files == ["a.txt"]
    assert errors == [("up", LOOP)]


def test_symlinked_files_inside_the_root_are_followed(tmp_path: Path) -> None:
    make(tmp_path, "envs/prod.env", content="A=1\n")
    (tmp_path / "current.env").symlink_to(Path("envs") / "prod.env")
    items = list(walk([tmp_path]))
    assert [i.display for i in items if isinstance(i, SourceFile)] == ["current.env", "envs/prod.env"]
    link = items[0]
    assert isinstance(link, SourceFile)
    assert link.path == (tmp_path / "envs" / "prod.env").resolve()
    assert link.size == 4


def test_a_symlinked_directory_inside_the_root_is_scanned_once(tmp_path: Path) -> None:
    make(tmp_path, "data/a.env", "data/deep/b.env")
    # "alias" sorts before "data": the real name must still win, and nothing is read twice.
    (tmp_path / "alias").symlink_to("data")
    (tmp_path / "zalias").symlink_to(tmp_path / "data" / "deep")
    files, errors = scan(tmp_path)
    assert errors == []
    assert files == ["data/a.env", "data/deep/b.env"]


def test_a_symlinked_directory_is_followed_when_its_target_is_not_walked_otherwise(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("/vendor/\n*.tmp\n")
    make(tmp_path, "vendor/x.env", "vendor/y.tmp", "vendor/sub/z.env", "app.py")
    (tmp_path / "third_party").symlink_to("vendor")
    (tmp_path / "vendor" / ".gitignore").write_text("sub/\n")
    files, errors = scan(tmp_path)
    assert errors == []
    # Followed once, under the link's name, with the ignore rules of both places applied.
    assert files == [".gitignore", "app.py", "third_party/.gitignore", "third_party/x.env"]


def test_symlink_loops_are_reported_and_the_walk_terminates(tmp_path: Path) -> None:
    make(tmp_path, "a/file.txt", "top.txt")
    (tmp_path / "a" / "up").symlink_to("..")  # a directory symlink pointing at its parent
    (tmp_path / "a" / "self").symlink_to(".")
    (tmp_path / "root_again").symlink_to(tmp_path)
    (tmp_path / "ping").symlink_to("pong")  # a chain the kernel refuses to resolve
    (tmp_path / "pong").symlink_to("ping")
    files, errors = scan(tmp_path)
    assert files == ["a/file.txt", "top.txt"]
    assert errors == [("a/self", LOOP), ("a/up", LOOP), ("ping", LOOP), ("pong", LOOP), ("root_again", LOOP)]


def test_a_loop_through_a_followed_symlink_is_caught(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("/hidden/\n")
    make(tmp_path, "hidden/x.txt")
    (tmp_path / "hidden" / "back").symlink_to("..")
    (tmp_path / "view").symlink_to("hidden")
    files, errors = scan(tmp_path)
    assert files == [".gitignore", "view/x.txt"]
    assert errors == [("view/back", LOOP)]


def test_dangling_symlinks_are_reported(tmp_path: Path) -> None:
    make(tmp_path, "a.txt")
    (tmp_path / "gone").symlink_to(tmp_path / "missing.env")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "gone_too").symlink_to("../a.txt/below")  # a file used as a directory
    files, errors = scan(tmp_path)
    assert files == ["a.txt"]
    assert errors == [("gone", "broken symlink"), ("sub/gone_too", "broken symlink")]


def test_a_dangling_symlink_root_is_reported(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    assert scan(tmp_path / "link") == ([], [(str(tmp_path / "link"), "broken symlink")])


def test_an_ignored_symlink_is_not_even_reported(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("gone\nout/\n")
    make(tmp_path, "outside/x.txt", "root/")
    (tmp_path / "gone").symlink_to("nowhere")
    (tmp_path / "out").symlink_to(Path("/"))
    files, errors = scan(tmp_path, exclude=("/outside/",))
    assert files == [".gitignore"]
    assert errors == []


# -- special files ----------------------------------------------------------------------------


def test_a_fifo_is_reported_and_never_opened(tmp_path: Path) -> None:
    make(tmp_path, "a.txt", "z.txt")
    with watch_fifo(tmp_path / "pipe") as opened:
        files, errors = scan(tmp_path)
        assert not opened.wait(0.2), "the walker opened the FIFO"
    assert files == ["a.txt", "z.txt"]
    assert errors == [("pipe", "not a regular file (FIFO); skipped")]


def test_the_fifo_watch_does_see_an_open(tmp_path: Path) -> None:
    """The proof above is only as good as the watch: a naive open() must trip it."""
    with watch_fifo(tmp_path / "pipe") as opened, open(tmp_path / "pipe", "rb") as fh:
        assert fh.read() == b""  # the writer closed at once: EOF, no hang
        assert opened.wait(5)


def test_a_fifo_named_like_an_ignore_file_is_not_read(tmp_path: Path) -> None:
    make(tmp_path, "sub/a.txt")
    with watch_fifo(tmp_path / "sub" / ".gitignore") as opened:
        files, errors = scan(tmp_path)
        assert not opened.wait(0.2), "the walker opened the FIFO"
    assert files == ["sub/a.txt"]
    assert errors == [("sub/.gitignore", "not a regular file (FIFO); skipped")]


def test_a_fifo_root_and_a_symlink_to_a_fifo_are_never_opened(tmp_path: Path) -> None:
    with watch_fifo(tmp_path / "pipe") as opened:
        (tmp_path / "link").symlink_to("pipe")
        direct = scan(tmp_path / "pipe")
        linked = scan(tmp_path)
        assert not opened.wait(0.2), "the walker opened the FIFO"
    assert direct == ([], [(str(tmp_path / "pipe"), "not a regular file (FIFO); skipped")])
    assert linked == (
        [],
        [("link", "not a regular file (FIFO); skipped"), ("pipe", "not a regular file (FIFO); skipped")],
    )


def test_a_socket_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # bind a short relative name: socket paths are length-limited
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind("sock")
        files, errors = scan(tmp_path)
    assert files == []
    assert errors == [("sock", "not a regular file (socket); skipped")]


def test_a_character_device_is_reported(tmp_path: Path) -> None:
    try:
        os.mknod(tmp_path / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))  # like /dev/null
    except (OSError, AttributeError) as exc:
        pytest.skip(f"cannot create a device node here: {exc}")
    make(tmp_path, "ok.txt")
    files, errors = scan(tmp_path)
    assert files == ["ok.txt"]
    assert errors == [("null", "not a regular file (character device); skipped")]
    # The same for a symlink to a real device (outside the root: reported as such, not opened).
    (tmp_path / "dev_null").symlink_to("/dev/null")
    assert ("dev_null", OUTSIDE) in scan(tmp_path)[1]
    assert scan("/dev/null") == ([], [("/dev/null", "not a regular file (character device); skipped")])


# -- size cap ---------------------------------------------------------------------------------


def test_files_over_the_default_cap_are_reported(tmp_path: Path) -> None:
    cap = 20 * 1024 * 1024
    for name, size in (("at_cap.txt", cap), ("over_cap.txt", cap + 1), ("over_cap.so", cap + 1)):
        with open(tmp_path / name, "wb") as fh:
            fh.write(b"\x7fELF\x00" if name.endswith(".so") else b"x" * 8192)  # text, or a binary header
            fh.truncate(size)  # sparse: cheap to create
    items = list(walk([tmp_path]))
    # A binary file over the cap is not content left unscanned: the loader skips it as binary.
    assert [(i.display, i.size) for i in items if isinstance(i, SourceFile)] == [
        ("at_cap.txt", cap), ("over_cap.so", cap + 1)]
    assert [(i.path, i.reason, i.fatal) for i in items if isinstance(i, ScanError)] == [
        ("over_cap.txt", TOO_LARGE_20MIB, True)
    ]


def test_the_cap_is_configurable(tmp_path: Path) -> None:
    make(tmp_path, "small.txt", content="x" * 1024)
    make(tmp_path, "large.txt", content="x" * 1025)
    files, errors = scan(tmp_path, max_file_size=1024)
    assert files == ["small.txt"]
    assert errors == [("large.txt", "larger than the 1 KiB cap; skipped (raise it with --max-file-size)")]


# -- permissions (needs a process without root's privileges) ----------------------------------


def test_unreadable_directories_and_files_as_an_unprivileged_user(public_dir: Path) -> None:
    make(public_dir, "a.txt", "locked/secret.env", "z/ok.env", "z/unreadable.env", "z/zz.txt")
    for path in public_dir.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (public_dir / "locked").chmod(0o000)
    (public_dir / "z" / "unreadable.env").chmod(0o000)

    def walk_and_load() -> list[list[object]]:
        out: list[list[object]] = []
        for item in walk([public_dir]):
            if isinstance(item, ScanError):
                out.append(["error", item.path, item.reason])
            else:
                doc, errors = load(item, 1024)
                out.append(["file", item.display, doc is not None, [[e.path, e.reason] for e in errors]])
        return out

    as_nobody = run_as_nobody(walk_and_load)
    assert as_nobody == [
        ["file", "a.txt", True, []],
        ["error", "locked", "permission denied"],  # and the walk goes on
        ["file", "z/ok.env", True, []],
        ["file", "z/unreadable.env", False, [["z/unreadable.env", "permission denied"]]],
        ["file", "z/zz.txt", True, []],
    ]
    # Control: root reads everything, so the errors above come from the dropped privileges.
    assert walk_and_load() == [
        ["file", "a.txt", True, []],
        ["file", "locked/secret.env", True, []],
        ["file", "z/ok.env", True, []],
        ["file", "z/unreadable.env", True, []],
        ["file", "z/zz.txt", True, []],
    ]


def test_an_unreadable_root_as_an_unprivileged_user(public_dir: Path) -> None:
    make(public_dir, "root/a.txt", "other/b.txt")
    for path in public_dir.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (public_dir / "root").chmod(0o311)  # can be entered, not listed

    def run() -> object:
        return [
            [type(i).__name__, i.path if isinstance(i, ScanError) else i.display]
            + ([i.reason] if isinstance(i, ScanError) else [])
            for i in walk([public_dir / "root", public_dir / "other"])
        ]

    assert run_as_nobody(run) == [
        ["ScanError", str(public_dir / "root"), "permission denied"],
        ["SourceFile", f"{public_dir}/other/b.txt"],
    ]


def test_ignore_files_above_the_root_apply_inside_a_git_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make(repo, "app/config.yml", "app/build/out.yml", "app/debug.log", "app/sub/keep.log")
    (repo / ".git").mkdir()
    (repo / ".gitignore").write_text("*.log\n!keep.log\napp/build/\n")
    assert scan(repo / "app")[0] == ["config.yml", "sub/keep.log"]


def test_ignore_files_above_the_root_do_not_apply_outside_a_repository(tmp_path: Path) -> None:
    make(tmp_path, "app/config.yml", "app/debug.log")
    (tmp_path / ".gitignore").write_text("*.log\n")
    assert scan(tmp_path / "app")[0] == ["config.yml", "debug.log"]


def test_a_root_that_an_ignore_file_above_it_ignores_is_scanned_when_named(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make(repo, "versions/3.11/site/config.yml", "versions/3.11/site/debug.log")
    (repo / ".git").mkdir()
    (repo / ".gitignore").write_text("/versions/\n*.log\n")
    assert scan(repo / "versions" / "3.11")[0] == ["site/config.yml", "site/debug.log"]
