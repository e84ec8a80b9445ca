"""The journal: a private SQLite file that records runs, secrets and rewritten files, never values."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from migrator.state.journal import Journal, JournalError


def test_created_private_and_records_a_run(tmp_path):
    state = tmp_path / "state"
    with Journal(state) as journal:
        run = journal.start_run("apply", "digest-1")
        journal.record_secret(run, "hmac-sha256:" + "1" * 32, "vault", "apps/web/db", "password", "stored", 1)
        journal.record_file(run, "web/app.yml", "orig", "new", [(10, 60, "hmac-sha256:" + "1" * 32, "vault",
                                                                 "apps/web/db", "password")], [], "rewritten")
        journal.finish_run(run, "done")
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "journal.sqlite").stat().st_mode) == 0o600
    with Journal(state) as journal:
        [record] = journal.runs()
        assert (record.id, record.kind, record.status) == (run, "apply", "done")
        assert journal.stored_secret("hmac-sha256:" + "1" * 32, "vault", "apps/web/db", "password")
        assert not journal.stored_secret("hmac-sha256:" + "1" * 32, "aws", "apps/web/db", "password")
        [file] = journal.files(run)
        assert file.edits[0][:2] == [10, 60] and file.state == "rewritten"
        assert journal.file_by_digest("web/app.yml", "new") == file
        assert [what for _, what, _ in journal.events(run)] == [
            "run started", "secret stored", "file rewritten", "run finished"]


def test_a_run_that_never_finished_is_marked_interrupted(tmp_path):
    with Journal(tmp_path) as journal:
        first = journal.start_run("apply", "d")
    with Journal(tmp_path) as journal:  # the process was killed: the next run notices
        journal.start_run("apply", "d")
        statuses = {r.id: r.status for r in journal.runs()}
    assert statuses[first] == "interrupted"


def test_not_a_journal_is_a_one_line_error(tmp_path):
    (tmp_path / "journal.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match="not a vaultshift journal"):
        Journal(tmp_path)


def test_a_newer_schema_is_refused(tmp_path):
    Journal(tmp_path).close()
    db = sqlite3.connect(tmp_path / "journal.sqlite")
    db.execute("UPDATE meta SET value='99' WHERE key='schema'")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="schema 99 is not supported"):
        Journal(tmp_path)


def test_one_run_at_a_time(tmp_path):
    with Journal(tmp_path), pytest.raises(JournalError, match="another vaultshift run"):
        Journal(tmp_path)
    Journal(tmp_path).close()  # released on close


def test_a_forked_child_lets_go_of_the_run_lock(tmp_path: Path) -> None:
    """apply's rewrite child may outlive a killed parent for a moment: its copy of the run lock
    must not keep the next run out."""
    journal = Journal(tmp_path / "state")
    go_on, told = os.pipe()
    ready, said = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        journal.let_go_in_child()
        os.write(said, b"x")
        os.read(go_on, 1)
        os._exit(0)
    try:
        assert os.read(ready, 1) == b"x"
        with pytest.raises(JournalError, match="another vaultshift run"):
            Journal(tmp_path / "state")
        journal.close()
        Journal(tmp_path / "state").close()  # the child is still alive; the lock went with the parent's run
    finally:
        os.write(told, b"x")
        os.waitpid(pid, 0)
