"""``vaultshift demo``: the three phases on a small fleet, against a real OpenBao and PostgreSQL
started for the run, then everything removed but the HTML report.

1. **Stop the bleeding**: a git repository whose history already holds a database password is
   scanned (``scan --git``); the pre-commit and pre-receive guards are installed; a commit and a
   push carrying a new secret are refused.
2. **Centralize**: the fleet (two hosts' config files: YAML, INI, .env, and a Terraform module
   with a tfvars) is planned, stored in OpenBao, rewritten to runtime references (each agent
   template rendered by a real ``bao agent`` first), and the access policies applied.
3. **Rotate**: the database users are put under the vault's static rotation (the old passwords
   stop working), then the shop's consumers get dynamic users.

Each command records its data point in the migration's inventory (the state directory's); the
KPI table and the HTML report (``vaultshift status --html``) show them moving, and each phase's
gate with what blocks it. Every step is a real ``vaultshift`` command run in this process (``migrator.cli.main``);
the fingerprint key is a fresh one for the run; no value is printed.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from migrator.demo.components import Bao, Postgres, bao_dev, postgres


class DemoError(RuntimeError):
    """A step of the demo did not do what it should; one line naming the step."""


def _password(length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass
class Step:
    """One command of the demo: what it did, in one line, and how long it took."""

    phase: int
    text: str
    seconds: float


@dataclass
class Demo:
    """The run's places, servers and what each step gave."""

    root: Path
    bao: Bao
    pg: Postgres
    out: TextIO
    steps: list[Step] = field(default_factory=list)
    kpis: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict, repr=False)  # the token and the fingerprint key

    @property
    def config(self) -> Path:
        return self.root / "vaultshift.yml"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def say(self, phase: int, text: str, started: float) -> None:
        step = Step(phase, text, time.perf_counter() - started)
        self.steps.append(step)
        print(f"  {text}  ({step.seconds:.1f} s)", file=self.out, flush=True)

    def vaultshift(self, *args: str, expect: tuple[int, ...] = (0,)) -> tuple[str, str]:
        """Run ``vaultshift ARGS`` in this process (its environment: the demo's), returning its
        output; DemoError (the command's last line of stderr) when its exit status is unexpected."""
        from migrator.cli import main

        out, err = io.StringIO(), io.StringIO()
        with _environment(self.env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
        if code not in expect:
            last = (err.getvalue().strip().splitlines() or ["(no message)"])[-1]
            raise DemoError(f"vaultshift {args[0]} {args[1] if len(args) > 1 else ''}: exit {code}: {last}")
        return out.getvalue(), err.getvalue()

    def git(self, repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["git", *args], cwd=repo, env={**os.environ, **self.env}, capture_output=True,
                              text=True, timeout=60)
        if check and done.returncode != 0:
            raise DemoError(f"git {args[0]} in {repo.name}: {done.stderr.strip().splitlines()[-1:]}")
        return done


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


# -- the fleet -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fleet:
    """The demo's database users (name -> password) and the files it laid out."""

    users: dict[str, str]
    files: list[Path]


def lay_out(demo: Demo) -> Fleet:
    """Two hosts' configuration and a Terraform module, with plaintext secrets in several formats;
    the database users they name exist in PostgreSQL with those passwords."""
    users = {"shop_app": _password(), "billing_app": _password()}
    with demo.pg.connect() as admin:
        admin.execute("CREATE TABLE orders (id int, total numeric)")
        admin.execute("CREATE TABLE invoices (id int, amount numeric)")
        for user, password in users.items():
            admin.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
        admin.execute("GRANT SELECT, INSERT ON orders TO shop_app")
        admin.execute("GRANT SELECT, INSERT ON invoices TO billing_app")
    port = demo.pg.port
    fleet = demo.root / "fleet"
    files = {
        "web01/etc/shop/config.yml": (f"server:\n  port: 8080\ndatabase:\n  host: 127.0.0.1\n  port: {port}\n"
                                      f"  name: postgres\n  user: shop_app\n  password: {users['shop_app']}\n"
                                      f"smtp:\n  host: smtp.internal\n  password: {_password(20)}\n"),
        "web01/srv/shop/.env": (f"APP_ENV=production\nDATABASE_URL=postgresql://shop_app:{users['shop_app']}"
                                f"@127.0.0.1:{port}/postgres\nSTRIPE_API_KEY=sk_live_{_password(24)}\n"),
        "web02/etc/billing/app.ini": (f"[database]\nhost = 127.0.0.1\nport = {port}\nuser = billing_app\n"
                                      f"password = {users['billing_app']}\nname = postgres\n"),
        "infra/billing/main.tf": ('variable "reporting_token" {\n  type      = string\n  sensitive = true\n}\n\n'
                                  'resource "terraform_data" "reporting" {\n  input = var.reporting_token\n}\n'),
        "infra/billing/terraform.tfvars": f'reporting_token = "ghp_{_password(36)}"\n',
    }
    for name, text in files.items():
        path = fleet / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o640)
    return Fleet(users, [fleet / name for name in files])


def write_config(demo: Demo) -> None:
    demo.config.write_text(
        "backends:\n"
        f"  vault: {{type: vault, addr: '{demo.bao.addr}'}}\n"
        "  database: {type: vault-database, mount: database}\n"
        "rotation:\n"
        "  rotation_period: 86400\n"
        "  dynamic: {default_ttl: 3600, max_ttl: 86400}\n"
        "  databases:\n"
        f"    - {{name: main, match: {{host: 127.0.0.1, port: {demo.pg.port}}}, admin: admin/postgres}}\n"
        "access:\n"
        "  teams:\n"
        "    - {name: shop-devs, paths: [apps/shop/]}\n")


# -- the phases ------------------------------------------------------------------------------------

def phase1(demo: Demo) -> None:
    print("Phase 1: stop the bleeding", file=demo.out, flush=True)
    repo, server = demo.root / "repos" / "shop-app", demo.root / "repos" / "shop-app.git"
    repo.mkdir(parents=True)
    demo.git(repo, "init", "-q", "-b", "main")
    (repo / "settings.py").write_text(f'DATABASE_PASSWORD = "{_password()}"\n')
    demo.git(repo, "add", "settings.py")
    demo.git(repo, "commit", "-q", "-m", "settings")
    demo.git(repo.parent, "clone", "-q", "--bare", str(repo), str(server))
    demo.git(repo, "remote", "add", "origin", str(server))
    tracked = ("--state-dir", str(demo.state), "--config", str(demo.config))
    started = time.perf_counter()
    out, _ = demo.vaultshift("scan", "--git", str(repo), "--format", "json", *tracked, expect=(1,))
    import json

    found = len(json.loads(out).get("findings", []))
    demo.say(1, f"history scan of shop-app: {found} secret(s) already in its history", started)
    started = time.perf_counter()
    demo.vaultshift("guard", "install", str(repo), *tracked)
    demo.vaultshift("guard", "install", str(server), *tracked)
    demo.say(1, "guards installed: pre-commit in the clone, pre-receive on the server", started)
    started = time.perf_counter()
    (repo / "deploy.sh").write_text(f"export AWS_SECRET_ACCESS_KEY={_password(40)}\n")
    demo.git(repo, "add", "deploy.sh")
    refused = demo.git(repo, "commit", "-q", "-m", "deploy script", check=False)
    if refused.returncode == 0:
        raise DemoError("the pre-commit guard let a commit carrying a secret through")
    demo.git(repo, "commit", "-q", "--no-verify", "-m", "deploy script")  # a developer skips the local hook
    pushed = demo.git(repo, "push", "-q", "origin", "main", check=False)
    if pushed.returncode == 0:
        raise DemoError("the pre-receive guard let a push carrying a secret through")
    demo.git(repo, "reset", "-q", "--hard", "HEAD~1")
    demo.say(1, "a commit carrying a new secret: refused; the same commit pushed with --no-verify: refused",
             started)
    started = time.perf_counter()
    for checked in (repo, server):  # what phase 1's gate asks: no secret entered history since the guards
        demo.vaultshift("scan", "--git", str(checked), "--format", "json", *tracked, expect=(0, 1))
    demo.say(1, "history scanned again: no secret entered it since the guards went in", started)


def phase2(demo: Demo, fleet: Fleet) -> None:
    print("Phase 2: centralize", file=demo.out, flush=True)
    started = time.perf_counter()
    demo.vaultshift("plan", str(demo.root / "fleet"), "-o", str(demo.root / "plan.json"), "--config",
                    str(demo.config), "--no-progress")
    plan = _plan(demo)
    occurrences = sum(len(s.occurrences) for s in plan.secrets)
    files = len({o.file for s in plan.secrets for o in s.occurrences})
    demo.say(2, f"plan: {len(plan.secrets)} secrets, {occurrences} occurrences in {files} files", started)
    demo.vaultshift("status", str(demo.root / "plan.json"), "--state-dir", str(demo.state), "--config",
                    str(demo.config), expect=(0, 1))  # a data point before anything moved
    demo.kpis.append(("planned", _latest(demo)))
    started = time.perf_counter()
    _, err = demo.vaultshift("apply", str(demo.root / "plan.json"), "--config", str(demo.config), "--state-dir",
                             str(demo.state))
    demo.say(2, f"apply: {err.strip().splitlines()[-1].split(': ', 1)[-1]}", started)
    started = time.perf_counter()
    import hvac

    hvac.Client(url=demo.bao.addr, token=demo.bao.token).sys.enable_auth_method("approle")  # as an operator would
    demo.vaultshift("access", "apply", str(demo.root / "plan.json"), "--config", str(demo.config), "--state-dir",
                    str(demo.state))
    demo.say(2, "access: each app reads only its own secrets; shop-devs may write, never read", started)
    for path in fleet.files:
        text = path.read_text()
        if any(password in text for password in fleet.users.values()):
            raise DemoError(f"{path.name}: a password is still in plaintext after apply")
    demo.kpis.append(("centralized", _latest(demo)))


def phase3(demo: Demo, fleet: Fleet) -> None:
    print("Phase 3: rotate and go dynamic", file=demo.out, flush=True)
    import hvac

    hvac.Client(url=demo.bao.addr, token=demo.bao.token).secrets.kv.v2.create_or_update_secret(
        "admin/postgres", secret={"username": "postgres", "password": demo.pg.password})
    started = time.perf_counter()
    demo.vaultshift("rotate", "enable", str(demo.root / "plan.json"), "--wave", "all", "--config", str(demo.config),
                    "--state-dir", str(demo.state))
    stale = [user for user, password in fleet.users.items() if _logs_in(demo.pg, user, password)]
    if stale:
        raise DemoError(f"after static rotation {stale[0]} still logs in with its old password")
    demo.say(3, f"static rotation: {len(fleet.users)} database users rotated by the vault; "
                "the old passwords no longer log in", started)
    started = time.perf_counter()
    demo.vaultshift("rotate", "dynamic", str(demo.root / "plan.json"), "--wave", "all", "--config",
                    str(demo.config), "--state-dir", str(demo.state))
    demo.say(3, "dynamic credentials: each consumer gets a database user of its own, gone with its lease", started)
    demo.kpis.append(("rotating", _latest(demo)))


def _logs_in(pg: Postgres, user: str, password: str) -> bool:
    import psycopg

    try:
        psycopg.connect(host="127.0.0.1", port=pg.port, user=user, password=password, dbname="postgres",
                        connect_timeout=5).close()
    except psycopg.OperationalError:
        return False
    return True


def _plan(demo: Demo) -> Any:
    from migrator.plan import planfile

    return planfile.load(str(demo.root / "plan.json"))


def _latest(demo: Demo) -> dict[str, Any]:
    """The KPIs of the inventory's latest data point (the last command recorded it)."""
    from migrator.state.tracking import Tracker

    with Tracker.open(demo.state) as tracker:
        point = tracker.latest()
    if point is None or not point.kpis:
        raise DemoError("no KPI data point was recorded")
    return dict(point.kpis)


def report(demo: Demo, path: Path) -> None:
    """``vaultshift status`` with the HTML report: the phases, what blocks each, the charts."""
    started = time.perf_counter()
    out, _ = demo.vaultshift("status", str(demo.root / "plan.json"), "--state-dir", str(demo.state), "--config",
                             str(demo.config), "--html", str(path), expect=(0, 1))
    print("\n" + out.rstrip(), file=demo.out)
    demo.say(4, f"HTML report with charts: {path}", started)


def show_kpis(demo: Demo) -> None:
    rows = [("hardcoded occurrences", "hardcoded", "{:.0f}"), ("files from the vault", "adoption", "{:.0%}"),
            ("rotation coverage", "rotation_coverage", "{:.0%}"), ("older than 90 days", "too_old", "{:.0f}")]
    width = max(len(label) for label in (name for name, _ in demo.kpis))
    header = "".join(f"{label:>{max(width, 10) + 2}}" for label, _ in demo.kpis)
    print(f"\nKPIs{' ' * 20}{header}", file=demo.out)
    for title, key, shown in rows:
        cells = "".join(f"{shown.format(values.get(key) or 0):>{max(width, 10) + 2}}" for _, values in demo.kpis)
        print(f"  {title:<22}{cells}", file=demo.out)


def run_demo(out: TextIO = sys.stdout, keep: Path | None = None,
             report_path: Path | None = None, on_ready: Callable[[Demo], None] | None = None) -> Demo:
    """The whole demo; everything is removed afterwards (unless ``keep``), the HTML report (when
    asked) written to ``report``. DemoError names a step that did not do what it should."""
    root = Path(tempfile.mkdtemp(prefix="vaultshift-demo-"))
    started = time.perf_counter()
    try:
        with bao_dev(root) as bao, postgres() as pg:
            demo = Demo(root, bao, pg, out)
            demo.env = {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.token,
                        "VAULTSHIFT_FINGERPRINT_KEY": secrets.token_hex(32), "HOME": str(root),
                        "GIT_AUTHOR_NAME": "demo", "GIT_AUTHOR_EMAIL": "demo@example.invalid",
                        "GIT_COMMITTER_NAME": "demo", "GIT_COMMITTER_EMAIL": "demo@example.invalid",
                        "GIT_CONFIG_NOSYSTEM": "1"}
            print(f"vaultshift demo: OpenBao at {bao.addr}, PostgreSQL on 127.0.0.1:{pg.port}, work in {root}",
                  file=out, flush=True)
            fleet = lay_out(demo)
            write_config(demo)
            demo.state.mkdir()  # the journal and the inventory
            if on_ready is not None:
                on_ready(demo)
            phase1(demo)
            phase2(demo, fleet)
            phase3(demo, fleet)
            show_kpis(demo)
            if report_path is not None:
                report(demo, report_path)
            print(f"\ndone in {time.perf_counter() - started:.0f} s", file=out, flush=True)
            if keep is not None:
                shutil.copytree(root, keep, dirs_exist_ok=True, ignore=shutil.ignore_patterns("bao.log"))
            return demo
    finally:
        shutil.rmtree(root, ignore_errors=True)
