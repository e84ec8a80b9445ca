"""Benchmark vaultshift against detect-secrets and trufflehog3 on the labelled corpus.

    python bench/corpus.py [--corpus DIR] [--labels CSV] [--only vaultshift,...] [--repeat N]
    python bench/corpus.py --holdout LABELS.csv [--holdout-root DIR]

Run it with the project venv's python (vaultshift is taken from beside sys.executable). Each tool
runs as a subprocess from inside the corpus' files/ folder with relative paths, so reported paths
match the labels. Wall time is time.perf_counter around the subprocess; peak memory and CPU time
come from os.wait4 on exactly that child (see bench/README.md for what that does and does not
include). Every output is scored by the corpus' own score.py. Figures go to stdout and to
bench/results/corpus.json (or holdout.json). This is a benchmark, not a test: missed targets are
printed as FAIL but do not change the exit status unless --fail-on-targets is given.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from peers import PEERS_DIR, ensure_peers, installed_versions

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus"
DEFAULT_RESULTS = BENCH_DIR / "results"
# "vaultshift --no-uuids" is the same scanner without bare UUIDs, for comparison: the corpus labels
# ~480 UUIDs (mostly API-client collection ids) as credentials; the targets apply to the default.
TOOLS = ("vaultshift", "vaultshift --no-uuids", "detect-secrets", "trufflehog3")
PEERS = ("detect-secrets", "trufflehog3")
VIEWS = ("labelled", "strict", "no-UUID")

# Targets for vaultshift.
TARGET_LABELLED_F1 = 0.85
TARGET_STRICT_F1 = 0.80
TARGET_SPEEDUP_DETECT_SECRETS = 20.0
TARGET_PEAK_MB = 200.0


# --------------------------------------------------------------------------- measuring


@dataclass
class Measured:
    exit_code: int
    wall_s: float
    cpu_s: float  # user + system, the child plus every descendant it reaped
    peak_kib: int  # ru_maxrss: largest single process of the child and its reaped descendants


def reset_own_peak_rss() -> None:
    """Reset this process' RSS high-water mark to its current RSS (Linux >= 4.0, best effort).

    Popen starts a child with vfork (or fork), and at exec Linux folds the high-water mark of the
    memory the child had before exec (the bench's) into the child's ru_maxrss. Resetting it before
    each spawn keeps that inherited floor at the bench's current RSS instead of its lifetime peak.
    """
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def run_measured(argv: list[str], cwd: Path, stdout_path: Path | None, stderr_path: Path) -> Measured:
    """Run argv in cwd and measure exactly that child with os.wait4."""
    reset_own_peak_rss()
    with (
        open(stdout_path if stdout_path else os.devnull, "wb") as out,
        open(stderr_path, "wb") as err,
    ):
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting
    return Measured(
        exit_code=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_kib=usage.ru_maxrss,
    )


def spawn_floor_kib(cwd: Path) -> int:
    """ru_maxrss of /bin/true launched the same way: the floor every measured child inherits.

    See reset_own_peak_rss: a child's ru_maxrss is at least the bench's RSS at spawn time. That is
    far below any Python program's own footprint; it is recorded so that can be checked.
    """
    true = "/bin/true" if os.path.exists("/bin/true") else "true"
    return run_measured([true], cwd, None, Path(os.devnull)).peak_kib


# --------------------------------------------------------------------------- tools


@dataclass
class Tool:
    name: str
    version: str
    argv: list[str]
    output: Path
    stdout_is_output: bool  # the tool prints its report to stdout
    ok_codes: frozenset[int]
    report_shape: str  # Python expression over the parsed report `d`: is it this tool's format?
    parallelism: str
    exit_note: str


def _vaultshift_version() -> str:
    try:
        version = importlib.metadata.version("vaultshift")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    rev = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if rev.returncode != 0 or not rev.stdout.strip():
        return version
    # --no-optional-locks: read-only, git must not refresh the index while others work in the tree.
    dirty = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "--no-optional-locks", "status", "--porcelain", "--", "migrator"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{version}+g{rev.stdout.strip()}" + (".dirty" if dirty else "")


def _vaultshift_tool(name: str, exe: Path, output: Path, *extra: str) -> Tool:
    return Tool(
        name=name,
        version=_vaultshift_version(),
        argv=[str(exe), "scan", ".", "--format", "json", "--output", str(output), "--no-progress", *extra],
        output=output,
        stdout_is_output=False,
        ok_codes=frozenset({0, 1}),
        report_shape='isinstance(d, dict) and isinstance(d.get("findings"), list)',
        parallelism="as built (see cpu/wall)",
        exit_note="0 no findings, 1 findings, 2 error",
    )


def make_tools(names: list[str], results: Path, vaultshift_exe: Path, peer_bin: Path) -> list[Tool]:
    ncpu = os.cpu_count() or 1
    peer_versions = installed_versions(peer_bin.parent) if any(n in PEERS for n in names) else {}
    tools: dict[str, Tool] = {
        "vaultshift": _vaultshift_tool("vaultshift", vaultshift_exe, results / "vaultshift.json"),
        "vaultshift --no-uuids": _vaultshift_tool("vaultshift --no-uuids", vaultshift_exe,
                                                  results / "vaultshift-no-uuids.json", "--no-uuids"),
        "detect-secrets": Tool(
            name="detect-secrets",
            version=peer_versions.get("detect-secrets") or "?",
            argv=[str(peer_bin / "detect-secrets"), "scan", "--all-files", "."],
            output=results / "detect-secrets.json",
            stdout_is_output=True,
            ok_codes=frozenset({0}),
            report_shape='isinstance(d, dict) and isinstance(d.get("results"), dict)',
            parallelism=f"main + {ncpu} pool workers (multiprocessing.Pool, default cpu_count)",
            exit_note="0 success",
        ),
        "trufflehog3": Tool(
            name="trufflehog3",
            version=peer_versions.get("trufflehog3") or "?",
            argv=[
                str(peer_bin / "trufflehog3"),
                "--no-history",
                "-f",
                "json",
                "-o",
                str(results / "trufflehog3.json"),
                ".",
            ],
            output=results / "trufflehog3.json",
            stdout_is_output=False,
            ok_codes=frozenset({0, 2}),
            report_shape="isinstance(d, list)",
            parallelism=f"main + {ncpu} pool workers (multiprocessing.Pool, default -p cpu_count)",
            exit_note="0 no issues, 2 issues (also argparse errors), 1 crash; output must parse",
        ),
    }
    return [tools[n] for n in names]


# --------------------------------------------------------------------------- scoring

_VIEW_RE = re.compile(r"^(labelled|strict|no-UUID)\s+P ([\d.]+) R ([\d.]+) F1 ([\d.]+)\s*$")
_COUNTS_RE = re.compile(r"^TP (\d+) FP (\d+) FN (\d+) hits-on-unlabelled-lines (\d+)\s*$")


def default_score_python() -> str:
    """The system interpreter (score.py needs only the standard library)."""
    base = Path(sys.base_prefix) / "bin" / "python3"
    return str(base) if base.exists() else sys.executable


def score(score_python: str, score_py: Path, labels: Path, hits: Path, root: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [score_python, str(score_py), str(labels), str(hits), "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"score.py exited {proc.returncode}: {tail}")
    views: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        if m := _VIEW_RE.match(line):
            views[m[1]] = {"P": float(m[2]), "R": float(m[3]), "F1": float(m[4])}
        elif m := _COUNTS_RE.match(line):
            tp, fp, fn, unl = (int(g) for g in m.groups())
            counts = {"TP": tp, "FP": fp, "FN": fn, "hits_on_unlabelled": unl, "strict_FP": fp + unl}
    if set(views) != set(VIEWS) or not counts:
        raise RuntimeError(f"could not parse score.py output:\n{proc.stdout}")
    return {"views": views, "counts": counts, "score_output": proc.stdout.splitlines()}


# --------------------------------------------------------------------------- running


@dataclass
class ToolResult:
    tool: str
    version: str
    command: list[str]
    parallelism: str
    ok: bool = False
    error: str | None = None
    exit_code: int | None = None
    wall_s: float | None = None  # best of the runs
    wall_s_runs: list[float] = field(default_factory=list)
    cpu_s: float | None = None  # of the best run
    peak_mb: float | None = None  # max over the runs
    spawn_floor_mb: float | None = None  # ru_maxrss of /bin/true spawned just before (max over runs)
    views: dict[str, dict[str, float]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    hits_file: str | None = None
    score_output: list[str] = field(default_factory=list)


def last_line(path: Path) -> str:
    """The last non-blank line of a (possibly long) text file."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 4096))
            tail = fh.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def check_report(python: str, path: Path, shape: str) -> str | None:
    """None if path holds JSON of the expected shape, else why not.

    Parsed in a separate interpreter: a report can be tens of MB, and parsing it here would grow
    the bench's RSS, which every later child inherits as its ru_maxrss floor.
    """
    code = (
        "import json, sys\n"
        "try:\n"
        "    d = json.load(open(sys.argv[1]))\n"
        "except (OSError, ValueError) as e:\n"
        "    sys.exit(f'no readable JSON report ({e})')\n"
        f"sys.exit(0 if ({shape}) else 'its JSON report has an unexpected shape')\n"
    )
    proc = subprocess.run([python, "-c", code, str(path)], capture_output=True, text=True, check=False)
    return None if proc.returncode == 0 else (proc.stderr.strip() or f"check exited {proc.returncode}")


def run_once(tool: Tool, cwd: Path, check_python: str) -> tuple[Measured | None, str | None]:
    """One measured run; returns (measurement, error message)."""
    with contextlib.suppress(FileNotFoundError):
        tool.output.unlink()  # never accept a stale report
    stderr_path = tool.output.with_suffix(".stderr.txt")
    if not Path(tool.argv[0]).exists():
        return None, f"executable not found: {tool.argv[0]}"
    measured = run_measured(tool.argv, cwd, tool.output if tool.stdout_is_output else None, stderr_path)
    why = last_line(stderr_path) or "no message on stderr"
    if measured.exit_code not in tool.ok_codes:
        return measured, f"exited {measured.exit_code} ({tool.exit_note}): {why}"
    problem = check_report(check_python, tool.output, tool.report_shape)
    if problem:
        return measured, f"exited {measured.exit_code} but {problem}: {why}"
    return measured, None


def vaultshift_unavailable(exe: Path, cwd: Path) -> str | None:
    """A one-line reason if the `vaultshift scan` CLI does not exist, else None."""
    if not exe.exists():
        return f"no vaultshift executable at {exe} (run the bench with the project venv's python)"
    proc = subprocess.run([str(exe), "scan", "--help"], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        why = lines[-1].strip() if lines else "no output"
        return f"`vaultshift scan` CLI not available (`vaultshift scan --help` exited {proc.returncode}: {why})"
    return None


def _compile_package() -> None:
    import migrator

    package = Path(migrator.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=False,
                   stdout=subprocess.DEVNULL)


def run_tools(tools: list[Tool], cwd: Path, check_python: str, repeat: int, warmup: bool) -> list[ToolResult]:
    out = {t.name: ToolResult(t.name, t.version, t.argv, t.parallelism) for t in tools}
    live: list[Tool] = []
    for tool in tools:
        if tool.name.startswith("vaultshift"):
            reason = vaultshift_unavailable(Path(tool.argv[0]), cwd)
            if reason is None and warmup:
                # Untimed. The peers' .pyc files were written by pip at install time; an editable
                # install gets none, and with PYTHONDONTWRITEBYTECODE set (as on these machines)
                # imports never write them, so compile vaultshift's explicitly, as a regular
                # install would have, then run once.
                _compile_package()
                _, reason = run_once(tool, cwd, check_python)
                reason = f"warm-up run failed: {reason}" if reason else None
            if reason:
                out[tool.name].error = reason
                print(f"vaultshift: skipped: {reason}", file=sys.stderr)
                continue
        live.append(tool)

    # Round-robin over the repeats so that load from other work on the machine spreads evenly.
    for i in range(repeat):
        for tool in list(live):
            res = out[tool.name]
            print(f"[{i + 1}/{repeat}] {tool.name} ...", end=" ", file=sys.stderr, flush=True)
            floor_mb = round(spawn_floor_kib(cwd) / 1024, 1)
            res.spawn_floor_mb = max(res.spawn_floor_mb or 0.0, floor_mb)
            measured, error = run_once(tool, cwd, check_python)
            if measured is not None:
                res.exit_code = measured.exit_code
            if error or measured is None:
                print("failed", file=sys.stderr)
                res.error = error
                live.remove(tool)
                continue
            print(f"{measured.wall_s:.2f} s", file=sys.stderr)
            res.wall_s_runs.append(round(measured.wall_s, 4))
            mb = measured.peak_kib / 1024
            res.peak_mb = round(max(res.peak_mb or 0.0, mb), 1)
            if res.wall_s is None or measured.wall_s < res.wall_s:
                res.wall_s = round(measured.wall_s, 4)
                res.cpu_s = round(measured.cpu_s, 3)
    for tool in tools:
        res = out[tool.name]
        if res.error is None and res.wall_s is not None:
            res.ok = True
            res.hits_file = str(tool.output)
    return [out[t.name] for t in tools]


def score_all(results: list[ToolResult], score_python: str, score_py: Path, labels: Path, root: Path) -> None:
    for res in results:
        if not res.ok or res.hits_file is None:
            continue
        try:
            scored = score(score_python, score_py, labels, Path(res.hits_file), root)
        except RuntimeError as exc:
            res.ok = False
            res.error = str(exc)
            continue
        res.views = scored["views"]
        res.counts = scored["counts"]
        res.score_output = scored["score_output"]


# --------------------------------------------------------------------------- corpus facts


def snapshot(root: Path, read: bool) -> set[str]:
    """Relative paths of all files under root; with read=True also read them (warms the page cache)."""
    found: set[str] = set()
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            found.add(os.path.relpath(path, root))
            if read:
                with open(path, "rb") as fh:
                    while fh.read(1 << 20):
                        pass
    return found


def label_stats(labels: Path) -> dict[str, int]:
    lines = positives = 0
    files: set[str] = set()
    with open(labels, newline="") as fh:
        for row in csv.DictReader(fh):
            lines += 1
            positives += row["label"] == "1"
            files.add(row["path"])
    return {"labelled_lines": lines, "positives": positives, "labelled_files": len(files)}


# --------------------------------------------------------------------------- report


def _fmt(v: float | None, spec: str) -> str:
    """format(v, spec), or a dash as wide as the spec's width."""
    if v is not None:
        return format(v, spec)
    width = re.match(r"\d*", spec)
    return "-".rjust(int(width[0]) if width and width[0] else 1)


def print_tables(results: list[ToolResult]) -> None:
    head = f"{'tool':<21} {'version':<21}"
    for view in VIEWS:
        head += f"  {view + ' P/R/F1':<19}"
    print(head + f"  {'TP':>5} {'FP':>5} {'FN':>5} {'unl.':>5}")
    for r in results:
        line = f"{r.tool:<21} {r.version:<21}"
        for view in VIEWS:
            v = r.views.get(view)
            cell = f"{v['P']:.3f} {v['R']:.3f} {v['F1']:.3f}" if v else "-"
            line += f"  {cell:<19}"
        c = r.counts
        line += "  " + " ".join(f"{c.get(k, '-'):>5}" for k in ("TP", "FP", "FN", "hits_on_unlabelled"))
        print(line)
    print()
    print(f"{'tool':<21} {'wall s':>8} {'cpu s':>8} {'cpu/wall':>8} {'peak MB':>8}  processes")
    for r in results:
        ratio = r.cpu_s / r.wall_s if r.cpu_s is not None and r.wall_s else None
        print(
            f"{r.tool:<21} {_fmt(r.wall_s, '8.2f')} {_fmt(r.cpu_s, '8.2f')} {_fmt(ratio, '8.2f')} "
            f"{_fmt(r.peak_mb, '8.1f')}  {r.parallelism}"
        )
    for r in results:
        if r.error:
            print(f"{r.tool}: ERROR: {r.error}")


def speed_ratios(results: list[ToolResult]) -> dict[str, float]:
    by = {r.tool: r for r in results}
    vs = by.get("vaultshift")
    ratios: dict[str, float] = {}
    if vs is None or not vs.ok or not vs.wall_s:
        return ratios
    for peer in PEERS:
        p = by.get(peer)
        if p is not None and p.ok and p.wall_s:
            ratios[peer] = round(p.wall_s / vs.wall_s, 2)
    return ratios


def print_ratios(results: list[ToolResult], ratios: dict[str, float]) -> None:
    by = {r.tool: r for r in results}
    vs = by["vaultshift"]
    for peer, ratio in ratios.items():
        p = by[peer]
        word = f"{ratio:.1f}x faster than" if ratio >= 1 else f"{1 / ratio:.1f}x slower than"
        print(
            f"vaultshift is {word} {peer} ({vs.wall_s:.2f} s vs {p.wall_s:.2f} s wall; "
            f"{peer} ran {p.parallelism.split(' (')[0]}, cpu {p.cpu_s:.1f} s; "
            f"vaultshift cpu {vs.cpu_s:.1f} s)"
        )


def evaluate_targets(results: list[ToolResult], ratios: dict[str, float], speed: bool) -> list[dict[str, Any]]:
    """vaultshift's targets as PASS / FAIL / SKIP (SKIP: a figure it needs was not measured)."""
    vs = next((r for r in results if r.tool == "vaultshift" and r.ok), None)
    out: list[dict[str, Any]] = []

    def add(name: str, value: float | None, passed: bool, shown: str, missing: str = "-") -> None:
        status = "SKIP" if value is None else "PASS" if passed else "FAIL"
        out.append({"target": name, "value": value, "status": status, "shown": missing if value is None else shown})

    if vs is not None:
        lf, sf = vs.views["labelled"]["F1"], vs.views["strict"]["F1"]
        add(f"labelled F1 >= {TARGET_LABELLED_F1}", lf, lf is not None and lf >= TARGET_LABELLED_F1, _fmt(lf, ".3f"))
        add(f"strict F1 >= {TARGET_STRICT_F1}", sf, sf is not None and sf >= TARGET_STRICT_F1, _fmt(sf, ".3f"))
    if speed:
        missing = "vaultshift not measured" if vs is None else "peer not measured in this run"
        ds, th = ratios.get("detect-secrets"), ratios.get("trufflehog3")
        add(
            f">= {TARGET_SPEEDUP_DETECT_SECRETS:g}x faster than detect-secrets",
            ds,
            ds is not None and ds >= TARGET_SPEEDUP_DETECT_SECRETS,
            f"{_fmt(ds, '.1f')}x",
            missing,
        )
        add("faster than trufflehog3", th, th is not None and th > 1.0, f"{_fmt(th, '.1f')}x", missing)
    mb = vs.peak_mb if vs else None
    add(
        f"vaultshift peak RSS < {TARGET_PEAK_MB:g} MB",
        mb,
        mb is not None and mb < TARGET_PEAK_MB,
        f"{_fmt(mb, '.1f')} MB",
    )
    return out


def print_targets(targets: list[dict[str, Any]]) -> None:
    print("targets (vaultshift)")
    for t in targets:
        print(f"  {t['status']:<4}  {t['target']:<40} {t['shown']}")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help="corpus folder with files/, labels.csv, score.py (default: %(default)s)",
    )
    ap.add_argument("--labels", type=Path, help="labels CSV (default: CORPUS/labels.csv)")
    ap.add_argument("--only", help=f"comma-separated subset of {','.join(TOOLS)}")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool; the best wall time is kept")
    ap.add_argument(
        "--holdout",
        type=Path,
        metavar="LABELS.csv",
        help="score only vaultshift on this other labelled set (same CSV format)",
    )
    ap.add_argument(
        "--holdout-root",
        type=Path,
        metavar="DIR",
        help="files of the holdout set (default: 'files' beside LABELS.csv)",
    )
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="output folder (default: %(default)s)")
    ap.add_argument(
        "--vaultshift",
        type=Path,
        default=Path(sys.executable).parent / "vaultshift",
        help="vaultshift executable (default: beside sys.executable)",
    )
    ap.add_argument(
        "--score-python",
        default=default_score_python(),
        help="interpreter for score.py (default: the system python, %(default)s)",
    )
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed vaultshift warm-up run")
    ap.add_argument("--fail-on-targets", action="store_true", help="exit 3 when a target is missed")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    names = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else list(TOOLS)
    unknown = [n for n in names if n not in TOOLS]
    if unknown:
        ap.error(f"--only: unknown tool(s) {', '.join(unknown)}; choose from {', '.join(TOOLS)}")
    args.names = [n for n in TOOLS if n in names]
    if args.holdout_root and not args.holdout:
        ap.error("--holdout-root needs --holdout")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    corpus: Path = args.corpus.resolve()
    score_py = corpus / "score.py"
    if args.holdout:
        labels = args.holdout.resolve()
        root = (args.holdout_root or labels.parent / "files").resolve()
        names, kind = ["vaultshift"], "holdout"
    else:
        labels = (args.labels or corpus / "labels.csv").resolve()
        root = corpus / "files"
        names, kind = args.names, "corpus"
    for need in (score_py, labels, root):
        if not need.exists():
            print(f"bench: not found: {need} (use --corpus / --labels / --holdout-root)", file=sys.stderr)
            return 2
    results_dir: Path = args.results.resolve()
    results_dir.mkdir(parents=True, exist_ok=True)

    peer_bin = PEERS_DIR / "bin"
    if any(n in PEERS for n in names):
        try:
            ensure_peers()
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"bench: could not set up the peers: {exc}", file=sys.stderr)
            return 2

    prefix = "holdout-" if kind == "holdout" else ""
    tools = make_tools(names, results_dir, args.vaultshift, peer_bin)
    for tool in tools:  # holdout reports must not overwrite the corpus ones
        new = results_dir / f"{prefix}{tool.output.name}"
        tool.argv = [str(new) if a == str(tool.output) else a for a in tool.argv]
        tool.output = new

    before = snapshot(root, read=True)  # also warms the page cache, untimed
    stats = label_stats(labels)
    load_before = os.getloadavg()
    results = run_tools(tools, root, args.score_python, args.repeat, warmup=not args.no_warmup)
    load_after = os.getloadavg()
    score_all(results, args.score_python, score_py, labels, root)
    changed = before ^ snapshot(root, read=False)

    ratios = speed_ratios(results) if kind == "corpus" else {}
    targets = evaluate_targets(results, ratios, speed=kind == "corpus")

    print()
    print(
        f"{kind}: {root}  ({len(before)} files; {stats['labelled_lines']} labelled lines, "
        f"{stats['positives']} positive, in {stats['labelled_files']} files)"
    )
    print(f"labels: {labels}")
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load_before[0]:.2f} before / "
        f"{load_after[0]:.2f} after; best wall time of {args.repeat} run(s) per tool"
    )
    busiest = max(load_before[0], load_after[0])
    if busiest > 0.5 * (os.cpu_count() or 1):
        print(
            f"WARNING: busy machine (load {busiest:.2f} on {os.cpu_count()} CPUs): timings are noisy and "
            "multi-process peers lose the most; use --repeat on a quiet machine for ratios you quote"
        )
    print()
    print_tables(results)
    if ratios:
        print()
        print_ratios(results, ratios)
    print()
    print_targets(targets)
    if changed:
        print(f"WARNING: the files under {root} changed during the run: {sorted(changed)[:5]}")
    floors = [r.spawn_floor_mb for r in results if r.spawn_floor_mb is not None]
    floor_mb = max(floors) if floors else None
    print(
        f"peak memory: ru_maxrss via os.wait4 (largest single process of the tool and its reaped "
        f"workers, not a sum); spawn floor {_fmt(floor_mb, '.1f')} MB"
    )
    for r in results:
        if r.peak_mb is not None and r.spawn_floor_mb is not None and r.peak_mb <= r.spawn_floor_mb + 1:
            print(f"NOTE: {r.tool}'s peak is at the spawn floor; its own peak may be lower")

    report = {
        "kind": kind,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "corpus": str(corpus),
        "root": str(root),
        "labels": str(labels),
        "files": len(before),
        **stats,
        "repeat": args.repeat,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        },
        "memory_method": "os.wait4 ru_maxrss of the tool's process: max over it and the descendants "
        "it reaped (pool workers), not a sum of concurrent processes; MB = MiB",
        "spawn_floor_mb": floor_mb,
        "tools": [asdict(r) for r in results],
        "speedup_vs": ratios,
        "targets": targets,
        "corpus_changed": sorted(changed),
    }
    out_json = results_dir / f"{kind}.json"
    out_json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"figures written to {out_json}")

    if any(not r.ok for r in results):
        return 1
    if args.fail_on_targets and any(t["status"] == "FAIL" for t in targets):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
