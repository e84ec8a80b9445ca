"""Batched journal commits (``Journal.transaction``) and the paths a journal knows of."""

from __future__ import annotations

import os
import signal
import sqlite3

import pytest

from migrator.state.journal import Journal

FP = "hmac-sha256:" + "1" * 32


def committed_secrets(state) -> int:
    """What another connection sees: only committed records."""
    connection = sqlite3.connect(state / "journal.sqlite")
    try:
        return connection.execute("SELECT COUNT(*) FROM secrets").fetchone()[0]
    finally:
        connection.close()


def test_records_in_a_transaction_are_committed_together_when_it_ends(tmp_path):
    state = tmp_path / "state"
    with Journal(state) as journal:
        run = journal.start_run("apply", "digest")
        with journal.transaction():
            journal.record_secret(run, FP, "vault", "apps/a", "password", "stored")
            with journal.transaction():  # nested: the outer one commits
                journal.record_secret(run, FP.replace("1", "2"), "vault", "apps/b", "password", "stored")
            assert committed_secrets(state) == 0
        assert committed_secrets(state) == 2
        journal.record_secret(run, FP.replace("1", "3"), "vault", "apps/c", "password", "stored")
        assert committed_secrets(state) == 3  # outside a transaction, each record commits at once


def test_what_was_recorded_is_committed_even_when_the_caller_fails(tmp_path):
    state = tmp_path / "state"
    with Journal(state) as journal:
        run = journal.start_run("apply", "digest")
        with pytest.raises(RuntimeError), journal.transaction():
            journal.record_secret(run, FP, "vault", "apps/a", "password", "stored")
            raise RuntimeError("after the secret was stored")
        assert committed_secrets(state) == 1


def test_a_process_killed_inside_a_transaction_leaves_none_of_it(tmp_path):
    state = tmp_path / "state"
    with Journal(state) as journal:
        run = journal.start_run("apply", "digest")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child is killed
        journal = Journal(state)
        with journal.transaction():
            journal.record_secret(run, FP, "vault", "apps/a", "password", "stored")
            os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    assert committed_secrets(state) == 0
    with Journal(state) as journal:  # and the journal is fine
        assert journal.runs()[0].id == run


def test_known_paths_are_every_path_any_run_recorded_a_secret_at(tmp_path):
    with Journal(tmp_path / "state") as journal:
        first = journal.start_run("apply", "digest")
        journal.record_secret(first, FP, "vault", "apps/a", "password", "stored")
        journal.record_secret(first, FP.replace("1", "2"), "vault", "apps/b", "token", "failed", error="down")
        second = journal.start_run("apply", "digest")
        journal.record_secret(second, FP.replace("1", "3"), "aws", "apps/a", "password", "referenced")
        assert journal.known_paths() == {("vault", "apps/a"), ("vault", "apps/b"), ("aws", "apps/a")}
