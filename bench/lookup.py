"""Benchmark the runtime lookup: one playbook over N inventory hosts, each templating a config that
reads M secrets, run three ways in the same bench run against one local OpenBao dev server:

  constants   the M values written into the template as constant strings (Ansible's own cost)
  vaultshift  lookup('vaultshift.secrets.secret', 'apps/bench/sNN#value', auth_method='approle')
  peer        lookup('community.hashi_vault.vault_kv2_get', 'apps/bench/sNN', engine_mount_point='secret',
              auth_method='approle').secret.value

    python bench/lookup.py [--repeat 3] [--hosts 100] [--secrets 20] [--forks 5,10] [--with-floor]
                           [--no-peer] [--results DIR] [--keep] [--fail-on-targets]

Run it with the project venv's python (ansible-playbook and bao are taken from beside sys.executable).
Both lookups log in with AppRole, from the same ANSIBLE_HASHI_VAULT_ROLE_ID / _SECRET_ID
environment variables. Each lookup's overhead is its best wall time minus the constants run's; the
logins and reads each run made are counted in the server's file audit log. Every rendered file is
compared with the expected text before a time counts. community.hashi_vault comes from the
`ansible` wheel (bench/peers.py, extracted into bench/.peers/collections, never installed). Figures
go to stdout and to bench/results/lookup.json; no value is printed or written there. This is a
benchmark, not a test: missed targets print FAIL but do not change the exit status unless
--fail-on-targets is given.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
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
BIN = Path(sys.executable).parent
MOUNT = "secret"
SECRET_DIR = "apps/bench"
ROLE = "bench"

# Targets (the issue): one login per run, and at least 10x less lookup overhead than the peer.
TARGET_LOGINS = 1
TARGET_RATIO = 10.0

RUNS = ("constants", "vaultshift", "peer", "floor")  # floor: only with --with-floor
VAULTSHIFT = "vaultshift.secrets.secret"
PEER = "community.hashi_vault.vault_kv2_get"


# --------------------------------------------------------------------------- the playbook


def secret_name(number: int) -> str:
    return f"s{number:02d}"


def expression(run: str, number: int, value: str) -> str:
    """The Jinja expression that yields secret ``number`` in ``run``."""
    name = secret_name(number)
    if run == "constants":
        return f"'{value}'"  # letters and digits only (make_value): no quoting needed
    if run == "vaultshift":
        return f"lookup('{VAULTSHIFT}', '{SECRET_DIR}/{name}#value', auth_method='approle')"
    if run == "floor":  # Ansible's own cost of a lookup call: a builtin lookup of a play variable
        return f"lookup('ansible.builtin.vars', 'bench_{name}')"
    return (f"lookup('{PEER}', '{SECRET_DIR}/{name}', engine_mount_point='{MOUNT}', "
            "auth_method='approle').secret.value")


def template_text(run: str, values: list[str]) -> str:
    lines = ["# {{ inventory_hostname }}: generated configuration\n"]
    lines += [f"{secret_name(n)} = {{{{ {expression(run, n, v)} }}}}\n" for n, v in enumerate(values)]
    return "".join(lines)


def expected_text(host: str, values: list[str]) -> str:
    lines = [f"# {host}: generated configuration\n"]
    lines += [f"{secret_name(n)} = {v}\n" for n, v in enumerate(values)]
    return "".join(lines)


def playbook_text(template: Path, out: Path, play_vars: dict[str, str] | None = None) -> str:
    lines = "".join(f"    {name}: '{value}'\n" for name, value in (play_vars or {}).items())
    return f"""- hosts: all
  gather_facts: false
{"  vars:" + chr(10) + lines if lines else ""}  tasks:
    - name: render the configuration
      ansible.builtin.template:
        src: "{template}"
        dest: "{out}/{{{{ inventory_hostname }}}}.conf"
        mode: "0600"
"""


def host_names(count: int) -> list[str]:
    return [f"h{number:03d}" for number in range(count)]


# --------------------------------------------------------------------------- measuring


@dataclass
class RunResult:
    """One ansible-playbook run of one kind at one forks setting."""

    run: str
    forks: int
    repetition: int
    exit_code: int
    wall_s: float
    cpu_s: float  # user + system of ansible-playbook and the workers it reaped
    server_cpu_s: float  # the bao server's user + system during the run
    session_cpu_s: float | None  # the vaultshift session process (read just before it ended)
    machine_busy_s: float  # busy CPU-seconds of the whole machine during the run (/proc/stat)
    other_cpu_s: float  # machine_busy_s minus the three above: other work on the machine (approx.)
    logins: int
    reads: int
    other_requests: dict[str, int]  # path -> count, everything else the server was asked
    files_ok: int
    files_wrong: int
    session_end_s: float | None  # from the playbook's exit until its session's files were gone
    sessions_left: int
    ok: bool
    problem: str = ""


@dataclass
class Series:
    run: str
    forks: int
    results: list[RunResult] = field(default_factory=list)

    @property
    def good(self) -> list[RunResult]:
        return [r for r in self.results if r.ok]

    @property
    def best(self) -> RunResult | None:
        return min(self.good, key=lambda r: r.wall_s, default=None)


def proc_cpu_s(pid: int) -> float | None:
    """user + system CPU-seconds of a live process (None when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    user, nice, system, _, _, irq, softirq = (fields + [0] * 7)[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def session_pids(run_pid: int) -> list[int]:
    """The vaultshift session server(s) serving the ansible-playbook process ``run_pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"migrator.session" in argv and b"--run-pid" in argv:
            index = argv.index(b"--run-pid")
            if index + 1 < len(argv) and argv[index + 1] == str(run_pid).encode():
                found.append(int(entry.name))
    return found


def session_dir() -> Path:
    """Where the lookup keeps its sessions under this bench's Ansible environment (which carries
    no XDG_RUNTIME_DIR): migrator.session.wire.private_dir's fallback."""
    return Path(tempfile.gettempdir()) / f"vaultshift-{os.getuid()}"


def session_files(run_pid: int) -> list[Path]:
    with contextlib.suppress(OSError):
        return sorted(session_dir().glob(f"session-{run_pid}-*"))
    return []


def audit_counts(log: Path, start: int) -> tuple[int, dict[str, int], int]:
    """(logins, other paths -> count, reads) among the requests logged from byte ``start`` on."""
    with open(log, "rb") as fh:
        fh.seek(start)
        data = fh.read()
    logins = reads = 0
    others: dict[str, int] = {}
    for line in data.splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        if entry.get("type") != "request":
            continue
        request = entry.get("request") or {}
        path, operation = request.get("path", ""), request.get("operation", "")
        if path == "auth/approle/login":
            logins += 1
        elif path.startswith(f"{MOUNT}/data/{SECRET_DIR}/") and operation == "read":
            reads += 1
        else:
            key = f"{operation} {path}"
            others[key] = others.get(key, 0) + 1
    return logins, others, reads


class Bench:
    """The work folder, the server, the inventory and templates; runs and checks the playbooks."""

    def __init__(self, args: argparse.Namespace, work: Path, results: Path, server: Any, audit_log: Path,
                 values: list[str], credentials: dict[str, str], collections_path: str) -> None:
        sys.path.insert(0, str(REPO_ROOT / "tests"))
        from ansible_run import ansible_env

        self.args = args
        self.work = work
        self.results = results
        self.server = server
        self.audit_log = audit_log
        self.values = values
        self.hosts = host_names(args.hosts)
        self.inventory = work / "inventory"
        self.inventory.write_text("".join(f"{h} ansible_connection=local\n" for h in self.hosts))
        self.books: dict[str, Path] = {}
        self.outs: dict[str, Path] = {}
        for run in RUNS:
            template = work / f"{run}.conf.j2"
            template.write_text(template_text(run, values))
            self.outs[run] = work / f"out-{run}"
            # Not "vaultshift.yml": the lookup reads a configuration of that name from the current folder.
            self.books[run] = work / f"play-{run}.yml"
            play_vars = {f"bench_{secret_name(n)}": v for n, v in enumerate(values)} if run == "floor" else None
            self.books[run].write_text(playbook_text(template, self.outs[run], play_vars))
        self.env = ansible_env(work / "home", {
            "ANSIBLE_COLLECTIONS_PATH": collections_path,
            "VAULT_ADDR": server.addr,
            **credentials,
        })
        self.expected = {host: expected_text(host, values) for host in self.hosts}

    def redact(self, text: str) -> str:
        for secret in (*self.values, *(v for k, v in self.env.items() if k.endswith(("ROLE_ID", "SECRET_ID")))):
            text = text.replace(secret, "[redacted]")
        return text

    def play(self, run: str, forks: int, repetition: int, hosts: list[str] | None = None) -> RunResult:
        out = self.outs[run]
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        inventory = self.inventory
        if hosts is not None:  # the warm-up: a few hosts only
            inventory = self.work / "inventory-warmup"
            inventory.write_text("".join(f"{h} ansible_connection=local\n" for h in hosts))
        hosts = hosts if hosts is not None else self.hosts
        argv = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(self.books[run]), "--forks", str(forks)]
        log_start = self.audit_log.stat().st_size
        server_before = proc_cpu_s(self.server.process.pid) or 0.0
        busy_before = machine_busy_s()
        stdout, stderr = self.work / "playbook.stdout", self.work / "playbook.stderr"
        session_cpu: float | None = None
        timed_out = threading.Event()
        with open(stdout, "wb") as so, open(stderr, "wb") as se:
            started = time.perf_counter()
            proc = subprocess.Popen(argv, cwd=self.work, env=self.env, stdin=subprocess.DEVNULL, stdout=so,
                                    stderr=se, start_new_session=True)

            def kill() -> None:
                timed_out.set()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)

            timer = threading.Timer(self.args.timeout, kill)
            timer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            except BaseException:
                kill()
                proc.wait()
                raise
            finally:
                timer.cancel()
            wall = time.perf_counter() - started
            # The session server notices the run's end within half a second; read its CPU first.
            for pid in session_pids(proc.pid):
                session_cpu = (session_cpu or 0.0) + (proc_cpu_s(pid) or 0.0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        ended = time.perf_counter()
        session_end: float | None = None
        while time.perf_counter() - ended < self.args.session_wait:
            if not session_files(proc.pid) and not session_pids(proc.pid):
                session_end = time.perf_counter() - ended
                break
            time.sleep(0.05)
        left = len(session_files(proc.pid))
        server_cpu = (proc_cpu_s(self.server.process.pid) or 0.0) - server_before
        busy = machine_busy_s() - busy_before
        logins, others, reads = audit_counts(self.audit_log, log_start)

        ok_files = wrong = 0
        for host in hosts:
            path = out / f"{host}.conf"
            try:
                same = path.read_text() == self.expected[host]
            except OSError:
                same = False
            ok_files += same
            wrong += not same
        extra = len({p.name for p in out.iterdir()} - {f"{host}.conf" for host in hosts})
        problems = []
        if timed_out.is_set():
            problems.append(f"killed after {self.args.timeout:g} s")
        if proc.returncode != 0:
            problems.append(f"ansible-playbook exited {proc.returncode}: {self.failure_line(stdout, stderr)}")
        if wrong or extra:
            problems.append(f"{wrong} of {len(hosts)} rendered files differ from the expected text"
                            + (f", {extra} unexpected files" if extra else ""))
        if left:
            problems.append(f"{left} session files left after {self.args.session_wait:g} s")
        tag = f"forks{forks}-{repetition}" if repetition else "warmup"
        for source in (stdout, stderr):
            (self.results / f"lookup-{run}-{tag}.{source.suffix[1:]}.txt").write_text(
                self.redact(source.read_text(errors="replace")))
        cpu = usage.ru_utime + usage.ru_stime
        return RunResult(run, forks, repetition, proc.returncode, round(wall, 3), round(cpu, 2),
                         round(server_cpu, 2), None if session_cpu is None else round(session_cpu, 2), round(busy, 2),
                         round(max(0.0, busy - cpu - server_cpu - (session_cpu or 0.0)), 2),
                         logins, reads, others, ok_files, wrong,
                         None if session_end is None else round(session_end, 2), left, not problems,
                         "; ".join(problems))

    def failure_line(self, stdout: Path, stderr: Path) -> str:
        """The first line naming the failure (fatal:, ERROR!, [ERROR]), redacted and cut short."""
        for source in (stdout, stderr):
            for line in source.read_text(errors="replace").splitlines():
                if re.search(r"fatal:|ERROR|Traceback", line):
                    return self.redact(line.strip())[:300]
        tail = (stderr.read_text(errors="replace").strip().splitlines() or ["(no output)"])[-1]
        return self.redact(tail)[:300]


# --------------------------------------------------------------------------- the server


def setup_server(server: Any, count: int) -> tuple[list[str], dict[str, str]]:
    """AppRole with a read policy on the bench's folder; ``count`` secrets of fake values there."""
    from servers import make_value

    client = server.client()
    client.sys.enable_auth_method("approle")
    client.sys.create_or_update_policy(f"{ROLE}-read",
                                       f'path "{MOUNT}/data/{SECRET_DIR}/*" {{ capabilities = ["read"] }}')
    # Many peer logins per run: their tokens live on (the peer does not revoke them); keep them short.
    client.auth.approle.create_or_update_approle(ROLE, token_policies=[f"{ROLE}-read"], token_ttl="30m",
                                                 token_max_ttl="60m")
    role_id = client.auth.approle.read_role_id(ROLE)["data"]["role_id"]
    secret_id = client.auth.approle.generate_secret_id(ROLE)["data"]["secret_id"]
    values = [make_value(24) for _ in range(count)]
    for number, value in enumerate(values):
        client.secrets.kv.v2.create_or_update_secret(path=f"{SECRET_DIR}/{secret_name(number)}",
                                                     secret={"value": value}, mount_point=MOUNT)
    return values, {"ANSIBLE_HASHI_VAULT_ROLE_ID": role_id, "ANSIBLE_HASHI_VAULT_SECRET_ID": secret_id}


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, spec: str) -> str:
    if value is not None:
        return format(value, spec)
    width = re.match(r"\d*", spec)
    return "-".rjust(int(width[0]) if width and width[0] else 1)


def counts_shown(values: list[int]) -> str:
    return str(values[0]) if values and len(set(values)) == 1 else ",".join(map(str, values)) or "-"


def work_cpu(result: RunResult) -> float:
    """CPU-seconds of everything that did the run's work: ansible-playbook with its workers, the
    server and (vaultshift) the session process."""
    return result.cpu_s + result.server_cpu_s + (result.session_cpu_s or 0.0)


def overheads(series: dict[tuple[str, int], Series], forks: int, lookups: int) -> dict[str, Any]:
    """Per lookup run: best wall time minus the constants run's (the figure the target uses), and
    the least work CPU of its runs minus the constants run's (CPU time is less sensitive than wall time
    to other work on the machine, but not immune: contention inflates it too, hence the least)."""
    base = series[("constants", forks)].best
    base_cpu = min((work_cpu(r) for r in series[("constants", forks)].good), default=None)
    out: dict[str, Any] = {"forks": forks, "constants_s": base.wall_s if base else None,
                           "constants_work_cpu_s": None if base_cpu is None else round(base_cpu, 2)}
    for run in ("vaultshift", "peer", "floor"):
        if (run, forks) not in series:
            continue
        best = series[(run, forks)].best
        over = round(best.wall_s - base.wall_s, 3) if best and base else None
        cpu = min((work_cpu(r) for r in series[(run, forks)].good), default=None)
        over_cpu = round(cpu - base_cpu, 2) if cpu is not None and base_cpu is not None else None
        out[run] = {"best_s": best.wall_s if best else None, "overhead_s": over,
                    "per_lookup_ms": None if over is None else round(1000 * over / lookups, 3),
                    "work_cpu_s": None if cpu is None else round(cpu, 2), "overhead_cpu_s": over_cpu,
                    "per_lookup_cpu_ms": None if over_cpu is None else round(1000 * over_cpu / lookups, 3)}
    vs, peer = out["vaultshift"]["overhead_s"], (out.get("peer") or {}).get("overhead_s")
    out["ratio"] = round(peer / vs, 1) if vs is not None and peer is not None and vs > 0 else None
    out["vaultshift_overhead_within_noise"] = vs is not None and vs <= 0
    vs_cpu, peer_cpu = out["vaultshift"]["overhead_cpu_s"], (out.get("peer") or {}).get("overhead_cpu_s")
    out["ratio_cpu"] = (round(peer_cpu / vs_cpu, 1) if vs_cpu is not None and peer_cpu is not None and vs_cpu > 0
                        else None)
    return out


def evaluate_targets(series: dict[tuple[str, int], Series], over: list[dict[str, Any]],
                     forks_list: list[int]) -> list[dict[str, Any]]:
    targets = []
    vs_logins = [r.logins for f in forks_list for r in series[("vaultshift", f)].good]
    status = "SKIP" if not vs_logins else "PASS" if all(n == TARGET_LOGINS for n in vs_logins) else "FAIL"
    targets.append({"target": f"logins per run == {TARGET_LOGINS} (vaultshift)", "value": vs_logins,
                    "status": status, "shown": f"{counts_shown(vs_logins)} in {len(vs_logins)} runs"
                    if vs_logins else "not measured"})
    for item in over:
        ratio, vs, peer = item["ratio"], item["vaultshift"]["overhead_s"], item["peer"]["overhead_s"]
        name = f"peer overhead / vaultshift overhead >= {TARGET_RATIO:g}x (forks {item['forks']})"
        if peer is None or vs is None:
            targets.append({"target": name, "value": None, "status": "SKIP", "shown": "not measured"})
        elif item["vaultshift_overhead_within_noise"]:
            # vaultshift's best run was no slower than the constants run: its overhead is below what
            # these repetitions resolve, so no ratio can be formed (not a PASS: noise is not a result).
            targets.append({"target": name, "value": None, "status": "SKIP",
                            "shown": f"not resolved: vaultshift {vs:+.2f} s, peer {peer:+.2f} s"})
        else:
            targets.append({"target": name, "value": ratio, "status": "PASS" if ratio >= TARGET_RATIO else "FAIL",
                            "shown": f"{ratio:.1f}x ({peer:.2f} s / {vs:.2f} s)"})
    return targets


def versions(peer_version: str | None) -> dict[str, Any]:
    from corpus import _vaultshift_version
    from migrate import bao_version

    def dist(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    from peers import ANSIBLE_PIN

    return {"vaultshift": _vaultshift_version(), "ansible-core": dist("ansible-core"), "hvac": dist("hvac"),
            "community.hashi_vault": peer_version,
            "community.hashi_vault_from": f"ansible {ANSIBLE_PIN} wheel" if peer_version else None,
            "bao": bao_version(BIN / "bao"), "python": platform.python_version()}


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each playbook, round-robin; the best wall time is kept (default 3)")
    ap.add_argument("--hosts", type=int, default=100, help="inventory hosts (default %(default)s)")
    ap.add_argument("--secrets", type=int, default=20, help="secrets each host's config reads (default %(default)s)")
    ap.add_argument("--forks", default="5,10",
                    help="comma-separated --forks settings, each measured in full (default %(default)s; "
                         "5 is Ansible's default)")
    ap.add_argument("--no-peer", action="store_true", help="constants and vaultshift only (ratio targets SKIP)")
    ap.add_argument("--with-floor", action="store_true",
                    help="a fourth run: the same values through lookup('ansible.builtin.vars', ...), Ansible's own "
                         "cost of calling a lookup (informative; not used by the targets)")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the untimed warm-up (one run of each playbook on 2 hosts)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds before a playbook run is killed")
    ap.add_argument("--session-wait", type=float, default=15,
                    help="seconds to wait after a run for its vaultshift session to end (default %(default)s)")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="output folder (default: %(default)s)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (templates, outputs) and say where")
    ap.add_argument("--fail-on-targets", action="store_true", help="exit 3 when a target is missed")
    args = ap.parse_args(argv)
    if args.repeat < 1 or args.hosts < 1 or args.secrets < 1:
        ap.error("--repeat, --hosts and --secrets must be >= 1")
    try:
        args.forks_list = [int(f) for f in args.forks.split(",") if f.strip()]
    except ValueError:
        ap.error("--forks takes numbers, e.g. 5,10")
    if not args.forks_list or min(args.forks_list) < 1:
        ap.error("--forks takes numbers >= 1, e.g. 5,10")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for exe in (BIN / "ansible-playbook", BIN / "bao"):
        if not exe.exists():
            print(f"bench: not found: {exe} (run the bench with the project venv's python)", file=sys.stderr)
            return 2
    results: Path = args.results.resolve()
    results.mkdir(parents=True, exist_ok=True)
    for old in results.glob("lookup-*.txt"):
        old.unlink()
    sys.path.insert(0, str(BENCH_DIR))
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    import peers
    from corpus import _compile_package
    from servers import bao_server

    collections = [str(REPO_ROOT / "collections")]
    peer_version: str | None = None
    peer_problem = "not requested (--no-peer)" if args.no_peer else None
    if not args.no_peer:
        try:
            folder, peer_version = peers.ensure_hashi_vault()
            collections.append(str(folder))
        except RuntimeError as exc:
            peer_problem = str(exc)
            print(f"bench: peer community.hashi_vault unavailable ({exc}); measuring constants and vaultshift only",
                  file=sys.stderr)
    runs = [r for r in RUNS if (r != "peer" or peer_version) and (r != "floor" or args.with_floor)]

    # vaultshift is installed editable and PYTHONDONTWRITEBYTECODE is set on these machines: compile
    # it as a regular install would have (the session server imports it in a fresh interpreter).
    _compile_package()
    for folder in collections:
        subprocess.run([sys.executable, "-m", "compileall", "-q", folder], check=False, stdout=subprocess.DEVNULL)

    work = Path(tempfile.mkdtemp(prefix="vaultshift-lookup-"))
    sessions_before = sorted(p.name for p in session_dir().glob("*")) if session_dir().exists() else []
    report: dict[str, Any] = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions(peer_version),
        "settings": {"hosts": args.hosts, "secrets_per_host": args.secrets,
                     "lookups_per_run": args.hosts * args.secrets,
                     "forks": args.forks_list, "repeat": args.repeat, "auth": "approle (both lookups, from "
                     "ANSIBLE_HASHI_VAULT_ROLE_ID / ANSIBLE_HASHI_VAULT_SECRET_ID)",
                     "task": "ansible.builtin.template, one file per host, ansible_connection=local",
                     "expressions": {run: template_text(run, ["VALUE"] * 1).splitlines()[1] for run in RUNS},
                     "warmup": not args.no_warmup},
        "peer_problem": peer_problem,
    }
    status = 0
    series: dict[tuple[str, int], Series] = {}
    try:
        audit_log = work / "audit.log"
        with bao_server(work / "bao", audit_log=audit_log) as server:
            values, credentials = setup_server(server, args.secrets)
            bench = Bench(args, work, results, server, audit_log, values, credentials, os.pathsep.join(collections))
            del values
            report["server"] = {"addr": server.addr, "mode": "bao server -dev (in memory), file audit device"}
            if not args.no_warmup:
                print("warm-up (2 hosts each, untimed) ...", end=" ", file=sys.stderr, flush=True)
                for run in runs:
                    result = bench.play(run, args.forks_list[0], 0, hosts=bench.hosts[:2])
                    if not result.ok:
                        print(f"{run}: {result.problem}", end="; ", file=sys.stderr, flush=True)
                print("done", file=sys.stderr)
            load_before = os.getloadavg()
            for forks in args.forks_list:
                for run in runs:
                    series[(run, forks)] = Series(run, forks)
            for repetition in range(1, args.repeat + 1):
                for forks in args.forks_list:
                    print(f"[{repetition}/{args.repeat}] forks {forks}:", end="", file=sys.stderr, flush=True)
                    for run in runs:
                        result = bench.play(run, forks, repetition)
                        series[(run, forks)].results.append(result)
                        shown = f"{result.wall_s:.2f} s" if result.ok else f"FAILED ({result.problem})"
                        print(f" {run} {shown};", end="", file=sys.stderr, flush=True)
                    print(file=sys.stderr)
            load_after = os.getloadavg()
        status = report_all(args, runs, series, report, load_before, load_after)
        if any(not r.ok for s in series.values() for r in s.results):
            status = max(status, 1)  # a run failed or rendered wrong files (printed in its table)
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
            report["work"] = str(work)
        else:
            shutil.rmtree(work, ignore_errors=True)
        left_now = sorted(p.name for p in session_dir().glob("*")) if session_dir().exists() else []
        report["session_dir"] = {"path": str(session_dir()), "entries_before": len(sessions_before),
                                 "entries_after": len(left_now),
                                 "left_by_this_bench": sorted(set(left_now) - set(sessions_before))}
        report["runs"] = [asdict(r) for s in series.values() for r in s.results]
        out_json = results / "lookup.json"
        out_json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"figures written to {out_json}")
        sd = report["session_dir"]
        print(f"session directory {sd['path']}: {sd['entries_after']} entries after the bench "
              f"({len(sd['left_by_this_bench'])} left by it)")
    return status


def report_all(args: argparse.Namespace, runs: list[str], series: dict[tuple[str, int], Series],
               report: dict[str, Any], load_before: tuple[float, ...], load_after: tuple[float, ...]) -> int:
    lookups = args.hosts * args.secrets
    v = report["versions"]
    print()
    print(f"{args.hosts} hosts x {args.secrets} secrets = {lookups} lookups per run (ansible.builtin.template, "
          f"ansible_connection=local); AppRole for both lookups; best of {args.repeat}")
    print(f"ansible-core {v['ansible-core']}, vaultshift {v['vaultshift']}, community.hashi_vault "
          f"{v['community.hashi_vault'] or '-'} ({v['community.hashi_vault_from'] or 'not available'}), "
          f"hvac {v['hvac']}, {v['bao']} -dev")
    cpus = os.cpu_count() or 1
    print(f"machine: {cpus} CPUs, load average {load_before[0]:.2f} before / {load_after[0]:.2f} after")
    timed = [r for s in series.values() for r in s.results]
    other_cpu = sum(r.other_cpu_s for r in timed)
    other_share = other_cpu / (sum(r.wall_s for r in timed) * cpus) if timed else 0.0
    report["other_work"] = {"cpu_s": round(other_cpu, 1), "share": round(other_share, 3)}
    print(f"other work during the timed runs: {other_cpu:.1f} CPU-s, {100 * other_share:.0f}% of the machine "
          "(/proc/stat busy time minus ansible-playbook, the server and the session)")
    if load_before[0] > cpus / 2 or other_share > 0.1:
        print(f"WARNING: busy machine (load average {load_before[0]:.2f} before the runs on {cpus} CPUs, other work "
              f"{100 * other_share:.0f}%): timings are noisy")
    if report["peer_problem"] and not args.no_peer:
        print(f"NOTE: peer not measured: {report['peer_problem']}")
    over = []
    for forks in args.forks_list:
        print()
        print(f"--forks {forks}")
        print(f"  {'run':<11} {'best s':>7}  {'all runs (s)':<22} {'cpu s':>6} {'server':>7} {'session':>7} "
              f"{'other':>6} {'logins':>7} {'reads':>6}")
        for run in runs:
            s = series[(run, forks)]
            best = s.best
            walls = " ".join(f"{r.wall_s:.2f}" if r.ok else "FAIL" for r in s.results)
            print(f"  {run:<11} {_fmt(best.wall_s if best else None, '7.2f')}  {walls:<22} "
                  f"{_fmt(best.cpu_s if best else None, '6.1f')} {_fmt(best.server_cpu_s if best else None, '7.2f')} "
                  f"{_fmt(best.session_cpu_s if best else None, '7.2f')} "
                  f"{_fmt(best.other_cpu_s if best else None, '6.1f')} "
                  f"{counts_shown([r.logins for r in s.results]):>7} {counts_shown([r.reads for r in s.results]):>6}")
            for r in s.results:
                if not r.ok:
                    print(f"    run {r.repetition}: {r.problem}")
                elif run == "vaultshift" and r.reads > args.secrets:
                    print(f"    run {r.repetition}: {r.reads} reads for {args.secrets} secrets in {r.wall_s:.0f} s: "
                          "the run outlasted the session's read cache (cache_ttl, 60 s by default) and read again")
        item = overheads(series, forks, lookups)
        over.append(item)
        for run in ("vaultshift", "peer", "floor"):
            o = item.get(run)
            if o and o["overhead_s"] is not None:
                print(f"  {run + ' overhead:':<21} wall {o['overhead_s']:+6.2f} s ({o['per_lookup_ms']:+.2f} ms per "
                      "lookup); "
                      f"work CPU {_fmt(o['overhead_cpu_s'], '+.1f')} s ({_fmt(o['per_lookup_cpu_ms'], '+.2f')} ms "
                      "per lookup)")
        if item["ratio"] is not None:
            cpu_ratio = f" ({item['ratio_cpu']:.1f}x work CPU)" if item["ratio_cpu"] is not None else ""
            print(f"  peer overhead / vaultshift overhead = {item['ratio']:.1f}x wall{cpu_ratio}")
        elif item["vaultshift_overhead_within_noise"]:
            print("  vaultshift's overhead is within the noise of the constants run: no ratio")
    print()
    print("cpu s: ansible-playbook and its reaped workers (os.wait4); server: the bao server's CPU during the run; "
          "session: the vaultshift session process, read just before it ended; other: CPU-s the rest of the machine "
          "used during that run. Overheads: wall = best run minus the best constants run; work CPU = the least "
          "(cpu s + server + session) of the runs minus the constants run's")
    targets = evaluate_targets(series, over, args.forks_list)
    print()
    print("targets")
    for target in targets:
        print(f"  {target['status']:<4}  {target['target']:<55} {target['shown']}")
    report.update({
        "machine": {"cpus": cpus, "platform": platform.platform(), "loadavg_before": load_before,
                    "loadavg_after": load_after},
        "best": {f"{run}/forks{forks}": asdict(s.best) if s.best else None for (run, forks), s in series.items()},
        "overheads": over, "targets": targets,
    })
    if args.fail_on_targets and any(t["status"] == "FAIL" for t in targets):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
