"""Benchmark a whole migration: plan, apply, verify and roll back a fleet of config files against a
local OpenBao dev server, with the same server's raw write throughput measured in the same run.

    python bench/migrate.py [--files 2000] [--occurrences 10000] [--secrets 3000] [--repeat N]
                            [--results DIR] [--work-dir DIR] [--keep] [--with-auto-check] [--fail-on-targets]

Run it with the project venv's python (vaultshift and bao are taken from beside sys.executable).
bench/fleet.py writes the fleet (fake secrets made at run time); `vaultshift plan` and
`vaultshift apply` run as subprocesses, each timed on its own (wall time with perf_counter, CPU
and peak memory from os.wait4 on exactly that child); then every planted value must be gone from
every file, every secret must read back from the vault equal, and `vaultshift rollback` (timed
too) must restore every byte. The raw throughput is N threads, one hvac client each, writing
distinct KV v2 paths on the same server, measured between the migrations. Figures go to stdout
and to bench/results/migrate.json. This is a benchmark, not a test: missed targets are printed
as FAIL but do not change the exit status unless --fail-on-targets is given.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_RESULTS = BENCH_DIR / "results"
MOUNT = "secret"

# Targets (issue 4).
TARGET_APPLY_S = 60.0  # the whole `vaultshift apply`, on this 2-core machine
TARGET_RATIO = 0.5  # apply's secrets/s over the raw server throughput

DEFAULT_FILES = 2000
DEFAULT_OCCURRENCES = 10000
DEFAULT_SECRETS = 3000
RAW_THREADS = 8


# --------------------------------------------------------------------------- measuring


@dataclass
class Measured:
    exit_code: int
    wall_s: float
    cpu_s: float  # user + system of the child and the descendants it reaped
    peak_mb: float  # ru_maxrss: the largest single process among them (MiB)
    stderr_tail: list[str] = field(default_factory=list)


def run_measured(argv: list[str], cwd: Path, env: dict[str, str], stdout: Path, stderr: Path) -> Measured:
    """Run argv and measure exactly that child with os.wait4 (as bench/corpus.py does)."""
    from corpus import reset_own_peak_rss

    reset_own_peak_rss()
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    tail = [line for line in stderr.read_text(errors="replace").splitlines() if line.strip()][-5:]
    return Measured(proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, tail)


def worker(mode: str, request: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    """Run one of this file's workers in a child interpreter: request on stdin, result on stdout.

    hvac, the plan and the file scans stay out of the bench process, whose memory every measured
    child would otherwise inherit as its ru_maxrss floor; values travel through the pipe only.
    """
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", mode],
                          input=json.dumps(request), capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"worker {mode} exited {proc.returncode}: {tail}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@dataclass
class CpuSnapshot:
    """Machine-wide busy and stolen CPU (/proc/stat) and what this bench's own processes used."""

    at: float
    busy: float  # CPU-seconds, all CPUs: user, nice, system, irq, softirq
    steal: float  # CPU-seconds the hypervisor gave to other guests
    own: float  # the bench, its reaped children (commands, workers) and the bao server


def cpu_snapshot(server_pid: int) -> CpuSnapshot:
    import resource

    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    user, nice, system, _, _, irq, softirq, steal = (fields + [0] * 8)[:8]
    own = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))
    with contextlib.suppress(OSError), open(f"/proc/{server_pid}/stat") as fh:
        stat = fh.read().rsplit(")", 1)[1].split()
        own += (int(stat[11]) + int(stat[12])) / tick
    return CpuSnapshot(time.monotonic(), (user + nice + system + irq + softirq) / tick, steal / tick, own)


def other_work(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """CPU the rest of the machine used while the bench ran (busy minus the bench's own, which
    leaves in the kernel's work on the bench's behalf, such as journal commits for its fsyncs),
    and steal time, as shares of the machine's capacity over that interval."""
    capacity = (after.at - before.at) * (os.cpu_count() or 1)
    other = max(0.0, (after.busy - before.busy) - (after.own - before.own))
    return {"other_cpu_s": round(other, 1), "other_share": round(other / capacity, 3) if capacity else 0.0,
            "steal_share": round((after.steal - before.steal) / capacity, 3) if capacity else 0.0,
            "wall_s": round(after.at - before.at, 1)}


def spawn_floor_mb(cwd: Path, env: dict[str, str], results: Path) -> float:
    """ru_maxrss of /bin/true spawned the same way: the floor every measured child inherits."""
    true = "/bin/true" if os.path.exists("/bin/true") else "true"
    return run_measured([true], cwd, env, Path(os.devnull), results / "migrate-true.stderr.txt").peak_mb


# --------------------------------------------------------------------------- workers (child side)


def _threads(count: int, target: Any) -> float:
    """Start ``count`` threads running ``target(barrier)``, release them together, join: seconds
    from the release to the last one's end (each sets itself up before the barrier)."""
    barrier = threading.Barrier(count + 1)
    threads = [threading.Thread(target=target, args=(barrier,)) for _ in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def worker_raw(request: dict[str, Any]) -> dict[str, Any]:
    """N threads, one stock hvac client each, writing ``count`` distinct KV v2 paths."""
    import hvac

    count, lock, errors = request["count"], threading.Lock(), []
    numbers = iter(range(count))

    def run(barrier: threading.Barrier) -> None:
        client = hvac.Client(url=request["addr"], token=request["token"], timeout=30)
        barrier.wait()
        while True:
            with lock:
                number = next(numbers, None)
            if number is None:
                return
            try:
                client.secrets.kv.v2.create_or_update_secret(
                    path=f"{request['prefix']}/s{number:05d}", secret={"value": secrets.token_urlsafe(18)},
                    mount_point=MOUNT)
            except Exception as exc:  # reported, not raised: the figure is then not used
                errors.append(type(exc).__name__)
                return

    seconds = _threads(request["threads"], run)
    return {"writes": count, "threads": request["threads"], "seconds": seconds, "per_s": count / seconds,
            "errors": errors[:5]}


def worker_read(request: dict[str, Any]) -> dict[str, Any]:
    """Read every (path, field) from the vault and compare with the expected value (no value is
    ever printed): how many are equal, missing or different."""
    import hvac

    items, lock = request["items"], threading.Lock()
    pending = iter(items)
    counts: collections.Counter[str] = collections.Counter()

    def run(barrier: threading.Barrier) -> None:
        client = hvac.Client(url=request["addr"], token=request["token"], timeout=30)
        barrier.wait()
        while True:
            with lock:
                item = next(pending, None)
            if item is None:
                return
            path, name, value = item
            try:
                data = client.secrets.kv.v2.read_secret_version(
                    path=f"{request['prefix']}/{path}", mount_point=MOUNT, raise_on_deleted_version=True)
                found = ((data.get("data") or {}).get("data") or {}).get(name)
            except hvac.exceptions.InvalidPath:
                found = None
            outcome = "missing" if found is None else "equal" if found == value else "different"
            with lock:
                counts[outcome] += 1

    seconds = _threads(request["threads"], run)
    return {"checked": len(items), "seconds": seconds, **{k: counts[k] for k in ("equal", "missing", "different")}}


def worker_plan(request: dict[str, Any]) -> dict[str, Any]:
    """What the plan holds, and whether it is exactly the planted (file, value) pairs; the
    (path, field, value) of every secret, for reading them back later."""
    plan = json.loads(Path(request["plan"]).read_text())
    cache: dict[str, bytes] = {}
    found: collections.Counter[tuple[str, str]] = collections.Counter()
    styles: collections.Counter[str] = collections.Counter()
    items = []
    for secret in plan["secrets"]:
        for index, occurrence in enumerate(secret["occurrences"]):
            path = str(Path(occurrence["root"]) / occurrence["path"])
            data = cache.setdefault(path, Path(path).read_bytes())
            value = data[occurrence["start_byte"]:occurrence["end_byte"]].decode("utf-8", "replace")
            found[(path, value)] += 1
            styles[occurrence["style"]] += 1
            if index == 0:
                items.append([secret["ref"]["path"], secret["ref"]["field"], value])
    planted = collections.Counter((path, value) for path, value in request["planted"])
    return {"secrets": len(plan["secrets"]), "occurrences": sum(found.values()), "files": len(cache),
            "styles": dict(sorted(styles.items())), "missing": sum((planted - found).values()),
            "extra": sum((found - planted).values()), "notes": len(plan.get("notes") or []),
            "errors": len(plan.get("errors") or []), "items": items,
            "backends": sorted({s["ref"]["backend"] for s in plan["secrets"]})}


def worker_leaks(request: dict[str, Any]) -> dict[str, Any]:
    """Every file under root (companions included) searched for every planted value."""
    values = set(request["values"])
    lengths = sorted({len(v) for v in values})
    shortest = lengths[0] if lengths else 1
    run = re.compile(rb"[A-Za-z0-9_]{%d,}" % shortest)  # the values' alphabet: a value sits inside such a run
    leaks: dict[str, int] = {}
    files = 0
    for dirpath, _, filenames in os.walk(request["root"]):
        for name in filenames:
            path = os.path.join(dirpath, name)
            files += 1
            text = Path(path).read_bytes()
            hits = 0
            for match in run.finditer(text):
                token = match.group().decode()
                for length in lengths:
                    hits += sum(token[i:i + length] in values for i in range(len(token) - length + 1))
            if hits:
                leaks[os.path.relpath(path, request["root"])] = hits
    return {"files": files, "leaks": leaks}


WORKERS = {"raw": worker_raw, "read": worker_read, "plan": worker_plan, "leaks": worker_leaks}


# --------------------------------------------------------------------------- the migration


@dataclass
class Step:
    name: str
    wall_s: float | None = None  # best of the runs
    wall_s_runs: list[float] = field(default_factory=list)
    cpu_s: float | None = None  # of the best run
    peak_mb: float | None = None  # highest of the runs
    phases: dict[str, float] = field(default_factory=dict)  # of the best run (apply: from the journal)

    def add(self, measured: Measured, phases: dict[str, float] | None = None) -> None:
        self.wall_s_runs.append(round(measured.wall_s, 3))
        self.peak_mb = round(max(self.peak_mb or 0.0, measured.peak_mb), 1)
        if self.wall_s is None or measured.wall_s < self.wall_s:
            self.wall_s = round(measured.wall_s, 3)
            self.cpu_s = round(measured.cpu_s, 2)
            self.phases = phases or {}


class BenchError(RuntimeError):
    """A step failed or a check did not hold: the run stops with this one line."""


def journal_phases(state: Path) -> dict[str, float]:
    """From the apply run's journal events: seconds from the run's start to the last secret
    stored (store phase, files read first), then to the last file rewritten, and the run."""
    db = sqlite3.connect(state / "journal.sqlite")
    try:
        run_id, started, finished = db.execute(
            "SELECT id, started, finished FROM runs WHERE kind='apply' ORDER BY started DESC LIMIT 1").fetchone()
        stored = db.execute("SELECT MAX(at) FROM events WHERE run_id=? AND what='secret stored'",
                            (run_id,)).fetchone()[0]
        rewritten = db.execute("SELECT MAX(at) FROM events WHERE run_id=? AND what='file rewritten'",
                               (run_id,)).fetchone()[0]
    finally:
        db.close()
    return {"store_s": round(stored - started, 3), "rewrite_s": round(rewritten - stored, 3),
            "run_s": round(finished - started, 3)}


def tree_digests(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under root."""
    out = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


class Migration:
    """The fleet, the server and the commands; one instance per bench run."""

    def __init__(self, args: argparse.Namespace, work: Path, results: Path, addr: str, token: str) -> None:
        self.args = args
        self.work = work
        self.results = results
        self.addr = addr
        self.token = token
        self.root = work / "fleet"
        self.inventory = self.root / "ansible" / "inventory.yml"
        self.exe = str(args.vaultshift)
        home = work / "home"
        home.mkdir(exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR",
                                                                 "XDG_RUNTIME_DIR", "PYTHONDONTWRITEBYTECODE")}
        self.env.update(HOME=str(home), NO_COLOR="1", VAULT_ADDR=addr, VAULT_TOKEN=token,
                        VAULTSHIFT_FINGERPRINT_KEY=secrets.token_hex(32))
        self.originals: dict[str, str] = {}
        self.items: list[list[str]] = []  # (path, field, value) of every planned secret
        self.values: list[str] = []

    def config(self, prefix: str) -> Path:
        path = self.work / f"vaultshift-{prefix}.yml"
        path.write_text(f"backends:\n  vault: {{type: vault, addr: '{self.addr}', mount: {MOUNT}, "
                        f"prefix: {prefix}}}\n")
        return path

    def run(self, name: str, *argv: str) -> Measured:
        return run_measured([self.exe, *argv], self.work, self.env, self.results / f"migrate-{name}.stdout.txt",
                            self.results / f"migrate-{name}.stderr.txt")

    def plan(self, number: int) -> Measured:
        measured = self.run(f"plan-{number}", "plan", str(self.root), "-i", str(self.inventory), "-o",
                            str(self.work / "plan.json"), "--no-progress", "--config", str(self.config("unused")))
        if measured.exit_code != 0:
            raise BenchError(f"vaultshift plan exited {measured.exit_code}: {' | '.join(measured.stderr_tail)}")
        return measured

    def check_plan(self, planted: list[tuple[str, str]]) -> dict[str, Any]:
        facts = worker("plan", {"plan": str(self.work / "plan.json"), "planted": planted})
        self.items = facts.pop("items")
        return facts

    def apply(self, name: str, prefix: str, state: Path, check: str) -> Measured:
        extra = ["--agent-check", check] if check != "auto" else []
        if self.args.concurrency:
            extra += ["--concurrency", str(self.args.concurrency)]
        measured = self.run(name, "apply", str(self.work / "plan.json"), "--state-dir", str(state), "--config",
                            str(self.config(prefix)), *extra)
        expected = (f"{len(self.items)} secrets stored (0 already there), {self.args.files} files rewritten "
                    "(0 already done), 0 problems")
        if measured.exit_code != 0 or not any(expected in line for line in measured.stderr_tail):
            raise BenchError(f"vaultshift apply exited {measured.exit_code}, expected '{expected}': "
                             f"{' | '.join(measured.stderr_tail)}")
        return measured

    def verify_applied(self, prefix: str) -> dict[str, Any]:
        leaks = worker("leaks", {"root": str(self.root), "values": self.values})
        if leaks["leaks"]:
            first = sorted(leaks["leaks"])[:3]
            raise BenchError(f"planted values left in {len(leaks['leaks'])} files after apply, e.g. {first}")
        read = worker("read", {"addr": self.addr, "token": self.token, "prefix": prefix, "items": self.items,
                               "threads": RAW_THREADS})
        if read["equal"] != len(self.items):
            raise BenchError(f"reading the secrets back: {read['equal']} equal, {read['missing']} missing, "
                             f"{read['different']} different, of {len(self.items)}")
        return {"files_searched": leaks["files"], "secrets_read_back": read["equal"],
                "read_back_s": round(read["seconds"], 3)}

    def rollback(self, name: str, prefix: str, state: Path) -> Measured:
        measured = self.run(name, "rollback", "--state-dir", str(state), "--config", str(self.config(prefix)))
        if measured.exit_code != 0:
            raise BenchError(f"vaultshift rollback exited {measured.exit_code}: {' | '.join(measured.stderr_tail)}")
        now = tree_digests(self.root)
        if now != self.originals:
            changed = sorted(k for k in set(now) | set(self.originals) if now.get(k) != self.originals.get(k))
            raise BenchError(f"rollback left {len(changed)} files different from the originals, e.g. {changed[:3]}")
        return measured

    def raw(self, prefix: str) -> dict[str, Any]:
        result = worker("raw", {"addr": self.addr, "token": self.token, "prefix": prefix,
                                "count": self.args.raw_writes or self.args.secrets, "threads": self.args.raw_threads})
        if result["errors"]:
            raise BenchError(f"raw writes failed: {result['errors']}")
        return result


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, spec: str) -> str:
    if value is not None:
        return format(value, spec)
    width = re.match(r"\d*", spec)
    return "-".rjust(int(width[0]) if width and width[0] else 1)


def evaluate_targets(apply_s: float | None, ratio: float | None) -> list[dict[str, Any]]:
    out = []
    for name, value, passed, shown in (
            (f"whole apply < {TARGET_APPLY_S:g} s", apply_s, apply_s is not None and apply_s < TARGET_APPLY_S,
             f"{_fmt(apply_s, '.2f')} s"),
            (f"apply secrets/s >= {TARGET_RATIO:g} x raw server", ratio, ratio is not None and ratio >= TARGET_RATIO,
             f"{_fmt(ratio, '.2f')} x")):
        out.append({"target": name, "value": value, "status": "SKIP" if value is None else "PASS" if passed else
                    "FAIL", "shown": shown if value is not None else "not measured"})
    return out


def file_system(path: Path) -> str:
    """The type of the file system holding ``path`` and its device, from /proc/self/mounts; for
    ext4, whether it has a journal (/sys/fs/ext4/DEV/journal_task is "<none>" without one: there
    every new inode is found by skipping the recently freed ones one by one, which makes creating
    many files after removing many far slower)."""
    try:
        mounts = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    resolved = str(path.resolve())
    best = max((m for m in mounts if len(m) > 2 and (resolved == m[1] or resolved.startswith(m[1].rstrip("/") + "/"))),
               key=lambda m: len(m[1]), default=None)
    if best is None:
        return "unknown"
    device, mount_point, kind = best[0], best[1], best[2]
    text = f"{kind} at {mount_point} ({device})"
    if kind == "ext4":
        try:
            task = (Path("/sys/fs/ext4") / Path(device).name / "journal_task").read_text().strip()
        except OSError:
            task = ""
        if task == "<none>":
            text += ", without a journal"
        elif task:
            text += ", with a journal"
    return text


def bao_version(exe: Path) -> str:
    proc = subprocess.run([str(exe), "version"], capture_output=True, text=True, check=False)
    text = (proc.stdout.strip().splitlines() or ["?"])[0]
    return text.split(" (")[0]  # "OpenBao v2.7.2"


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=DEFAULT_FILES, help="config files with secrets (default %(default)s)")
    ap.add_argument("--occurrences", type=int, default=DEFAULT_OCCURRENCES,
                    help="secret occurrences in them (default %(default)s)")
    ap.add_argument("--secrets", type=int, default=DEFAULT_SECRETS, help="distinct secrets (default %(default)s)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="plan/apply/rollback and raw runs, round-robin; the best times are kept (default 1)")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="output folder (default: %(default)s)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (fleet, plan, journals) and say where")
    ap.add_argument("--work-dir", type=Path, default=None,
                    help="where the work folder (fleet, plan, journals) is made: its file system is what apply "
                         "writes to (default: the system's temporary directory)")
    ap.add_argument("--with-auto-check", action="store_true",
                    help="after the timed runs, one more apply with the default --agent-check (auto: every agent "
                         "template rendered by a real bao agent; several minutes)")
    ap.add_argument("--concurrency", type=int, default=0,
                    help="pass --concurrency N to apply (default: apply's own default)")
    ap.add_argument("--raw-threads", type=int, default=RAW_THREADS, help="threads of the raw writes (default 8)")
    ap.add_argument("--raw-writes", type=int, default=0, help="raw writes per run (default: as many as secrets)")
    ap.add_argument("--seed", type=int, default=1, help="layout of the fleet (the values are random every run)")
    ap.add_argument("--vaultshift", type=Path, default=Path(sys.executable).parent / "vaultshift",
                    help="vaultshift executable (default: beside sys.executable)")
    ap.add_argument("--bao", type=Path, default=Path(sys.executable).parent / "bao",
                    help="bao executable for the dev server (default: beside sys.executable)")
    ap.add_argument("--fail-on-targets", action="store_true", help="exit 3 when a target is missed")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return args
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    from fleet import check_counts

    problem = check_counts(args.files, args.occurrences, args.secrets)
    if problem:
        ap.error(problem)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        json.dump(WORKERS[args.worker](json.load(sys.stdin)), sys.stdout)
        return 0
    for exe in (args.vaultshift, args.bao):
        if not exe.exists():
            print(f"bench: not found: {exe} (run the bench with the project venv's python)", file=sys.stderr)
            return 2
    results: Path = args.results.resolve()
    results.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    import fleet as fleetgen
    from corpus import _compile_package, _vaultshift_version
    from servers import bao_server

    # vaultshift is installed editable and PYTHONDONTWRITEBYTECODE is set here: without this every
    # run would compile the package first, as a regular install would not.
    _compile_package()
    work = Path(tempfile.mkdtemp(prefix="vaultshift-migrate-", dir=args.work_dir))
    report: dict[str, Any] = {"generated": datetime.now(UTC).isoformat(timespec="seconds"),
                              "vaultshift": _vaultshift_version(), "bao": bao_version(args.bao),
                              "settings": {"files": args.files, "occurrences": args.occurrences,
                                           "secrets": args.secrets, "repeat": args.repeat, "seed": args.seed,
                                           "concurrency": args.concurrency or "apply's default",
                                           "raw_threads": args.raw_threads, "timed_agent_check": "never"}}
    status = 0
    try:
        started = time.perf_counter()
        fleet = fleetgen.generate(work / "fleet", args.files, args.occurrences, args.secrets, args.seed)
        planted = [(path, value) for path, value in fleet.planted()]
        layout = {"files": len(fleet.files), "occurrences": fleet.occurrences, "secrets": len(fleet.secrets),
                  "hosts": sum(1 for apps in fleet.hosts.values() if apps),
                  "kinds": dict(sorted(collections.Counter(f.kind for f in fleet.files).items())),
                  "bytes": sum((work / "fleet" / f.path).stat().st_size for f in fleet.files),
                  "generate_s": round(time.perf_counter() - started, 2)}
        values = sorted({s.value for s in fleet.secrets})
        del fleet
        report["fleet"] = layout
        report["file_system"] = file_system(work)
        with bao_server(work / "bao", token=f"root-{secrets.token_hex(8)}") as server:
            report["server"] = {"addr": server.addr, "mode": "bao server -dev (in memory)"}
            migration = Migration(args, work, results, server.addr, server.token)
            migration.values = values
            migration.originals = tree_digests(migration.root)
            status = run_all(args, migration, planted, report, server.process.pid)
    except BenchError as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        report["error"] = str(exc)
        status = 1
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
            report["work"] = str(work)
        else:
            shutil.rmtree(work, ignore_errors=True)
        out_json = results / "migrate.json"
        out_json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"figures written to {out_json}")
    return status


def run_all(args: argparse.Namespace, migration: Migration, planted: list[tuple[str, str]],
            report: dict[str, Any], server_pid: int) -> int:
    steps = {name: Step(name) for name in ("plan", "apply", "rollback")}
    raw_runs: list[dict[str, Any]] = []
    checks: dict[str, Any] = {}
    load_before = os.getloadavg()
    cpu_before = cpu_snapshot(server_pid)
    floor = spawn_floor_mb(migration.work, migration.env, migration.results)
    for number in range(1, args.repeat + 1):
        tag = f"{number}/{args.repeat}"
        print(f"[{tag}] raw writes ...", end=" ", file=sys.stderr, flush=True)
        raw = migration.raw(f"raw-{number}-{secrets.token_hex(3)}")
        raw_runs.append(raw)
        print(f"{raw['per_s']:.0f}/s; plan ...", end=" ", file=sys.stderr, flush=True)
        measured = migration.plan(number)
        steps["plan"].add(measured)
        if number == 1:
            checks["plan"] = migration.check_plan(planted)
            facts = checks["plan"]
            if (facts["missing"], facts["extra"], facts["files"]) != (0, 0, args.files):
                raise BenchError(f"the plan does not hold exactly the planted secrets: {facts['missing']} "
                                 f"occurrences missing, {facts['extra']} extra, {facts['files']} files")
        print(f"{measured.wall_s:.2f} s; apply ...", end=" ", file=sys.stderr, flush=True)
        prefix, state = f"run-{number}-{secrets.token_hex(3)}", migration.work / f"state-{number}"
        measured = migration.apply(f"apply-{number}", prefix, state, "never")
        steps["apply"].add(measured, journal_phases(state))
        print(f"{measured.wall_s:.2f} s; verify ...", end=" ", file=sys.stderr, flush=True)
        checks["applied"] = migration.verify_applied(prefix)
        print("ok; rollback ...", end=" ", file=sys.stderr, flush=True)
        measured = migration.rollback(f"rollback-{number}", prefix, state)
        steps["rollback"].add(measured)
        print(f"{measured.wall_s:.2f} s, every byte back", file=sys.stderr)
    load_after = os.getloadavg()
    others = other_work(cpu_before, cpu_snapshot(server_pid))

    auto: dict[str, Any] | None = None
    if args.with_auto_check:
        print("[auto] apply with the default --agent-check (a real agent renders every template) ...", end=" ",
              file=sys.stderr, flush=True)
        prefix, state = f"auto-{secrets.token_hex(3)}", migration.work / "state-auto"
        measured = migration.apply("apply-auto", prefix, state, "auto")
        auto = {"wall_s": round(measured.wall_s, 3), "cpu_s": round(measured.cpu_s, 2),
                "peak_mb": round(measured.peak_mb, 1), "phases": journal_phases(state),
                "secrets_per_s": round(len(migration.items) / measured.wall_s, 1)}
        migration.verify_applied(prefix)
        print(f"{measured.wall_s:.2f} s; rollback ...", end=" ", file=sys.stderr, flush=True)
        migration.rollback("rollback-auto", prefix, state)
        print("every byte back", file=sys.stderr)

    secrets_n = len(migration.items)
    apply_step = steps["apply"]
    best_raw = max(raw_runs, key=lambda r: r["per_s"])
    apply_rate = secrets_n / apply_step.wall_s if apply_step.wall_s else None
    store_s = apply_step.phases.get("store_s")
    store_rate = secrets_n / store_s if store_s else None
    ratio = apply_rate / best_raw["per_s"] if apply_rate else None
    store_ratio = store_rate / best_raw["per_s"] if store_rate else None
    # Each round's apply over the same round's raw rate: drift within a run (a neighbour slowing
    # the VM down) shows here, where the best-over-best ratio hides it.
    per_round = [round(secrets_n / wall / raw["per_s"], 3)
                 for wall, raw in zip(apply_step.wall_s_runs, raw_runs, strict=False) if wall and raw["per_s"]]
    targets = evaluate_targets(apply_step.wall_s, ratio)

    fleet_facts, plan_facts = report["fleet"], checks["plan"]
    print()
    print(f"fleet: {fleet_facts['files']} files ({', '.join(f'{k} {v}' for k, v in fleet_facts['kinds'].items())}) "
          f"on {fleet_facts['hosts']} hosts and ansible/, {fleet_facts['bytes'] / 1e6:.1f} MB; "
          f"{fleet_facts['occurrences']} occurrences of {fleet_facts['secrets']} fake secrets")
    print(f"plan: {plan_facts['secrets']} secrets, {plan_facts['occurrences']} occurrences in {plan_facts['files']} "
          f"files ({', '.join(f'{k} {v}' for k, v in plan_facts['styles'].items())}): exactly the planted ones")
    print(f"server: {report['bao']}, -dev (in memory) at {migration.addr}; vaultshift {report['vaultshift']}")
    print(f"machine: {os.cpu_count()} CPUs, load average {load_before[0]:.2f} before / {load_after[0]:.2f} after; "
          f"best of {args.repeat} run(s)")
    print(f"fleet's file system: {report['file_system']}")
    print(f"other work during the timed runs: {others['other_cpu_s']:.1f} CPU-s ({100 * others['other_share']:.0f}% "
          f"of the machine over {others['wall_s']:.0f} s), hypervisor steal {100 * others['steal_share']:.0f}% "
          "(the load average after includes the bench's own work)")
    if others["other_share"] > 0.1 or others["steal_share"] > 0.05:
        print(f"WARNING: busy machine (other work {100 * others['other_share']:.0f}%, steal "
              f"{100 * others['steal_share']:.0f}% of the CPUs while the bench ran): timings are noisy; use --repeat "
              "on a quiet machine for figures you quote")
    print()
    print(f"{'step':<34} {'best s':>8} {'cpu s':>8} {'peak MB':>8}  runs (s)")
    rows = [("vaultshift plan", steps["plan"]), ("vaultshift apply --agent-check never", apply_step),
            ("vaultshift rollback", steps["rollback"])]
    for label, step in rows:
        print(f"{label:<34} {_fmt(step.wall_s, '8.2f')} {_fmt(step.cpu_s, '8.2f')} {_fmt(step.peak_mb, '8.1f')}  "
              f"{' '.join(f'{w:.2f}' for w in step.wall_s_runs)}")
        if step is apply_step and step.phases:
            print(f"  {'store phase (journal)':<32} {step.phases['store_s']:8.2f}")
            print(f"  {'rewrite phase (journal)':<32} {step.phases['rewrite_s']:8.2f}")
    raw_label = f"raw writes ({args.raw_threads} hvac threads)"
    raw_times = " ".join(f"{r['seconds']:.2f}" for r in raw_runs)
    print(f"{raw_label:<34} {best_raw['seconds']:8.2f} {'':>8} {'':>8}  {raw_times}")
    if auto:
        print(f"{'vaultshift apply (auto check, once)':<34} {auto['wall_s']:8.2f} {auto['cpu_s']:8.2f} "
              f"{auto['peak_mb']:8.1f}")
    print(f"peak MB: ru_maxrss via os.wait4 (largest single process of the command and its reaped children); "
          f"spawn floor {floor:.1f} MB")
    for label, step in rows:
        if step.peak_mb is not None and step.peak_mb <= floor + 1:
            print(f"NOTE: {label}: its peak is at the spawn floor; its own peak may be lower")
    print()
    print(f"apply: {_fmt(apply_rate, '.0f')} secrets/s (whole run; store phase alone "
          f"{_fmt(store_rate, '.0f')} secrets/s); raw server: {best_raw['per_s']:.0f} secrets/s "
          f"({args.raw_threads} threads, one stock hvac client each, {best_raw['writes']} distinct KV v2 paths)")
    print(f"apply / raw = {_fmt(ratio, '.2f')} (store phase / raw = {_fmt(store_ratio, '.2f')}); round by round "
          f"{', '.join(f'{r:.2f}' for r in per_round)}")
    if auto:
        print(f"apply with the default agent check: {auto['wall_s']:.2f} s, {auto['secrets_per_s']:.0f} secrets/s "
              f"(rewrite phase {auto['phases']['rewrite_s']:.1f} s: one bao agent render per agent-rendered file)")
    applied = checks["applied"]
    print(f"verified: no planted value in any of the {applied['files_searched']} files after apply (companions "
          f"included); {applied['secrets_read_back']}/{secrets_n} secrets read back from the vault equal; rollback "
          f"restored all {len(migration.originals)} files byte for byte")
    print()
    print("targets")
    for target in targets:
        print(f"  {target['status']:<4}  {target['target']:<40} {target['shown']}")

    report.update({
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_before": load_before, "loadavg_after": load_after, "during_timed_runs": others},
        "spawn_floor_mb": floor,
        "memory_method": "os.wait4 ru_maxrss of the command's process (the largest single process among it and "
                         "the children it reaped, e.g. bao agent in the auto check); MB = MiB",
        "plan": plan_facts, "steps": {name: asdict(step) for name, step in steps.items()},
        "raw": {"runs": raw_runs, "best_per_s": round(best_raw["per_s"], 1)},
        "secrets_per_s": {"apply": _round(apply_rate), "store_phase": _round(store_rate),
                          "raw": round(best_raw["per_s"], 1)},
        "ratio": {"apply_to_raw": _round(ratio, 3), "store_phase_to_raw": _round(store_ratio, 3),
                  "apply_to_raw_per_round": per_round},
        "verified": applied, "auto_check_run": auto, "targets": targets,
    })
    if args.fail_on_targets and any(t["status"] == "FAIL" for t in targets):
        return 3
    return 0


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


if __name__ == "__main__":
    sys.exit(main())
