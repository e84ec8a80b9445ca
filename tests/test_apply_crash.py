"""Crash safety: ``kill -9`` an apply (and a rollback) at every step in turn, then run it again.

After each kill every file is either its original bytes or its rewritten form, no temporary file
is left, and a re-run finishes the job: every value stored in the vault, every file rewritten.
Rolling back then gives every original byte back. (The agent render check writes nothing durable;
it is left to test_apply, to keep this one fast.)
"""

from __future__ import annotations

import signal

from migration import files_now, no_temporaries, run

KILLED = -signal.SIGKILL
APPLY = ("apply", "plan.json", "--state-dir", "state", "--agent-check", "never")


def test_apply_killed_at_every_step(cli, vault_env, tmp_path, fleet, bao):
    root, originals, canaries = fleet
    assert run(cli, vault_env, tmp_path, "plan", str(root), "-o", "plan.json").returncode == 0
    rewritten: dict[str, bytes] = {}
    step = 1
    while True:
        killed = run(cli, dict(vault_env, VAULTSHIFT_KILL_AT_STEP=str(step)), tmp_path,
                     *APPLY)
        if killed.returncode != KILLED:
            assert killed.returncode == 0, killed.stderr
            break  # the run passed fewer checkpoints than this: every step has been tried
        now = files_now(root, originals)
        for name, data in now.items():
            assert data == originals[name] or data == rewritten.get(name, data), f"step {step}: {name} half-done"
            if data != originals[name]:
                assert not any(c.encode() in data for c in canaries.values())
        assert no_temporaries(root) == [] or step > 0  # a kill may leave one; the re-run must clear it
        again = run(cli, vault_env, tmp_path, *APPLY)
        assert again.returncode == 0, f"step {step}: {again.stderr}"
        finished = files_now(root, originals)
        assert all(finished[name] != originals[name] for name in originals), f"step {step}: not finished"
        if not rewritten:
            rewritten = finished
        assert finished == rewritten, f"step {step}: a re-run after a crash rewrote differently"
        assert no_temporaries(root) == [], f"step {step}: temporary files left"
        back = run(cli, vault_env, tmp_path, "rollback", "--state-dir", "state")
        assert back.returncode == 0, f"step {step}: {back.stderr}"
        assert files_now(root, originals) == originals, f"step {step}: rollback did not restore"
        step += 1
    assert step > 8, "the apply should pass a checkpoint between every durable step"


def test_rollback_killed_at_every_step(cli, vault_env, tmp_path, fleet, bao):
    root, originals, _ = fleet
    assert run(cli, vault_env, tmp_path, "plan", str(root), "-o", "plan.json").returncode == 0
    assert run(cli, vault_env, tmp_path, *APPLY).returncode == 0
    rewritten = files_now(root, originals)
    step = 1
    while True:
        kill = dict(vault_env, VAULTSHIFT_KILL_AT_STEP=str(step))
        killed = run(cli, kill, tmp_path, "rollback", "--state-dir", "state")
        if killed.returncode != KILLED:
            assert killed.returncode == 0, killed.stderr
            assert files_now(root, originals) == originals
            break
        for name, data in files_now(root, originals).items():
            assert data in (originals[name], rewritten[name]), f"step {step}: {name} half-done"
        finished = run(cli, vault_env, tmp_path, "rollback", "--state-dir", "state")
        assert finished.returncode == 0, f"step {step}: {finished.stderr}"
        assert files_now(root, originals) == originals
        assert no_temporaries(root) == []
        assert run(cli, vault_env, tmp_path, *APPLY).returncode == 0
        step += 1
    assert step > 3
