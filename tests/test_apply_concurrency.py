"""``apply --concurrency``: secrets stored by a pool of threads, each with its own backends, the
secrets of one vault path by one thread in turn; the journal written by the main thread only.
Against the session's real OpenBao dev server."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
import uuid
from pathlib import Path

import pytest
from migration import files_now, run

from migrator.apply.executor import Executor
from migrator.backends.vault import VaultBackend
from migrator.cli import main


@pytest.fixture
def shop(tmp_path: Path, token) -> tuple[Path, dict[str, bytes]]:
    """Twelve secrets of one application in three files (so ``naming: apps/{app}`` puts them
    all in one vault path), and three of another."""
    root = tmp_path / "fleet"
    files = {
        "web01/etc/shop/app.ini": "".join(f"[{s}]\nhost = {s}.internal\npassword = {token(24)}\n"
                                          for s in ("db", "cache", "smtp", "ldap")),
        "web01/srv/shop/.env": "".join(f"{k}={token(28)}\n" for k in ("API_TOKEN", "SESSION_SECRET", "JWT_SECRET",
                                                                          "WEBHOOK_SECRET")),
        "web02/etc/shop/config.yml": "".join(f"{k}:\n  password: {token(20)}\n" for k in ("mq", "mongo", "kafka",
                                                                                            "s3")),
        "web02/etc/billing/config.yml": "".join(f"{k}:\n  password: {token(22)}\n" for k in ("db", "mq", "s3")),
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root, {name: (root / name).read_bytes() for name in files}


def configure(tmp_path: Path, naming: str = "apps/{app}") -> str:
    prefix = f"t-{uuid.uuid4().hex[:10]}"
    (tmp_path / "vaultshift.yml").write_text(f"backends:\n  vault: {{type: vault, prefix: {prefix}}}\n"
                                             f"naming: '{naming}'\n")
    return prefix


def planned_values(tmp_path: Path) -> dict[tuple[str, str], str]:
    """(path, field) -> the value the plan's first span of that secret holds (files as planned)."""
    out = {}
    for secret in json.loads((tmp_path / "plan.json").read_text())["secrets"]:
        first = secret["occurrences"][0]
        data = (Path(first["root"]) / first["path"]).read_bytes()
        out[(secret["ref"]["path"], secret["ref"]["field"])] = data[first["start_byte"]:first["end_byte"]].decode()
    return out


def in_process(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], cwd: Path, *argv: str) -> tuple[int, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(cwd)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(list(argv))
    return status, err.getvalue()


def run_plan(env, tmp_path, root, monkeypatch) -> int:
    status, _ = in_process(monkeypatch, env, tmp_path, "plan", str(root), "-o", "plan.json", "--no-progress")
    return status


def run_cli(monkeypatch, env, tmp_path, *argv) -> int:
    return in_process(monkeypatch, env, tmp_path, *argv)[0]


def planned_refs(tmp_path: Path) -> list[tuple[str, str]]:
    return [(s["ref"]["path"], s["ref"]["field"]) for s in json.loads((tmp_path / "plan.json").read_text())["secrets"]]


def test_secrets_of_one_path_go_to_one_thread_and_none_is_lost(vault_env, tmp_path, shop, bao, monkeypatch):
    root, originals = shop
    prefix = configure(tmp_path)
    assert run_plan(vault_env, tmp_path, root, monkeypatch) == 0
    expected = planned_values(tmp_path)
    assert len({path for path, _ in expected}) == 2 and len(expected) == 15
    calls: list[tuple[str, list[str]]] = []
    original = Executor._store_path

    def recording(self, items, absent, backends):  # type: ignore[no-untyped-def]
        calls.append((threading.current_thread().name, [s.ref.path for s, _ in items]))
        return original(self, items, absent, backends)

    monkeypatch.setattr(Executor, "_store_path", recording)
    status, err = in_process(monkeypatch, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "state",
                             "--agent-check", "never", "--concurrency", "4")
    assert status == 0, err
    assert "15 secrets stored (0 already there), 4 files rewritten" in err
    assert sorted(len(paths) for _, paths in calls) == [3, 12]  # one job per vault path
    assert all(len(set(paths)) == 1 for _, paths in calls)
    assert all(name.startswith("vaultshift-store") for name, _ in calls)
    client = bao.client()
    for path in {path for path, _ in expected}:
        data = client.secrets.kv.v2.read_secret_version(path=f"{prefix}/{path}", mount_point="secret",
                                                        raise_on_deleted_version=True)["data"]
        assert data["data"] == {f: v for (p, f), v in expected.items() if p == path}
        custom = data["metadata"]["custom_metadata"]
        assert {key.partition(":")[0] for key in custom} == set(data["data"])  # each field kept its metadata
    back = run_cli(monkeypatch, vault_env, tmp_path, "rollback", "--state-dir", "state")
    assert back == 0
    assert files_now(root, originals) == originals


def test_one_thread_and_eight_rewrite_the_same_bytes(cli, vault_env, tmp_path, shop):
    _, originals = shop
    results = {}
    for threads in ("1", "8"):
        work = tmp_path / f"c{threads}"
        work.mkdir()
        copy = work / "fleet"
        for name, data in originals.items():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            (copy / name).write_bytes(data)
        configure(work, naming="apps/{app}/{key}")
        assert run(cli, vault_env, work, "plan", str(copy), "-o", "plan.json").returncode == 0
        applied = run(cli, vault_env, work, "apply", "plan.json", "--state-dir", "state", "--agent-check", "never",
                      "--concurrency", threads)
        assert applied.returncode == 0, applied.stderr
        assert "15 secrets stored (0 already there), 4 files rewritten (0 already done), 0 problems" in applied.stderr
        results[threads] = files_now(copy, originals)
    assert results["1"] == results["8"]
    assert all(results["8"][name] != originals[name] for name in originals)


def test_a_backend_that_cannot_be_cloned_is_used_from_one_thread(vault_env, tmp_path, shop, monkeypatch):
    root, _ = shop
    configure(tmp_path, naming="apps/{app}/{key}")
    assert run_plan(vault_env, tmp_path, root, monkeypatch) == 0

    def cannot(self: VaultBackend) -> None:
        raise NotImplementedError("no clones")

    monkeypatch.setattr(VaultBackend, "_disconnect", cannot)
    threads: set[str] = set()
    original = Executor._store_path

    def recording(self, items, absent, backends):  # type: ignore[no-untyped-def]
        threads.add(threading.current_thread().name)
        return original(self, items, absent, backends)

    monkeypatch.setattr(Executor, "_store_path", recording)
    status, err = in_process(monkeypatch, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "state",
                             "--agent-check", "never", "--concurrency", "8")
    assert status == 0, err
    assert threads == {threading.current_thread().name}


def test_a_new_journal_finds_what_an_earlier_run_stored(cli, vault_env, tmp_path, shop, bao):
    """The journal says the paths are new; the vault knows better: nothing is written twice and
    every secret keeps the metadata of its first write."""
    root, originals = shop
    prefix = configure(tmp_path, naming="apps/{app}/{key}")
    assert run(cli, vault_env, tmp_path, "plan", str(root), "-o", "plan.json").returncode == 0
    assert run(cli, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "one", "--agent-check",
               "never").returncode == 0
    client = bao.client()
    paths = sorted({path for path, _ in planned_refs(tmp_path)})

    def metadata() -> dict[str, dict[str, str]]:
        return {p: client.secrets.kv.v2.read_secret_metadata(path=f"{prefix}/{p}", mount_point="secret")["data"]
                for p in paths}

    before = metadata()
    assert run(cli, vault_env, tmp_path, "rollback", "--state-dir", "one").returncode == 0
    assert files_now(root, originals) == originals
    again = run(cli, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "two", "--agent-check", "never")
    assert again.returncode == 0, again.stderr
    assert "0 secrets stored (15 already there), 4 files rewritten" in again.stderr
    after = metadata()
    assert {p: (m["current_version"], m["custom_metadata"]) for p, m in after.items()} == \
        {p: (m["current_version"], m["custom_metadata"]) for p, m in before.items()}


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_concurrency_must_be_a_whole_number_of_at_least_one(cli, vault_env, tmp_path, value):
    result = cli("apply", "plan.json", "--concurrency", value, env=vault_env, cwd=tmp_path)
    assert result.returncode == 2
    assert "--concurrency" in result.stderr and "Traceback" not in result.stderr


# ---- rollback --concurrency ---------------------------------------------------------------------


def test_rollback_reads_each_vault_path_once_before_restoring(vault_env, tmp_path, shop, monkeypatch):
    root, originals = shop
    configure(tmp_path)  # apps/{app}: fifteen secrets in two vault paths, referred to by four files
    assert run_plan(vault_env, tmp_path, root, monkeypatch) == 0
    status, err = in_process(monkeypatch, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "state",
                             "--agent-check", "never")
    assert status == 0, err
    reads: list[str] = []
    original = VaultBackend.read_secret

    def counting(self, path):  # type: ignore[no-untyped-def]
        reads.append(path)
        return original(self, path)

    monkeypatch.setattr(VaultBackend, "read_secret", counting)
    status, err = in_process(monkeypatch, vault_env, tmp_path, "rollback", "--state-dir", "state", "--concurrency", "4")
    assert status == 0, err
    assert "4 files restored (0 already original), 0 problems" in err
    assert sorted(reads) == ["apps/billing", "apps/shop"]
    assert files_now(root, originals) == originals


def test_rollback_says_which_file_needs_a_secret_that_is_gone(cli, vault_env, tmp_path, shop, bao):
    root, originals = shop
    prefix = configure(tmp_path, naming="apps/{app}/{key}")
    assert run(cli, vault_env, tmp_path, "plan", str(root), "-o", "plan.json").returncode == 0
    assert run(cli, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "state", "--agent-check",
               "never").returncode == 0
    gone = next(path for path, _ in planned_refs(tmp_path) if path.startswith("apps/billing/"))
    bao.client().secrets.kv.v2.delete_metadata_and_all_versions(path=f"{prefix}/{gone}", mount_point="secret")
    back = run(cli, vault_env, tmp_path, "rollback", "--state-dir", "state", "--concurrency", "8")
    assert back.returncode == 1
    billing = str(root / "web02/etc/billing/config.yml")
    assert f"vaultshift: {billing}: not rolled back: {gone}#" in back.stderr
    assert "is no longer in vault" in back.stderr
    assert "3 files restored (0 already original), 1 problems" in back.stderr
    now = files_now(root, originals)
    assert all(now[name] == data for name, data in originals.items() if "billing" not in name)
    assert now["web02/etc/billing/config.yml"] != originals["web02/etc/billing/config.yml"]


def test_files_of_one_directory_written_at_once_share_their_companion_directory(vault_env, tmp_path, token,
                                                                              monkeypatch):
    """Every agent-rendered file's companions go to the same <dir>/.vaultshift/, made by
    whichever thread comes first (a slow mkdir lets the others find it missing, then there)."""
    root = tmp_path / "fleet"
    names = [f"web01/etc/shop/conf{n:02d}.ini" for n in range(16)]
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"[db]\nhost = db.internal\npassword = {token(24)}\n")
    originals = files_now(root, names)
    configure(tmp_path, naming="apps/{app}/{file}")
    assert run_plan(vault_env, tmp_path, root, monkeypatch) == 0
    mkdir = Path.mkdir

    def slow_mkdir(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.05)
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", slow_mkdir)
    status, err = in_process(monkeypatch, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "state",
                             "--agent-check", "never", "--concurrency", "8")
    assert status == 0, err
    assert "16 files rewritten" in err
    assert len(list((root / "web01/etc/shop/.vaultshift").iterdir())) == 3 * 16
    monkeypatch.setattr(Path, "mkdir", mkdir)
    assert run_cli(monkeypatch, vault_env, tmp_path, "rollback", "--state-dir", "state") == 0
    assert files_now(root, originals) == originals


def test_agent_renders_run_at_once_and_a_failed_one_keeps_its_file(vault_env, tmp_path, token, monkeypatch):
    from migrator.apply import executor
    from migrator.rewrite.verify import VerifyError

    root = tmp_path / "fleet"
    names = [f"web01/etc/app{n}/app.ini" for n in range(6)]
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"[db]\nhost = db.internal\npassword = {token(24)}\n")
    originals = files_now(root, names)
    configure(tmp_path, naming="apps/{app}/{key}")
    assert run_plan(vault_env, tmp_path, root, monkeypatch) == 0
    threads: set[str] = set()
    real = executor.verify_render

    def render(original: bytes, template: bytes, **kwargs):  # type: ignore[no-untyped-def]
        threads.add(threading.current_thread().name)
        if original == originals[names[2]]:
            raise VerifyError("the agent's rendering differs from the original (3 vs 4 lines)")
        real(original, template, **kwargs)  # a real bao agent

    monkeypatch.setattr(executor, "verify_render", render)
    status, err = in_process(monkeypatch, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "state",
                             "--agent-check", "always", "--concurrency", "4")
    assert status == 1
    failed = str(root / names[2])
    assert (f"vaultshift: {failed}: not rewritten: verification failed: the agent's rendering differs from the "
            "original (3 vs 4 lines)") in err
    assert "5 files rewritten (0 already done), 1 problems" in err
    now = files_now(root, names)
    assert now[names[2]] == originals[names[2]]
    assert all(now[name] != originals[name] for name in names if name != names[2])
    assert len(threads) > 1 and all(name.startswith("vaultshift-render") for name in threads)
    assert not (root / "web01/etc/app2/.vaultshift").exists()  # nothing generated for it either


# ---- the rewrite in a child process -------------------------------------------------------------


def test_files_rewritten_by_a_child_process_are_those_rewritten_here(vault_env, tmp_path, shop, monkeypatch):
    """With many files the rewrite runs in a forked child while the secrets are stored; the
    bytes are those the same run gives in-process; a child that sends nothing leaves the work
    to the parent."""
    from migrator.apply import executor as executor_module

    _, originals = shop
    forks: list[int] = []
    original_child = Executor._rewrite_child

    def counting(self, originals, sender):  # type: ignore[no-untyped-def]
        forks.append(1)  # in the child: seen through the pipe only, by the result
        return original_child(self, originals, sender)

    def silent(self, originals, sender):  # type: ignore[no-untyped-def]
        sender.close()

    results = {}
    collect_from = Executor._rewrite_elsewhere
    for way, child, minimum in (("here", counting, 10**9), ("child", counting, 1), ("silent", silent, 1)):
        monkeypatch.setattr(executor_module, "FORK_MIN_FILES", minimum)
        monkeypatch.setattr(Executor, "_rewrite_child", child)
        received: list[bool] = []

        def watched(self, files, received=received):  # type: ignore[no-untyped-def]
            collect = collect_from(self, files)
            if collect is None:
                return None

            def collected():  # type: ignore[no-untyped-def]
                done = collect()
                received.append(done is not None)
                return done

            return collected

        monkeypatch.setattr(Executor, "_rewrite_elsewhere", watched)
        work = tmp_path / way
        copy = work / "fleet"
        for name, data in originals.items():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            (copy / name).write_bytes(data)
        configure(work, naming="apps/{app}/{key}")
        assert run_plan(vault_env, work, copy, monkeypatch) == 0
        status, err = in_process(monkeypatch, vault_env, work, "apply", "plan.json", "--state-dir", "state",
                                 "--agent-check", "never", "--concurrency", "4")
        assert status == 0, err
        assert "15 secrets stored (0 already there), 4 files rewritten (0 already done), 0 problems" in err
        results[way] = (files_now(copy, originals), received)
    assert forks == []  # the parent never ran the child's function itself
    assert results["here"][1] == [] and results["child"][1] == [True] and results["silent"][1] == [False]
    assert results["here"][0] == results["child"][0] == results["silent"][0]
    assert all(results["child"][0][name] != originals[name] for name in originals)
