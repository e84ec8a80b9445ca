"""Benchmark vaultshift's git guard: pre-receive latency against detect-secrets-hook, and history scans.

    python bench/guard.py [--repeat N] [--only a,b,c] [--no-peers] [--results DIR] [--fail-on-targets]

Run it with the project venv's python (vaultshift is taken from beside sys.executable). It builds
real git repositories of synthetic config files in a temporary folder (bench/fakerepo.py, with
`git fast-import`), a bare server repository, and pushes to it with a real `git push`:

  (a) a typical push: 10 commits touching 30 config files, a few with fake secrets (one of them
      added by commit 3 and removed by commit 7);
  (b) a push of 1,000 commits;
  (c) a history scan (`vaultshift scan --git`) of a repository with 5,000 commits, in blobs per
      second, and trufflehog3 (which scans git history by default) on the same repository.

The server's hooks/pre-receive is a small wrapper that runs `vaultshift guard pre-receive` and
records that command's own wall time (time.perf_counter_ns around fork/exec/wait4), CPU time and
peak memory; the push is timed as a whole too, with and without the hook. detect-secrets-hook,
which takes file names, runs twice over: once on the changed files as checked out at the pushed tip
(tip only: less coverage, it cannot see a secret added and removed again within the push), and once
per pushed commit on the files that commit adds or modifies, checked out at that commit (equal
coverage; in (b) on an evenly spread sample of the commits, scaled up). Push (a) holds one fake
secret that commit 3 adds and commit 7 removes; the report says which row caught it. Figures go to
stdout and bench/results/guard.json. This is a benchmark, not a test: missed targets print FAIL
and change the exit status only with --fail-on-targets. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fakerepo
from corpus import _compile_package, _fmt, _vaultshift_version, default_score_python, reset_own_peak_rss
from peers import PEERS_DIR, ensure_peers, installed_versions

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_RESULTS = BENCH_DIR / "results"
PARTS = ("a", "b", "c")

# Targets for vaultshift, part (a), on medians.
TARGET_HOOK_S = 0.5
TARGET_SPEEDUP_DETECT_SECRETS = 10.0
DEFAULT_TIME_BUDGET_S = 5.0  # vaultshift guard pre-receive's default --time-budget
LARGE_TIME_BUDGET_S = 600.0  # passed in (b) so that the whole push is measured

# Sizes (defaults; the large ones can be changed on the command line for a quick dry run).
BASE_FILES = 300  # files in the initial commit of the pushed-to repository
BASE_COMMITS = 50  # commits in that repository before any push (initial one included)
TYPICAL_COMMITS = 10
TYPICAL_FILES = 30  # distinct files the typical push touches
TYPICAL_NEW_FILES = 8  # of which new
TYPICAL_SECRETS = 5  # fake secrets planted in the typical push and still there at its tip
# One more fake secret in the typical push: added by commit 3 and removed again by commit 7 (0-based
# indices), so it is in the pushed history but not at the tip.
TYPICAL_TRANSIENT = (2, 6)
# (b): detect-secrets-hook per commit runs on this many of the pushed commits, evenly spread, and its
# sums are scaled to the whole push (all 1,000 take ~3 minutes per repetition).
LARGE_PER_COMMIT_SAMPLE = 100
LARGE_COMMITS = 1000
HISTORY_COMMITS = 5000
ZERO = "0" * 40

# The git environment of every command: no user or system configuration (a global
# core.hooksPath would silently bypass the hook), fixed identity, C locale.
GIT_ENV_OVERRIDES = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Bench Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.invalid",
    "GIT_COMMITTER_NAME": "Bench Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.invalid",
    "LC_ALL": "C",
}

LAUNCHER = '''#!{python} -IS
# Written by bench/guard.py. Runs a command with this process' stdin, stdout, stderr, cwd and
# environment (as a pre-receive hook: the "old new ref" lines and git's quarantine variables),
# exits with its exit status, and appends one line to the record file:
#   wall_ns exit_code user_s system_s maxrss_kib
# wall: time.perf_counter_ns around fork, exec and os.wait4 of exactly that command.
import os
import sys
import time

ARGV = {argv!r}
RECORD = {record!r}
if ARGV is None:  # the generic launcher: python -IS launcher.py RECORD COMMAND [ARG ...]
    RECORD, ARGV = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter_ns()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(ARGV[0], ARGV)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter_ns() - t0
code = os.waitstatus_to_exitcode(status)
with open(RECORD, "a") as fh:
    fh.write(f"{{wall}} {{code}} {{usage.ru_utime:.4f}} {{usage.ru_stime:.4f}} {{usage.ru_maxrss}}\\n")
raise SystemExit(code if 0 <= code <= 255 else 1)
'''


# --------------------------------------------------------------------------- measuring


@dataclass
class Proc:
    wall_s: float
    exit_code: int
    cpu_s: float  # user + system of the child and the descendants it reaped
    peak_kib: int  # ru_maxrss: largest single process among them
    timed_out: bool


def measure(argv: Sequence[str], cwd: Path, env: Mapping[str, str], stdout: Path | None, stderr: Path,
            timeout: float) -> Proc:
    """Run argv and measure exactly that child (os.wait4); kill its process group after timeout."""
    reset_own_peak_rss()
    fired = threading.Event()
    with open(stdout or os.devnull, "wb") as out, open(stderr, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, start_new_session=True)

        def kill() -> None:
            fired.set()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.daemon = True
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            kill()
            proc.wait()
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting
    return Proc(wall, proc.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, fired.is_set())


@dataclass
class Record:
    """One line of a launcher's record file: the measured command itself."""

    wall_s: float
    exit_code: int
    cpu_s: float
    peak_mb: float

    @classmethod
    def read(cls, path: Path) -> Record | None:
        try:
            fields = path.read_text().split()
        except OSError:
            return None
        if len(fields) != 5:
            return None
        wall_ns, code, utime, stime, rss = int(fields[0]), int(fields[1]), *map(float, fields[2:5])
        return cls(wall_ns / 1e9, code, round(utime + stime, 3), round(rss / 1024, 1))


@dataclass
class Run:
    wall_s: float
    exit_code: int
    outcome: str  # accepted / rejected / clean / findings / baseline updated / timed out / error
    cpu_s: float | None = None
    peak_mb: float | None = None
    push_s: float | None = None  # hook rows: wall time of the whole `git push` around it


@dataclass
class Row:
    key: str  # stable id in guard.json, e.g. "a.hook"
    label: str
    command: list[str]
    note: str = ""
    runs: list[Run] = field(default_factory=list)
    error: str | None = None

    def walls(self) -> list[float]:
        return [r.wall_s for r in self.runs]

    @property
    def best_s(self) -> float | None:
        return min(self.walls()) if self.runs else None

    @property
    def median_s(self) -> float | None:
        return statistics.median(self.walls()) if self.runs else None

    def median_of(self, attr: str) -> float | None:
        values = [getattr(r, attr) for r in self.runs if getattr(r, attr) is not None]
        return statistics.median(values) if values else None

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(best_s=_round(self.best_s), median_s=_round(self.median_s),
                   median_cpu_s=_round(self.median_of("cpu_s")), max_peak_mb=self.max_peak_mb,
                   median_push_s=_round(self.median_of("push_s")),
                   outcomes=sorted({r.outcome for r in self.runs}))
        return out

    @property
    def max_peak_mb(self) -> float | None:
        peaks = [r.peak_mb for r in self.runs if r.peak_mb is not None]
        return max(peaks) if peaks else None


def _round(v: float | None, nd: int = 4) -> float | None:
    return None if v is None else round(v, nd)


def _tail(path: Path, n: int = 3) -> list[str]:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [ln.rstrip() for ln in lines if ln.strip()][-n:]


# --------------------------------------------------------------------------- git


class Git:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)

    def __call__(self, *args: str, cwd: Path | None = None, stdin: bytes | None = None) -> str:
        proc = subprocess.run(["git", *args], cwd=cwd, env=self.env, input=stdin, capture_output=True,
                              check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} exited {proc.returncode}: "
                               f"{proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout.decode(errors="replace")

    def object_stats(self, repo: Path, revs: Sequence[str] | None) -> dict[str, int]:
        """Counts and sizes by object type: of the objects `rev-list --objects REVS` lists, or of
        every object in the repository (revs None)."""
        if revs is None:
            listing = self("cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectsize)", cwd=repo)
        else:
            names = self("rev-list", "--objects", *revs, cwd=repo)
            ids = "".join(line.split(" ", 1)[0] + "\n" for line in names.splitlines() if line)
            listing = self("cat-file", "--batch-check=%(objecttype) %(objectsize)", cwd=repo, stdin=ids.encode())
        out: dict[str, int] = {}
        for line in listing.splitlines():
            kind, size = line.split()
            out[kind + "s"] = out.get(kind + "s", 0) + 1
            out[kind + "_bytes"] = out.get(kind + "_bytes", 0) + int(size)
        return out


def check_out(git: Git, repo: Path, rev: str, dest: Path) -> None:
    """A work tree of repo at rev (detached): the pushed files as the developer has them.

    A real work tree, not an export: detect-secrets-hook with --baseline runs `git diff` to check
    that its baseline is not unstaged, and fails outside a git work tree.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    git("worktree", "add", "-q", "--detach", str(dest), rev, cwd=repo)


def pushed_commits(git: Git, repo: Path, tip: str, base: str) -> list[CommitJob]:
    """The commits of tip --not base, oldest first, each with the files it adds or modifies
    (`git diff-tree --no-renames --diff-filter=AM` against its parent: every file whose content at
    that commit is new)."""
    shas = git("rev-list", "--reverse", tip, "--not", base, cwd=repo).split()
    files: dict[str, list[str]] = {sha: [] for sha in shas}
    listing = git("diff-tree", "--stdin", "-r", "--name-only", "-z", "--no-renames", "--diff-filter=AM",
                  cwd=repo, stdin="".join(sha + "\n" for sha in shas).encode())
    current: list[str] | None = None
    for token in listing.split("\0"):
        if token in files:
            current = files[token]
        elif token and current is not None:
            current.append(token)
    return [CommitJob(i, sha, files[sha]) for i, sha in enumerate(shas)]


# --------------------------------------------------------------------------- workspace


@dataclass
class CommitJob:
    """One pushed commit, for detect-secrets-hook per commit."""

    index: int  # 0-based position in the push, oldest first
    sha: str
    files: list[str]  # what it adds or modifies
    work_dir: Path | None = None  # a work tree of the client at this commit (made when needed)


@dataclass
class Transient:
    """The fake secret that one pushed commit adds and a later one removes."""

    secret: fakerepo.TransientSecret
    added_sha: str
    removed_sha: str

    def describe(self, commits: int) -> str:
        s = self.secret
        return (f"{s.path}:{s.line} ({s.slot}), added by commit {s.added + 1}/{commits} ({self.added_sha[:12]}), "
                f"removed by commit {s.removed + 1}/{commits} ({self.removed_sha[:12]})")


@dataclass
class Push:
    """One pushed change: a client branch pushed to a ref of the server."""

    key: str
    src: str  # client ref
    dst: str  # server ref
    old: str  # server ref's value before the push (ZERO: new branch)
    tip: str
    commits: int
    planted: int  # fake secrets planted in the pushed commits
    objects: dict[str, int]  # what the push sends (rev-list --objects tip --not main)
    changed: list[str]  # files added/modified/renamed between old and tip (detect-secrets' input)
    new_files: int
    tip_dir: Path  # a work tree of the client at the tip
    all_commits: list[CommitJob] = field(default_factory=list)  # every pushed commit, oldest first
    per_commit: list[CommitJob] = field(default_factory=list)  # those detect-secrets-hook runs on one by one
    transient: Transient | None = None
    vs_baseline: Path | None = None
    vs_baseline_entries: int | None = None
    ds_baseline: Path | None = None
    ds_baseline_entries: int | None = None


@dataclass
class Workspace:
    root: Path
    env: dict[str, str]
    client: Path  # non-bare repository holding main (the base) and the branches to push
    server_template: Path  # bare repository at the base; copied for every push
    history: Path  # the repository of part (c)
    base_commits: int
    base_files: int
    base_planted: int
    pushes: dict[str, Push]
    history_facts: dict[str, int]
    build_s: float


def build_workspace(root: Path, env: dict[str, str], seed: int, parts: set[str], large_commits: int,
                    history_commits: int) -> Workspace:
    t0 = time.perf_counter()
    git = Git(env)
    client = root / "client"
    git("init", "-q", "-b", "main", str(client))
    tree = fakerepo.Tree(random.Random(f"{seed}:base"))
    fi = fakerepo.FastImport(client, env)
    fi.branch(fakerepo.Branch("refs/heads/main", None, fakerepo.initial_commit(tree, BASE_FILES)))
    base_planted = fi.branch(fakerepo.Branch(
        "refs/heads/main", None, fakerepo.history(tree, BASE_COMMITS - 1, new_rate=0.02, plant_rate=0.1)))
    base_files = len(tree.files)
    planted = {}
    transients: list[fakerepo.TransientSecret] = []
    if "a" in parts:
        typical = tree.fork(f"{seed}:typical")
        planted["typical"] = fi.branch(fakerepo.Branch("refs/heads/typical", "refs/heads/main", fakerepo.typical_push(
            typical, TYPICAL_COMMITS, TYPICAL_FILES, TYPICAL_NEW_FILES, TYPICAL_SECRETS,
            transient=TYPICAL_TRANSIENT, log=transients)))
    if "b" in parts:
        large = tree.fork(f"{seed}:large")
        planted["large"] = fi.branch(fakerepo.Branch("refs/heads/large", "refs/heads/main", fakerepo.history(
            large, large_commits, new_rate=0.05, plant_rate=0.03)))
    fi.close()

    server = root / "server-template.git"
    git("init", "-q", "--bare", "-b", "main", str(server))
    for sample in (server / "hooks").glob("*.sample"):
        sample.unlink()
    git("push", "-q", str(server), "refs/heads/main:refs/heads/main", cwd=client)
    base_tip = git("rev-parse", "refs/heads/main", cwd=client).strip()

    pushes: dict[str, Push] = {}
    specs = []
    if "a" in parts:
        specs += [("typical", "refs/heads/typical", "refs/heads/main", base_tip),
                  ("typical-new-branch", "refs/heads/typical", "refs/heads/feature/config", ZERO)]
    if "b" in parts:
        specs += [("large", "refs/heads/large", "refs/heads/main", base_tip)]
    for key, src, dst, old in specs:
        branch = src.rsplit("/", 1)[-1]
        tip = git("rev-parse", src, cwd=client).strip()
        changed = [p for p in git("diff", "--name-only", "-z", "--diff-filter=AMR", base_tip, tip,
                                  cwd=client).split("\0") if p]
        new_files = len([p for p in git("diff", "--name-only", "-z", "--diff-filter=A", base_tip, tip,
                                        cwd=client).split("\0") if p])
        tip_dir = root / "tips" / branch
        if not tip_dir.exists():
            check_out(git, client, tip, tip_dir)
        commits = pushed_commits(git, client, tip, base_tip)
        transient = None
        if branch == "typical" and transients:
            t = transients[0]
            transient = Transient(t, commits[t.added].sha, commits[t.removed].sha)
        pushes[key] = Push(
            key=key, src=src, dst=dst, old=old, tip=tip,
            commits=int(git("rev-list", "--count", tip, "--not", base_tip, cwd=client)),
            planted=planted[branch], objects=git.object_stats(client, [tip, "--not", base_tip]),
            changed=changed, new_files=new_files, tip_dir=tip_dir, all_commits=commits, transient=transient,
        )

    history = root / "history"
    facts: dict[str, int] = {}
    if "c" in parts:
        git("init", "-q", "-b", "main", str(history))
        htree = fakerepo.Tree(random.Random(f"{seed}:history"))
        fi = fakerepo.FastImport(history, env)
        fi.branch(fakerepo.Branch("refs/heads/main", None, fakerepo.initial_commit(htree, BASE_FILES)))
        facts["planted"] = fi.branch(fakerepo.Branch("refs/heads/main", None, fakerepo.history(
            htree, history_commits - 1, new_rate=0.05, plant_rate=0.01, remove_rate=0.004)))
        fi.close()
        git("checkout", "-q", "main", cwd=history)
        facts["commits"] = int(git("rev-list", "--count", "main", cwd=history))
        facts["files_at_tip"] = len(htree.files)
        facts.update(git.object_stats(history, None))
    return Workspace(root, env, client, server, history, BASE_COMMITS, base_files, base_planted, pushes, facts,
                     time.perf_counter() - t0)


def make_baselines(ws: Workspace, vaultshift: Path, ds_bin: Path | None) -> None:
    """Baselines of the fake secrets at each pushed tip, so that the timed pushes are accepted.

    vaultshift: `vaultshift baseline create .` in a work tree at the tip (every finding there).
    detect-secrets: `detect-secrets scan FILE...` of the changed files, in the same folder.
    """
    done: dict[Path, Push] = {}
    for push in ws.pushes.values():
        if push.tip_dir in done:  # the same tip pushed to another ref
            same = done[push.tip_dir]
            push.vs_baseline, push.vs_baseline_entries = same.vs_baseline, same.vs_baseline_entries
            push.ds_baseline, push.ds_baseline_entries = same.ds_baseline, same.ds_baseline_entries
            continue
        done[push.tip_dir] = push
        name = push.tip_dir.name
        out = ws.root / "baselines" / f"vaultshift-{name}.json"
        out.parent.mkdir(exist_ok=True)
        proc = subprocess.run([str(vaultshift), "baseline", "create", ".", "-o", str(out), "--no-progress"],
                              cwd=push.tip_dir, env=ws.env, capture_output=True, text=True, check=False)
        if proc.returncode == 0 and out.exists():
            push.vs_baseline = out
            push.vs_baseline_entries = _count_entries(out)
        else:
            print(f"bench: vaultshift baseline create failed ({proc.returncode}): "
                  f"{(proc.stderr.strip().splitlines() or ['no message'])[-1]}", file=sys.stderr)
        if ds_bin is not None:
            ds_out = ws.root / "baselines" / f"detect-secrets-{name}.json"
            with open(ds_out, "wb") as fh:
                proc2 = subprocess.run([str(ds_bin / "detect-secrets"), "scan", *push.changed], cwd=push.tip_dir,
                                       env=ws.env, stdout=fh, stderr=subprocess.PIPE, check=False)
            if proc2.returncode == 0:
                push.ds_baseline = ds_out
                results = json.loads(ds_out.read_text()).get("results", {})
                push.ds_baseline_entries = sum(len(v) for v in results.values())
            else:
                print(f"bench: detect-secrets scan failed ({proc2.returncode})", file=sys.stderr)


def prepare_per_commit(ws: Workspace, large_sample: int) -> None:
    """Untimed: a work tree of the client at each commit detect-secrets-hook runs on one by one.

    (a): every pushed commit; (b): `large_sample` of them, evenly spread (0 or more than there
    are: every one). A commit that adds or modifies no file is left out (nothing to run on).
    """
    git = Git(ws.env)
    done: dict[str, list[CommitJob]] = {}
    for push in ws.pushes.values():
        if push.tip in done:  # the same commits pushed to another ref
            push.per_commit = done[push.tip]
            continue
        jobs = push.all_commits
        if push.key == "large" and 0 < large_sample < len(jobs):
            step = len(jobs) / large_sample
            jobs = [jobs[int((k + 0.5) * step)] for k in range(large_sample)]
        jobs = [job for job in jobs if job.files]
        for job in jobs:
            job.work_dir = ws.root / "commits" / push.tip_dir.name / f"{job.index + 1:04d}"
            check_out(git, ws.client, job.sha, job.work_dir)
        push.per_commit = done[push.tip] = jobs


def _count_entries(baseline: Path) -> int | None:
    """Entries of a vaultshift baseline (`{"entries": [...], ...}`)."""
    try:
        entries = json.loads(baseline.read_text()).get("entries")
    except (OSError, ValueError, AttributeError):
        return None
    return len(entries) if isinstance(entries, list) else None


# --------------------------------------------------------------------------- pushes


@dataclass
class Hook:
    """What the server's pre-receive runs: a command behind the timing wrapper, or nothing."""

    argv: list[str] | None


class PushRunner:
    def __init__(self, ws: Workspace, results: Path, timeout: float) -> None:
        self.ws = ws
        self.git = Git(ws.env)
        self.results = results
        self.timeout = timeout
        self.n = 0
        self.python = default_score_python()  # the base interpreter: starts faster than the venv's

    def push(self, push: Push, hook: Hook, stderr_name: str, installed: Path | None = None
             ) -> tuple[Proc, Run | None, bool, list[str]]:
        """Push to a fresh copy of the server; returns (push, hook run, accepted, remote lines).

        installed: a hook script written by `vaultshift guard install` to use instead of the wrapper.
        """
        self.n += 1
        server = self.ws.root / "runs" / f"server-{self.n}.git"
        shutil.copytree(self.ws.server_template, server, symlinks=True)
        record = self.ws.root / "runs" / f"record-{self.n}.txt"
        hook_path = server / "hooks" / "pre-receive"
        if installed is not None:
            shutil.copy2(installed, hook_path)
        elif hook.argv is not None:
            hook_path.write_text(LAUNCHER.format(python=self.python, argv=hook.argv, record=str(record)))
            hook_path.chmod(0o755)
        stderr = self.results / f"guard-{stderr_name}.git-push.stderr.txt"
        proc = measure(["git", "push", str(server), f"{push.src}:{push.dst}"], self.ws.client, self.ws.env, None,
                       stderr, self.timeout)
        try:
            now = self.git("rev-parse", "--verify", "-q", push.dst, cwd=server).strip()
        except RuntimeError:
            now = ""
        accepted = now == push.tip
        run = None
        if (rec := Record.read(record)) is not None:
            run = Run(rec.wall_s, rec.exit_code, "accepted" if accepted else "rejected", rec.cpu_s, rec.peak_mb,
                      push_s=proc.wall_s)
        remote = [ln.removeprefix("remote:").strip() for ln in _tail(stderr, 10_000) if ln.startswith("remote:")]
        shutil.rmtree(server)
        record.unlink(missing_ok=True)
        return proc, run, accepted, remote


# --------------------------------------------------------------------------- the benchmark


@dataclass
class Bench:
    args: argparse.Namespace
    ws: Workspace
    vaultshift: Path
    ds_hook: Path | None
    trufflehog3: Path | None
    guard_ok: bool
    guard_options: set[str]
    scan_git_ok: bool
    results: Path
    rows: dict[str, Row] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def row(self, key: str, label: str, command: list[str], note: str = "") -> Row:
        if key not in self.rows:
            self.rows[key] = Row(key, label, command, note)
        return self.rows[key]

    # -- commands ----------------------------------------------------------------------------

    def guard_argv(self, push: Push, budget: float | None, baseline: bool) -> list[str]:
        if self.args.stub_hook:
            return ["/bin/sh", "-c", "cat >/dev/null"]
        argv = [str(self.vaultshift), "guard", "pre-receive"]
        if budget is not None and "--time-budget" in self.guard_options:
            argv += ["--time-budget", f"{budget:g}"]
        if baseline and push.vs_baseline is not None and "--baseline" in self.guard_options:
            argv += ["--baseline", str(push.vs_baseline)]
        return argv

    def ds_argv(self, push: Push, baseline_copy: Path | None) -> list[str]:
        assert self.ds_hook is not None
        argv = [str(self.ds_hook)]
        if baseline_copy is not None:
            argv += ["--baseline", str(baseline_copy)]
        return argv + push.changed

    # -- one measurement each ------------------------------------------------------------------

    def push_row(self, key: str, label: str, push: Push, hook: Hook, note: str = "") -> None:
        row = self.row(key, label, hook.argv or ["git", "push", "(no pre-receive hook)"], note)
        if row.error:
            return
        proc, run, accepted, remote = self.runner.push(push, hook, key)
        if proc.timed_out:
            row.error = f"push timed out after {self.runner.timeout:g} s"
        elif hook.argv is None:
            row.runs.append(Run(proc.wall_s, proc.exit_code, "accepted" if accepted else "rejected"))
            if not accepted:
                why = _tail(self.results / f"guard-{key}.git-push.stderr.txt")
                row.error = f"push without a hook was not accepted: {why}"
        elif run is None:
            row.error = f"the hook did not run (push exited {proc.exit_code}): " \
                        f"{_tail(self.results / f'guard-{key}.git-push.stderr.txt')}"
        elif run.exit_code not in (0, 1):
            row.error = f"hook exited {run.exit_code} (0 accept, 1 reject): {remote[-3:]}"
        else:
            row.runs.append(run)
            self.facts.setdefault("remote_lines", {})[key] = remote[:40]
            if push.transient is not None and not self.args.stub_hook:
                self.vaultshift_catch(key, push.transient, remote)

    # -- the secret added in one pushed commit and removed in a later one ----------------------

    def note_catch(self, key: str, transient: Transient, caught: bool, evidence: str) -> None:
        self.facts.setdefault("transient", {
            "path": transient.secret.path, "line": transient.secret.line, "slot": transient.secret.slot,
            "added_by_commit": transient.secret.added + 1, "added_sha": transient.added_sha,
            "removed_by_commit": transient.secret.removed + 1, "removed_sha": transient.removed_sha,
            "caught": {}})["caught"][key] = {"caught": caught, "evidence": evidence}

    def vaultshift_catch(self, key: str, transient: Transient, remote: list[str]) -> None:
        """Caught: a line of the hook's messages gives the secret's path:line and names the
        commit that added it (vaultshift prints `<sha> path:line:col ...`)."""
        where = f"{transient.secret.path}:{transient.secret.line}:"
        hits = [ln for ln in remote if where in ln]
        named = [ln for ln in hits if any(len(tok) >= 7 and transient.added_sha.startswith(tok) for tok in ln.split())]
        if named:
            self.note_catch(key, transient, True, named[0])
        elif hits:
            self.note_catch(key, transient, True, f"without the adding commit's id: {hits[0]}")
        else:
            self.note_catch(key, transient, False, "no hook message gives its location")

    def ds_catch(self, key: str, transient: Transient, output: str, tip_only: bool) -> None:
        where = f"Location:    {transient.secret.path}:{transient.secret.line}"
        hit = next((ln.strip() for ln in output.splitlines() if ln.startswith(where)), None)
        if hit is not None:
            self.note_catch(key, transient, True, hit)
        elif tip_only:
            self.note_catch(key, transient, False, f"not in its output: it reads {transient.secret.path} as it is "
                            "at the tip, which no longer has it")
        else:
            self.note_catch(key, transient, False, "not in its output")

    def timed(self, argv: list[str], cwd: Path, stdout: Path | None, stderr: Path, timeout: float
              ) -> tuple[Proc, Record | None]:
        """Run argv under the launcher (the same fork/exec/wait4 timing as the hook wrapper)."""
        record = self.ws.root / "runs" / "record.txt"
        record.unlink(missing_ok=True)
        proc = measure([self.runner.python, "-IS", str(self.launcher), str(record), *argv], cwd, self.ws.env,
                       stdout, stderr, timeout)
        return proc, Record.read(record)

    def ds_row(self, key: str, label: str, push: Push, baseline: bool = True) -> None:
        """detect-secrets-hook once, on the files changed between the base and the tip, in a work
        tree at the tip: a secret added and removed again before the tip is out of its reach."""
        assert self.ds_hook is not None
        copy = None
        if baseline and push.ds_baseline is not None:  # detect-secrets-hook may rewrite its baseline: give it a copy
            copy = self.ws.root / "baselines" / f"copy-{push.ds_baseline.name}"
            shutil.copy2(push.ds_baseline, copy)
        argv = self.ds_argv(push, copy)
        shown = [*argv[: 3 if copy else 1], f"<{len(push.changed)} files>"]
        row = self.row(key, label, shown)
        if row.error:
            return
        out = self.results / f"guard-{key}.stdout.txt"
        err = self.results / f"guard-{key}.stderr.txt"
        proc, rec = self.timed(argv, push.tip_dir, out, err, self.args.peer_timeout)
        if proc.timed_out or rec is None:
            row.error = f"timed out after {self.args.peer_timeout:g} s" if proc.timed_out else "no record"
            return
        outcome = {0: "clean", 1: "findings", 3: "baseline updated"}.get(rec.exit_code, "error")
        if rec.exit_code == 1 and "secret" not in out.read_text(errors="replace").lower():
            outcome = "error"  # a traceback exits 1 too
        if outcome == "error":
            row.error = f"exited {rec.exit_code}: {_tail(err, 1)}"
        else:
            row.runs.append(Run(rec.wall_s, rec.exit_code, outcome, rec.cpu_s, rec.peak_mb))
            if push.transient is not None:
                self.ds_catch(key, push.transient, out.read_text(errors="replace"), tip_only=True)

    def ds_per_commit_row(self, key: str, label: str, push: Push) -> None:
        """detect-secrets-hook once per pushed commit (or per sampled commit, (b)), on the files that
        commit adds or modifies, in a work tree at that commit, with the same baseline D as the
        tip-only row (a fresh copy per invocation). Only the invocations are timed; a run of the
        row is their sum (scaled to all the pushed commits when sampled)."""
        assert self.ds_hook is not None
        jobs = push.per_commit
        scale = push.commits / len(jobs) if jobs else 1.0
        shown = [str(self.ds_hook), *(["--baseline", "D"] if push.ds_baseline else []), "<the commit's files>"]
        note = (f"sum of {len(jobs)} runs x {scale:.4g} (of {push.commits} commits)" if scale != 1
                else f"sum of {len(jobs)} runs")
        row = self.row(key, label, shown, note)
        if row.error:
            return
        if not jobs:
            row.error = "no pushed commit adds or modifies a file"
            return
        copy = None
        if push.ds_baseline is not None:
            copy = self.ws.root / "baselines" / f"copy-commit-{push.ds_baseline.name}"
        out = self.ws.root / "runs" / "ds-commit.stdout.txt"
        err = self.ws.root / "runs" / "ds-commit.stderr.txt"
        walls: list[float] = []
        cpu = peak = 0.0
        counts: dict[str, int] = {}
        log: list[str] = []
        catch: tuple[CommitJob, str] | None = None
        for job in jobs:
            assert job.work_dir is not None
            if copy is not None and push.ds_baseline is not None:  # rewritten by the hook at times
                shutil.copy2(push.ds_baseline, copy)
            argv = [str(self.ds_hook), *(["--baseline", str(copy)] if copy else []), *job.files]
            proc, rec = self.timed(argv, job.work_dir, out, err, self.args.peer_timeout)
            where = f"commit {job.index + 1}/{push.commits} ({job.sha[:12]})"
            if proc.timed_out or rec is None:
                row.error = (f"{where}: timed out after {self.args.peer_timeout:g} s" if proc.timed_out
                             else f"{where}: no record")
                return
            text = out.read_text(errors="replace")
            outcome = {0: "clean", 1: "findings", 3: "baseline updated"}.get(rec.exit_code, "error")
            if rec.exit_code == 1 and "secret" not in text.lower():
                outcome = "error"
            if outcome == "error":
                row.error = f"{where}: exited {rec.exit_code}: {_tail(err, 1)}"
                return
            walls.append(rec.wall_s)
            cpu += rec.cpu_s
            peak = max(peak, rec.peak_mb)
            counts[outcome] = counts.get(outcome, 0) + 1
            log.append(f"== {where} {job.sha}: {len(job.files)} files, exit {rec.exit_code} ({outcome}), "
                       f"{rec.wall_s:.3f} s\n{text}")
            tr = push.transient
            if tr is not None and catch is None and tr.secret.added <= job.index < tr.secret.removed:
                loc = f"Location:    {tr.secret.path}:{tr.secret.line}"
                hit = next((ln.strip() for ln in text.splitlines() if ln.startswith(loc)), None)
                if hit is not None:
                    catch = job, hit
        (self.results / f"guard-{key}.stdout.txt").write_text("".join(log))
        code = 1 if counts.get("findings") else 3 if counts.get("baseline updated") else 0
        summary = ", ".join(f"{counts[k]} {k}" for k in ("findings", "clean", "baseline updated") if k in counts)
        row.runs.append(Run(sum(walls) * scale, code, f"per commit: {summary}", round(cpu * scale, 3), peak))
        self.facts.setdefault(f"{key}.per_commit", {
            "commits": push.commits, "measured": len(jobs), "scale": scale,
            "measured_commits": [job.index + 1 for job in jobs] if scale != 1 else "all",
            "files_measured": sum(len(job.files) for job in jobs),
            "files_all": sum(len(job.files) for job in push.all_commits), "runs": []})["runs"].append({
                "measured_wall_s": round(sum(walls), 4), "measured_cpu_s": round(cpu, 3),
                "invocation_wall_s": {"min": round(min(walls), 4), "median": round(statistics.median(walls), 4),
                                      "max": round(max(walls), 4)},
                "outcomes": counts})
        if push.transient is not None:
            if catch is not None:
                job, hit = catch
                self.note_catch(key, push.transient, True, f"at commit {job.index + 1}/{push.commits} "
                                f"({job.sha[:12]}): {hit}")
            else:
                self.note_catch(key, push.transient, False, "not in the output of any of its runs")

    def startup_row(self, key: str, label: str, argv: list[str], cwd: Path) -> None:
        """A command that has nothing to do: the interpreter, imports and argument parsing."""
        row = self.row(key, label, argv)
        if row.error:
            return
        err = self.results / f"guard-{key}.stderr.txt"
        _, rec = self.timed(argv, cwd, None, err, 60)
        if rec is None or rec.exit_code != 0:
            row.error = f"exited {rec.exit_code if rec else '?'}: {_tail(err, 1)}"
            return
        row.runs.append(Run(rec.wall_s, 0, "nothing to do", rec.cpu_s, rec.peak_mb))

    def scan_row(self, key: str, label: str, argv: list[str], output: Path, ok: dict[int, str], shape: str,
                 timeout: float) -> None:
        row = self.row(key, label, argv)
        if row.error:
            return
        output.unlink(missing_ok=True)
        stderr = output.with_suffix(".stderr.txt")
        proc, rec = self.timed(argv, self.ws.root, None, stderr, timeout)
        if proc.timed_out or rec is None:
            row.error = f"did not finish within {timeout:g} s" if proc.timed_out else "no record"
            self.facts[f"{key}.timed_out_s"] = timeout
            return
        if rec.exit_code not in ok:
            row.error = f"exited {rec.exit_code}: {_tail(stderr, 1)}"
            return
        try:
            report = json.loads(output.read_text())
        except (OSError, ValueError) as exc:
            row.error = f"exited {rec.exit_code} but no readable JSON report ({exc})"
            return
        if shape == "vaultshift":
            if not (isinstance(report, dict) and isinstance(report.get("findings"), list)):
                row.error = "unexpected report shape"
                return
            self.facts[f"{key}.findings"] = len(report["findings"])
            self.facts[f"{key}.stats"] = report.get("stats")
            self.facts[f"{key}.errors"] = len(report.get("errors") or [])
        else:
            if not isinstance(report, list):
                row.error = "unexpected report shape"
                return
            self.facts[f"{key}.findings"] = len(report)
        row.runs.append(Run(rec.wall_s, rec.exit_code, ok[rec.exit_code], rec.cpu_s, rec.peak_mb))

    # -- the plan ----------------------------------------------------------------------------

    def plan(self) -> list[tuple[str, Any]]:
        """The measurements of one repetition, in order (round-robin over the repetitions)."""
        steps: list[tuple[str, Any]] = []
        pushes = self.ws.pushes
        guard = self.guard_ok or self.args.stub_hook
        if "typical" in pushes:
            t, nb = pushes["typical"], pushes["typical-new-branch"]
            steps.append(("a.push", lambda: self.push_row("a.push", "git push, no hook", t, Hook(None))))
            if guard:
                steps += [
                    ("a.hook", lambda: self.push_row(
                        "a.hook", "vaultshift guard pre-receive", t, Hook(self.guard_argv(t, None, True)),
                        "default time budget, --baseline made at the tip")),
                    ("a.reject", lambda: self.push_row(
                        "a.reject", "  same, no baseline (rejected)", t, Hook(self.guard_argv(t, None, False)))),
                    ("a.branch", lambda: self.push_row(
                        "a.branch", "  same, pushed as a new branch", nb, Hook(self.guard_argv(nb, None, True)))),
                ]
            if self.guard_ok and not self.args.stub_hook:
                steps.append(("a.startup", lambda: self.startup_row(
                    "a.startup", "start-up: guard pre-receive, no input", self.guard_argv(t, None, False),
                    self.ws.server_template)))
            if self.ds_hook is not None:
                steps += [
                    ("a.ds-startup", lambda: self.startup_row(
                        "a.ds-startup", "start-up: detect-secrets-hook, no file", [str(self.ds_hook)], t.tip_dir)),
                    ("a.ds", lambda: self.ds_row("a.ds", f"detect-secrets-hook tip only, {len(t.changed)} files", t)),
                    ("a.ds-reject", lambda: self.ds_row("a.ds-reject", "  same, no baseline (findings)", t,
                                                        baseline=False)),
                    ("a.ds-percommit", lambda: self.ds_per_commit_row(
                        "a.ds-percommit", f"detect-secrets-hook per commit, {len(t.per_commit)} runs", t)),
                ]
        if "large" in pushes:
            big = pushes["large"]
            steps.append(("b.push", lambda: self.push_row("b.push", "git push, no hook", big, Hook(None))))
            if guard:
                steps.append(("b.hook", lambda: self.push_row(
                    "b.hook", "vaultshift guard pre-receive", big,
                    Hook(self.guard_argv(big, LARGE_TIME_BUDGET_S, True)),
                    f"--time-budget {LARGE_TIME_BUDGET_S:g}, --baseline")))
            if self.ds_hook is not None:
                sampled = 0 < len(big.per_commit) < big.commits
                steps += [
                    ("b.ds", lambda: self.ds_row(
                        "b.ds", f"detect-secrets-hook tip only, {len(big.changed)} files", big)),
                    ("b.ds-percommit", lambda: self.ds_per_commit_row(
                        "b.ds-percommit", "detect-secrets-hook per commit, EST." if sampled
                        else f"detect-secrets-hook per commit, {len(big.per_commit)} runs", big)),
                ]
        if self.ws.history_facts:
            repo = str(self.ws.history)
            if self.scan_git_ok:
                out = self.results / "guard-history-vaultshift.json"
                steps.append(("c.vaultshift", lambda: self.scan_row(
                    "c.vaultshift", "vaultshift scan --git",
                    [str(self.vaultshift), "scan", "--git", repo, "--format", "json", "-o", str(out), "--no-progress"],
                    out, {0: "clean", 1: "findings"}, "vaultshift", self.args.scan_timeout)))
            if self.trufflehog3 is not None:
                out = self.results / "guard-history-trufflehog3.json"
                steps.append(("c.trufflehog3", lambda: self.scan_row(
                    "c.trufflehog3", "trufflehog3 --no-current",
                    [str(self.trufflehog3), "--no-current", "-f", "json", "-o", str(out), repo],
                    out, {0: "clean", 2: "issues"}, "trufflehog3", self.args.peer_timeout)))
        return steps

    def run(self) -> None:
        self.runner = PushRunner(self.ws, self.results, LARGE_TIME_BUDGET_S + 300)
        self.launcher = self.ws.root / "launcher.py"
        self.launcher.write_text(LAUNCHER.format(python=self.runner.python, argv=None, record=None))
        (self.ws.root / "runs").mkdir(exist_ok=True)
        _, floor = self.timed(["true"], self.ws.root, None, Path(os.devnull), 60)
        self.facts["spawn_floor_mb"] = floor.peak_mb if floor else None
        steps = self.plan()
        self.warm_up()
        for i in range(self.args.repeat):
            for key, step in steps:
                if key == "c.trufflehog3" and i >= self.args.peer_repeat:
                    continue
                print(f"[{i + 1}/{self.args.repeat}] {key} ...", end=" ", file=sys.stderr, flush=True)
                step()
                row = self.rows.get(key)
                if row is None or row.error or not row.runs:
                    print("failed" if row is None or row.error else "-", file=sys.stderr)
                else:
                    r = row.runs[-1]
                    print(f"{r.wall_s:.3f} s ({r.outcome})", file=sys.stderr)
        if self.guard_ok and not self.args.stub_hook:
            self.extra_runs()

    def warm_up(self) -> None:
        """Untimed: vaultshift's .pyc files (an editable install has none), one hook push, one
        detect-secrets-hook run (page cache, imports)."""
        if self.args.no_warmup:
            return
        _compile_package()
        push = next(iter(self.ws.pushes.values()), None)
        if push is not None and (self.guard_ok or self.args.stub_hook):
            self.runner.push(push, Hook(self.guard_argv(push, None, True)), "warmup")
        if push is not None and self.ds_hook is not None:
            self.timed(self.ds_argv(push, None), push.tip_dir, None, Path(os.devnull), self.args.peer_timeout)

    def extra_runs(self) -> None:
        """Once each: (b) with the default time budget; (a) with the hook `vaultshift guard install`
        writes, no baseline (it must reject)."""
        if "large" in self.ws.pushes:
            big = self.ws.pushes["large"]
            print("[once] b.default-budget ...", end=" ", file=sys.stderr, flush=True)
            proc, run, accepted, remote = self.runner.push(big, Hook(self.guard_argv(big, None, True)),
                                                           "b.default-budget")
            self.facts["b.default_budget"] = {
                "push_exit": proc.exit_code, "accepted": accepted,
                "hook": asdict(run) if run else None, "remote_lines": remote[-10:],
            }
            print(f"{run.wall_s:.3f} s ({run.outcome})" if run else "hook did not run", file=sys.stderr)
        if "typical" in self.ws.pushes:
            self.installed_hook_check(self.ws.pushes["typical"])

    def installed_hook_check(self, push: Push) -> None:
        print("[once] a.installed-hook ...", end=" ", file=sys.stderr, flush=True)
        scratch = self.ws.root / "install-check.git"
        scratch.mkdir()
        Git(self.ws.env)("init", "-q", "--bare", str(scratch))
        proc = subprocess.run([str(self.vaultshift), "guard", "install", str(scratch), "--hook", "pre-receive"],
                              env=self.ws.env, capture_output=True, text=True, check=False)
        hook = scratch / "hooks" / "pre-receive"
        info: dict[str, Any] = {"install_exit": proc.returncode,
                                "install_message": (proc.stderr or proc.stdout).strip().splitlines()[-3:]}
        if proc.returncode != 0 or not hook.exists():
            info["error"] = "vaultshift guard install did not write hooks/pre-receive"
            print("install failed", file=sys.stderr)
        else:
            info["hook_script"] = hook.read_text(errors="replace").splitlines()[:30]
            pushed, _, accepted, remote = self.runner.push(push, Hook(None), "a.installed-hook", installed=hook)
            info.update(push_exit=pushed.exit_code, push_s=round(pushed.wall_s, 4), accepted=accepted,
                        remote_lines=remote[:40])
            print(f"{pushed.wall_s:.3f} s ({'accepted' if accepted else 'rejected'})", file=sys.stderr)
        self.facts["a.installed_hook"] = info


# --------------------------------------------------------------------------- report


def ratio(slow: Row | None, fast: Row | None) -> float | None:
    if slow is None or fast is None or not slow.runs or not fast.runs or slow.error or fast.error:
        return None
    s, f = slow.median_s, fast.median_s
    return round(s / f, 2) if s and f else None


def print_rows(rows: list[Row]) -> None:
    print(f"  {'':<40} {'best s':>8} {'median s':>8} {'push s':>8} {'cpu s':>7} {'peak MB':>7}  exit  outcome")
    for r in rows:
        if r.error:
            print(f"  {r.label:<40} ERROR: {r.error}")
            continue
        codes = ",".join(str(c) for c in sorted({x.exit_code for x in r.runs}))
        outcomes = ",".join(sorted({x.outcome for x in r.runs}))
        print(f"  {r.label:<40} {_fmt(r.best_s, '8.3f')} {_fmt(r.median_s, '8.3f')} "
              f"{_fmt(r.median_of('push_s'), '8.3f')} {_fmt(r.median_of('cpu_s'), '7.2f')} "
              f"{_fmt(r.max_peak_mb, '7.1f')}  {codes:>4}  {outcomes}{'  ' + r.note if r.note else ''}")


def speed_line(what: str, fast: Row | None, slow: Row | None, peer: str) -> float | None:
    x = ratio(slow, fast)
    if x is None or fast is None or slow is None:
        return None
    word = f"{x:.1f}x faster than" if x >= 1 else f"{1 / x:.1f}x slower than"
    print(f"  {what} is {word} {peer} (medians {fast.median_s:.3f} s vs {slow.median_s:.3f} s; "
          f"cpu {fast.median_of('cpu_s') or 0:.2f} s vs {slow.median_of('cpu_s') or 0:.2f} s)")
    return x


def evaluate_targets(b: Bench, speedup: float | None, speedup_tip_only: float | None) -> list[dict[str, Any]]:
    """speedup: vs detect-secrets-hook per commit (equal coverage), which the target is about;
    speedup_tip_only: vs the single run on the tip's files, shown beside it for information."""
    out: list[dict[str, Any]] = []

    def add(name: str, value: float | None, passed: bool, shown: str, why: str, **extra: Any) -> None:
        status = "SKIP" if value is None else "PASS" if passed else "FAIL"
        out.append({"target": name, "value": value, "status": status, "shown": shown if value is not None else why,
                    **extra})

    hook = b.rows.get("a.hook")
    real = not b.args.stub_hook
    latency = hook.median_s if hook and real and not hook.error else None
    add(f"(a) pre-receive median < {TARGET_HOOK_S:g} s", latency, latency is not None and latency < TARGET_HOOK_S,
        f"{_fmt(latency, '.3f')} s", "vaultshift guard not measured")
    x = speedup if real else None
    tip = speedup_tip_only if real else None
    info = (f"   [informational: {tip:.1f}x vs the tip-only run, which has less coverage]" if tip is not None
            else "")
    add(f"(a) >= {TARGET_SPEEDUP_DETECT_SECRETS:g}x faster than detect-secrets-hook per commit", x,
        x is not None and x >= TARGET_SPEEDUP_DETECT_SECRETS, f"{_fmt(x, '.1f')}x (equal coverage){info}",
        "both not measured in this run",
        against="a.ds-percommit: detect-secrets-hook once per pushed commit, on that commit's files (equal coverage)",
        informational={"vs": "a.ds: detect-secrets-hook once, on the files changed at the tip (less coverage)",
                       "value": tip})
    return out


def print_report(b: Bench, load: tuple[tuple[float, ...], tuple[float, ...]], versions: dict[str, str]
                 ) -> dict[str, Any]:
    ws, rows = b.ws, b.rows
    print()
    tools = f"vaultshift {versions['vaultshift']}"
    if b.ds_hook:
        tools += f", detect-secrets-hook {versions.get('detect-secrets')}"
    if b.trufflehog3:
        tools += f", trufflehog3 {versions.get('trufflehog3')}"
    stub = "   [STUB HOOK: `cat >/dev/null`, not vaultshift]" if b.args.stub_hook else ""
    print(f"guard benchmark: {tools}{stub}")
    ncpu = os.cpu_count() or 1
    print(f"machine: {ncpu} CPUs, load average {load[0][0]:.2f} before / {load[1][0]:.2f} after; "
          f"{b.args.repeat} run(s) each, best and median")
    busiest = max(load[0][0], load[1][0])
    if busiest > 0.5 * ncpu:
        print(f"WARNING: busy machine (load {busiest:.2f} on {ncpu} CPUs): timings are noisy; "
              "use --repeat on a quiet machine for figures you quote")
    print(f"setup: repositories built in {ws.build_s:.1f} s under {ws.root}; server: bare repository at "
          f"{ws.base_commits} commits / {ws.base_files} files, copied before every push; `git push` over the "
          "local transport")
    print(f"timing: every measured command runs under a small launcher (the hook wrapper, or the same code "
          f"as `python -IS launcher.py`): fork/exec/wait4 wall time, CPU, peak RSS (spawn floor "
          f"{_fmt(b.facts.get('spawn_floor_mb'), '.1f')} MB)")
    for note in b.notes:
        print(f"NOTE: {note}")

    speedup_a = speedup_a_pc = speedup_a_reject = speedup_b = speedup_b_pc = None
    if "typical" in ws.pushes:
        t = ws.pushes["typical"]
        print()
        at_tip = f" ({t.planted - 1} at the tip)" if t.transient else ""
        print(f"(a) typical push: {t.commits} commits, {len(t.changed)} files changed ({t.new_files} new), "
              f"{t.objects.get('blobs', 0)} new blobs ({t.objects.get('blob_bytes', 0) / 1024:.0f} KiB), "
              f"{t.planted} fake secrets planted{at_tip}")
        if t.transient:
            print(f"    secret in history only: {t.transient.describe(t.commits)}")
        print(f"    baselines (made at the tip): vaultshift {_fmt(t.vs_baseline_entries, 'd')} entries (whole tip "
              f"tree), detect-secrets {_fmt(t.ds_baseline_entries, 'd')} secrets (the changed files)")
        order = ("a.push", "a.startup", "a.hook", "a.reject", "a.branch", "a.ds-startup", "a.ds", "a.ds-reject",
                 "a.ds-percommit")
        print_rows([rows[k] for k in order if k in rows])
        speedup_a_pc = speed_line("vaultshift pre-receive", rows.get("a.hook"), rows.get("a.ds-percommit"),
                                  "detect-secrets-hook per commit (equal coverage: every pushed commit), "
                                  "both with a baseline,")
        speedup_a = speed_line("vaultshift pre-receive", rows.get("a.hook"), rows.get("a.ds"),
                               "detect-secrets-hook tip only (less coverage: one run on the tip's files), "
                               "both with a baseline,")
        speedup_a_reject = speed_line("vaultshift pre-receive", rows.get("a.reject"), rows.get("a.ds-reject"),
                                      "detect-secrets-hook tip only, both without a baseline,")
        print_catches(b, t)
        overhead("a", rows)
        net = [(r.median_s or 0) - (s.median_s or 0) for r, s in ((rows.get("a.hook"), rows.get("a.startup")),
                                                                   (rows.get("a.ds"), rows.get("a.ds-startup")))
               if r and s and r.runs and s.runs]
        if len(net) == 2 and net[0] > 0:
            print(f"  past start-up (median minus the no-input run): vaultshift {net[0]:.3f} s, "
                  f"detect-secrets-hook tip only {net[1]:.3f} s ({net[1] / net[0]:.1f}x)")
        rej = b.facts.get("remote_lines", {}).get("a.reject")
        if rej is not None:
            print(f"  rejected push, hook messages ({len(rej)} lines): " + " | ".join(rej[:3]))
        inst = b.facts.get("a.installed_hook")
        if inst:
            if "error" in inst:
                print(f"  installed hook: {inst['error']} (exit {inst['install_exit']}: {inst['install_message']})")
            else:
                verdict = "rejected as expected" if not inst["accepted"] else "ACCEPTED (expected a rejection)"
                print(f"  hook written by `vaultshift guard install`, no baseline: push {verdict} in "
                      f"{inst['push_s']:.3f} s ({len(inst['remote_lines'])} remote lines)")
    if "large" in ws.pushes:
        big = ws.pushes["large"]
        print()
        print(f"(b) large push: {big.commits} commits, {len(big.changed)} files changed at the tip "
              f"({big.new_files} new), {big.objects.get('blobs', 0)} new blobs "
              f"({big.objects.get('blob_bytes', 0) / 1024 / 1024:.1f} MiB), {big.planted} fake secrets planted")
        print(f"    baselines: vaultshift {_fmt(big.vs_baseline_entries, 'd')} entries, "
              f"detect-secrets {_fmt(big.ds_baseline_entries, 'd')} secrets")
        print_rows([rows[k] for k in ("b.push", "b.hook", "b.ds", "b.ds-percommit") if k in rows])
        sample_note(b, big)
        est = "an ESTIMATE from a sample, see above" if 0 < len(big.per_commit) < big.commits else "equal coverage"
        speedup_b_pc = speed_line("vaultshift pre-receive", rows.get("b.hook"), rows.get("b.ds-percommit"),
                                  f"detect-secrets-hook per commit ({est}),")
        speedup_b = speed_line("vaultshift pre-receive", rows.get("b.hook"), rows.get("b.ds"),
                               "detect-secrets-hook tip only (less coverage)")
        overhead("b", rows)
        hook = rows.get("b.hook")
        if hook and hook.runs and not b.args.stub_hook:
            held = (hook.median_s or 0) < DEFAULT_TIME_BUDGET_S
            print(f"  default --time-budget {DEFAULT_TIME_BUDGET_S:g} s would have held: {'yes' if held else 'no'} "
                  f"(median {hook.median_s:.3f} s)")
        d = b.facts.get("b.default_budget")
        if d and d.get("hook"):
            print(f"  run once with the default budget: hook {d['hook']['wall_s']:.3f} s, exit "
                  f"{d['hook']['exit_code']}, push {'accepted' if d['accepted'] else 'rejected'}"
                  + (f"; last message: {d['remote_lines'][-1]}" if d["remote_lines"] else ""))
    speedup_c = None
    if ws.history_facts:
        h = ws.history_facts
        blobs = h.get("blobs", 0)
        print()
        print(f"(c) history scan: {h['commits']} commits, {blobs} distinct blobs "
              f"({h.get('blob_bytes', 0) / 1024 / 1024:.1f} MiB), {h['files_at_tip']} files at the tip, "
              f"{h['planted']} fake secrets planted over time")
        print_rows([rows[k] for k in ("c.vaultshift", "c.trufflehog3") if k in rows])
        for key in ("c.vaultshift", "c.trufflehog3"):
            row = rows.get(key)
            if row and row.runs and row.median_s:
                print(f"  {row.label}: {blobs / row.median_s:,.0f} blobs/s "
                      f"({h.get('blob_bytes', 0) / 1024 / 1024 / row.median_s:.1f} MiB/s) on the median run; "
                      f"{b.facts.get(key + '.findings')} findings")
            elif row and row.error and b.facts.get(f"{key}.timed_out_s"):
                print(f"  {row.label}: fewer than {blobs / b.facts[key + '.timed_out_s']:,.0f} blobs/s (timed out)")
        stats = b.facts.get("c.vaultshift.stats")
        if stats:
            print(f"  vaultshift stats: {json.dumps(stats, sort_keys=True)[:300]}")
        speedup_c = speed_line("vaultshift scan --git", rows.get("c.vaultshift"), rows.get("c.trufflehog3"),
                               "trufflehog3")
        th, vs = rows.get("c.trufflehog3"), rows.get("c.vaultshift")
        if th and th.error and vs and vs.runs and b.facts.get("c.trufflehog3.timed_out_s"):
            bound = b.facts["c.trufflehog3.timed_out_s"] / (vs.median_s or 1)
            print(f"  vaultshift scan --git is more than {bound:.1f}x faster than trufflehog3 (which timed out)")
    targets = evaluate_targets(b, speedup_a_pc, speedup_a)
    print()
    print("targets (vaultshift)")
    for tg in targets:
        print(f"  {tg['status']:<4}  {tg['target']:<54} {tg['shown']}")
    return {"targets": targets, "speedup_vs": {
        "a.detect-secrets-hook": speedup_a, "a.detect-secrets-hook.per-commit": speedup_a_pc,
        "a.detect-secrets-hook.no-baseline": speedup_a_reject,
        "b.detect-secrets-hook": speedup_b, "b.detect-secrets-hook.per-commit": speedup_b_pc,
        "c.trufflehog3": speedup_c}}


def print_catches(b: Bench, push: Push) -> None:
    """Which row caught the secret that is in the pushed history but not at the tip."""
    info = b.facts.get("transient")
    if push.transient is None or not info:
        return
    print(f"  the secret in history only ({push.transient.secret.path}:{push.transient.secret.line}), "
          "caught? (last run of each row)")
    for key in ("a.hook", "a.reject", "a.branch", "a.ds", "a.ds-reject", "a.ds-percommit"):
        got, row = info["caught"].get(key), b.rows.get(key)
        if got and row:
            print(f"    {row.label.strip():<40} {'yes' if got['caught'] else 'NO '}  {got['evidence'][:150]}")


def sample_note(b: Bench, push: Push) -> None:
    pc = b.facts.get("b.ds-percommit.per_commit")
    row = b.rows.get("b.ds-percommit")
    if not pc or not row or not row.runs or pc["scale"] == 1:
        return
    measured = [r["measured_wall_s"] for r in pc["runs"]]
    inv = pc["runs"][-1]["invocation_wall_s"]
    print(f"  detect-secrets-hook per commit is an ESTIMATE: measured on {pc['measured']} of the {pc['commits']} "
          f"commits (evenly spread, 1 in {pc['commits'] / pc['measured']:.4g}), {pc['files_measured']} files "
          f"({pc['files_measured'] / pc['measured']:.2f} per commit; {pc['files_all'] / pc['commits']:.2f} over "
          f"all commits);")
    print(f"    measured sums {', '.join(f'{m:.2f}' for m in measured)} s (median {statistics.median(measured):.2f}"
          f" s), scaled x{pc['scale']:.4g} = {row.median_s:.1f} s for the whole push; per run (last repetition): "
          f"min {inv['min']:.3f} / median {inv['median']:.3f} / max {inv['max']:.3f} s")


def overhead(part: str, rows: dict[str, Row]) -> None:
    plain, hook = rows.get(f"{part}.push"), rows.get(f"{part}.hook")
    if not plain or not hook or not plain.runs or not hook.runs:
        return
    with_hook, without = hook.median_of("push_s"), plain.median_s
    if with_hook is None or without is None:
        return
    print(f"  the hook adds {with_hook - without:.3f} s to the push (median push {with_hook:.3f} s with it, "
          f"{without:.3f} s without); of which the vaultshift command {hook.median_s:.3f} s")


# --------------------------------------------------------------------------- main


def help_options(argv: list[str], env: Mapping[str, str]) -> set[str] | None:
    """The long options `argv --help` lists, or None if it fails (the command does not exist)."""
    proc = subprocess.run([*argv, "--help"], env=dict(env), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None
    return {tok.strip(",[]") for tok in proc.stdout.split() if tok.startswith("--") or tok.startswith("[--")}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="comma-separated subset of the parts a (typical push), b (large push), "
                    "c (history scan); default all")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement, round-robin (default %(default)s)")
    ap.add_argument("--peer-repeat", type=int,
                    help="runs of trufflehog3 in (c), the slowest step (default: --repeat)")
    ap.add_argument("--no-peers", action="store_true", help="measure vaultshift only (the ratios show SKIP)")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="output folder (default: %(default)s)")
    ap.add_argument("--vaultshift", type=Path, default=Path(sys.executable).parent / "vaultshift",
                    help="vaultshift executable (default: beside sys.executable)")
    ap.add_argument("--large-commits", type=int, default=LARGE_COMMITS, help="commits in (b) (default %(default)s)")
    ap.add_argument("--history-commits", type=int, default=HISTORY_COMMITS,
                    help="commits in (c) (default %(default)s)")
    ap.add_argument("--per-commit-sample", type=int, default=LARGE_PER_COMMIT_SAMPLE,
                    help="(b): pushed commits that detect-secrets-hook per commit runs on, evenly spread; its "
                    "sums are scaled to the whole push (0: every commit; default %(default)s)")
    ap.add_argument("--seed", type=int, default=20241127, help="seed of the synthetic repositories")
    ap.add_argument("--peer-timeout", type=float, default=240.0,
                    help="seconds before a peer run is killed (default %(default)s)")
    ap.add_argument("--scan-timeout", type=float, default=600.0,
                    help="seconds before a vaultshift history scan is killed (default %(default)s)")
    ap.add_argument("--workdir", type=Path, help="build the repositories here (default: a new temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the repositories afterwards")
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up runs")
    ap.add_argument("--stub-hook", action="store_true",
                    help="harness check: the hook runs `cat >/dev/null` instead of vaultshift (targets SKIP)")
    ap.add_argument("--fail-on-targets", action="store_true", help="exit 3 when a target is missed")
    args = ap.parse_args(argv)
    if args.peer_repeat is None:
        args.peer_repeat = args.repeat
    if args.repeat < 1 or args.peer_repeat < 1:
        ap.error("--repeat and --peer-repeat must be >= 1")
    parts = [p.strip() for p in args.only.split(",") if p.strip()] if args.only else list(PARTS)
    if unknown := [p for p in parts if p not in PARTS]:
        ap.error(f"--only: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    args.parts = set(parts)
    return args


@contextlib.contextmanager
def workdir(args: argparse.Namespace) -> Iterator[Path]:
    if args.workdir:
        root = args.workdir.resolve()
        if root.exists() and any(root.iterdir()):
            raise SystemExit(f"bench: --workdir {root} is not empty")
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix="vaultshift-guard-bench-"))
    try:
        yield root
    finally:
        if args.keep:
            print(f"repositories kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: Path = args.results.resolve()
    results.mkdir(parents=True, exist_ok=True)
    vaultshift: Path = args.vaultshift
    # One throwaway fingerprint key for the whole run: baselines and hooks agree, ~/.config is untouched.
    env = {**os.environ, **GIT_ENV_OVERRIDES, "VAULTSHIFT_FINGERPRINT_KEY": secrets.token_hex(32)}
    if not vaultshift.exists():
        print(f"bench: no vaultshift executable at {vaultshift} (run with the project venv's python)", file=sys.stderr)
        return 2

    notes: list[str] = []
    guard_opts = help_options([str(vaultshift), "guard", "pre-receive"], env)
    if guard_opts is None:
        notes.append("`vaultshift guard pre-receive --help` failed: the guard is not there yet; hook rows skipped"
                     + (" (stub hook measured instead)" if args.stub_hook else ""))
    else:
        for opt in ("--time-budget", "--baseline"):
            if opt not in guard_opts:
                notes.append(f"vaultshift guard pre-receive has no {opt}: run without it")
    scan_opts = help_options([str(vaultshift), "scan"], env) or set()
    scan_git_ok = "--git" in scan_opts
    if "c" in args.parts and not scan_git_ok:
        notes.append("`vaultshift scan --help` lists no --git: the history scan of vaultshift is skipped")

    ds_hook = trufflehog3 = None
    versions = {"vaultshift": _vaultshift_version()}
    if not args.no_peers:
        try:
            ensure_peers()
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"bench: could not set up the peers: {exc}", file=sys.stderr)
            return 2
        peer_bin = PEERS_DIR / "bin"
        ds_hook = peer_bin / "detect-secrets-hook"
        trufflehog3 = peer_bin / "trufflehog3" if "c" in args.parts else None
        versions.update({k: v or "?" for k, v in installed_versions().items()})

    with workdir(args) as root:
        print(f"building repositories under {root} ...", file=sys.stderr)
        ws = build_workspace(root, env, args.seed, args.parts, args.large_commits, args.history_commits)
        print(f"built in {ws.build_s:.1f} s", file=sys.stderr)
        make_baselines(ws, vaultshift, PEERS_DIR / "bin" if ds_hook else None)
        if ds_hook is not None:
            t0 = time.perf_counter()
            prepare_per_commit(ws, args.per_commit_sample)
            trees = sum(len(jobs) for jobs in {p.tip: p.per_commit for p in ws.pushes.values()}.values())
            print(f"per-commit work trees: {trees} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        bench = Bench(args, ws, vaultshift, ds_hook, trufflehog3, guard_opts is not None, guard_opts or set(),
                      scan_git_ok, results, notes=notes)
        load_before = os.getloadavg()
        bench.run()
        load_after = os.getloadavg()
        summary = print_report(bench, (load_before, load_after), versions)

        report = {
            "generated": datetime.now(UTC).isoformat(timespec="seconds"),
            "versions": versions,
            "stub_hook": args.stub_hook,
            "repeat": args.repeat,
            "parts": sorted(args.parts),
            "seed": args.seed,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "git": Git(env)("--version").strip(), "loadavg_before": load_before,
                        "loadavg_after": load_after},
            "method": {
                "hook": "hooks/pre-receive is a Python wrapper (base interpreter, -IS) that fork/execs the command "
                        "with the hook's stdin/env/cwd and records perf_counter_ns wall time, os.wait4 CPU and "
                        "ru_maxrss; push_s is the whole `git push` (local transport) around it",
                "detect-secrets-hook": "tip only (a.ds, b.ds): run once in a work tree of the pushed tip (git "
                                       "worktree add --detach), on the files added, modified or renamed between "
                                       "the server's base and the tip, with a baseline made by `detect-secrets "
                                       "scan` of the same files (a fresh copy per run), and in (a) also without "
                                       "one; it cannot see a secret added and removed again before the tip",
                "detect-secrets-hook per commit": "equal coverage (a.ds-percommit, b.ds-percommit): run once per "
                                                  "pushed commit, in a work tree at that commit (made untimed), on "
                                                  "the files that commit adds or modifies (diff-tree --no-renames "
                                                  "--diff-filter=AM against its parent), with the same baseline as "
                                                  "the tip-only row (a fresh copy per invocation); a run of the row "
                                                  "= the sum of the invocations' launcher-timed wall/CPU, max peak; "
                                                  "in (b) measured on --per-commit-sample evenly spread commits "
                                                  "and scaled by commits/sampled (facts: *.per_commit)",
                "history": "vaultshift scan --git REPO and trufflehog3 --no-current REPO on the same "
                           "non-bare repository; blobs/s = distinct blobs in the repository / wall time",
                "targets": "on medians",
            },
            "setup": {
                "build_s": round(ws.build_s, 2), "base_commits": ws.base_commits, "base_files": ws.base_files,
                "base_planted": ws.base_planted,
                "pushes": {k: {**asdict(p), "tip_dir": None, "vs_baseline": None, "ds_baseline": None,
                               "changed": len(p.changed), "all_commits": None,
                               "per_commit": [j.index + 1 for j in p.per_commit]}
                           for k, p in ws.pushes.items()},
                "history": ws.history_facts,
            },
            "rows": [r.summary() for r in bench.rows.values()],
            "facts": bench.facts,
            "notes": notes,
            **summary,
        }
        out_json = results / "guard.json"
        out_json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"figures written to {out_json}")

    if any(r.error for r in bench.rows.values()):
        return 1
    if args.fail_on_targets and any(t["status"] == "FAIL" for t in summary["targets"]):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
