"""Parsing git's raw diff records and judging which lines a change adds."""

from __future__ import annotations

from migrator.git.changes import added_lines, parse_raw

A, B, C, Z = "a" * 40, "b" * 40, "c" * 40, "0" * 40


def test_records_of_several_commits_with_renames_and_odd_paths():
    raw = (f"{C}\0:000000 100644 {Z} {A} A\0new.yml\0"
           f":100644 100644 {A} {B} R087\0old name.env\0dir/caf\xc3\xa9.env\0"
           f"{B}\0:100644 000000 {A} {Z} D\0gone.ini\0").encode("latin-1")
    records = list(parse_raw(raw))
    assert [(commit, c.path, c.old_oids, c.new_oid, c.status) for commit, c in records] == [
        (C, "new.yml", (), A, "A"),
        (C, "dir/café.env", (A,), B, "R087"),
        (B, "gone.ini", (A,), Z, "D"),
    ]
    assert records[2][1].deleted and not records[0][1].deleted


def test_combined_record_of_a_merge_has_one_old_blob_per_parent():
    raw = f"{C}\0::100644 000000 100644 {A} {Z} {B} MA\0g.yml\0".encode()
    [(commit, change)] = list(parse_raw(raw))
    assert (commit, change.old_oids, change.new_oid, change.status) == (C, (A,), B, "MA")


def test_path_that_is_not_utf8_is_shown_with_escapes():
    [(_, change)] = list(parse_raw(f":000000 100644 {Z} {A} A\0".encode() + b"conf/\xff.env\0"))
    assert change.path == "conf/\\xff.env"
    assert change.raw_path == b"conf/\xff.env"


def test_submodule_and_symlink_are_recognised():
    raw = f":000000 160000 {Z} {A} A\0vendor/lib\0:000000 120000 {Z} {B} A\0link\0".encode()
    changes = [c for _, c in parse_raw(raw)]
    assert [(c.submodule, c.symlink) for c in changes] == [(True, False), (False, True)]


def test_added_lines_are_judged_by_content_not_position():
    old = "a: 1\nb: 2\nc: 3\n"
    assert added_lines("c: 3\na: 1\nb: 2\n", [old]) == frozenset()  # reordered: nothing new
    assert added_lines("a: 1\nx: 9\nb: 2\nc: 3\n", [old]) == frozenset({2})
    assert added_lines("a: 1\n", []) == frozenset({1})  # a new file: every line


def test_a_merge_adds_only_lines_new_to_every_parent():
    assert added_lines("a\nb\nc\n", ["a\nb\n", "a\nc\n"]) == frozenset()
    assert added_lines("a\nb\nc\nevil\n", ["a\nb\n", "a\nc\n"]) == frozenset({4})
