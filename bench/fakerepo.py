"""Synthetic git histories of config files, for bench/guard.py.

Every file is a config a service team would keep in git (YAML, JSON, .env, Java properties, INI,
Python settings). Each has a structure fixed by its seed and a few values that change from one
version to the next (replicas, ports, timeouts, a release string), so a modification is a small
diff, as in real pushes. Credential slots hold a reference (`${DB_PASSWORD}`,
`os.environ[...]`, `%(...)s`, empty) until a commit plants a fake secret there: a value drawn from
the seeded random generator in the shape of a password, an AWS key pair, a GitHub token or a
Django secret key. Nothing is real, and the same seed gives the same bytes.

Commits are written with `git fast-import` (thousands of commits in a second or two).
"""

from __future__ import annotations

import copy
import json
import random
import string
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = (
    "billing", "orders", "auth", "catalog", "search", "payments", "shipping", "inventory", "notify",
    "gateway", "reports", "ledger", "profile", "session", "media", "pricing", "audit", "checkout",
    "loyalty", "review", "geo", "chat", "mailer", "scheduler", "export", "import", "webhooks",
    "metrics", "tenants", "quota",
)
ENVS = ("dev", "staging", "prod")
KINDS = ("yaml", "json", "env", "properties", "ini", "py")
# the credential slots of each kind of file
SLOTS: dict[str, tuple[str, ...]] = {
    "yaml": ("db_password", "github_token"),
    "json": ("db_password", "aws"),
    "env": ("db_password", "aws"),
    "properties": ("db_password",),
    "ini": ("db_password", "smtp_password"),
    "py": ("secret_key", "db_password"),
}
_ALNUM = string.ascii_letters + string.digits


# --------------------------------------------------------------------------- fake secrets


def fake_secret(slot: str, rng: random.Random) -> str:
    """A random value shaped like the credential the slot holds (never a real one)."""
    if slot == "github_token":
        return "ghp_" + "".join(rng.choices(_ALNUM, k=36))
    if slot == "aws":  # access key id and secret key, one value "ID:SECRET" split by the renderers
        key_id = "AKIA" + "".join(rng.choices(string.ascii_uppercase + "234567", k=16))
        return key_id + ":" + "".join(rng.choices(_ALNUM + "/+", k=40))
    if slot == "secret_key":
        return rng.choice(_ALNUM) + "".join(rng.choices(_ALNUM + "!@#%^&*(-_=+)", k=49))
    # starts with a letter or digit, so it needs no quoting in YAML, INI or .env files
    return rng.choice(_ALNUM) + "".join(rng.choices(_ALNUM + "!%+-_", k=rng.randint(15, 23)))


# --------------------------------------------------------------------------- files


@dataclass
class ConfigFile:
    path: str
    kind: str
    service: str
    env: str
    seed: int
    version: int = 0
    secrets: dict[str, str] = field(default_factory=dict)  # slot -> planted fake value

    def render(self) -> bytes:
        fixed = random.Random(self.seed)  # structure: the same in every version
        var = random.Random(f"{self.seed}:{self.version}")  # the values a commit changes
        return RENDERERS[self.kind](self, fixed, var).encode()


def _others(fixed: random.Random, service: str, n: int) -> list[str]:
    return fixed.sample([s for s in SERVICES if s != service], n)


def _host(name: str, env: str) -> str:
    return f"{name}.{env}.internal.example"


def _render_yaml(f: ConfigFile, fixed: random.Random, var: random.Random) -> str:
    s, e = f.service, f.env
    password = f.secrets.get("db_password", "${DB_PASSWORD}")
    token = f.secrets.get("github_token", "${GITHUB_TOKEN}")
    lines = [
        f"# {s} service configuration ({e})",
        "service:",
        f"  name: {s}",
        f"  environment: {e}",
        f"  release: 1.{f.version}.{var.randint(0, 40)}",
        f"  replicas: {var.randint(1, 12)}",
        f"  listen: 0.0.0.0:{8000 + fixed.randint(0, 999)}",
        "database:",
        "  driver: postgresql",
        f"  host: {_host(s + '-db', e)}",
        "  port: 5432",
        f"  name: {s}_{e}",
        f"  user: {s}_app",
        f"  password: {password}",
        "  pool:",
        "    min: 2",
        f"    max: {var.randint(8, 64)}",
        "cache:",
        f"  url: redis://{_host(s + '-cache', e)}:6379/{fixed.randint(0, 15)}",
        f"  ttl_seconds: {var.choice((60, 120, 300, 600, 3600))}",
        "upstreams:",
    ]
    for k, other in enumerate(_others(fixed, s, fixed.randint(2, 6))):
        lines += [
            f"  - name: {other}",
            f"    url: https://{_host(other, e)}/api/v{k + 1}",
            f"    timeout_ms: {fixed.choice((250, 500, 1000, 2000))}",
            f"    retries: {fixed.randint(0, 3)}",
        ]
    lines += [
        "integrations:",
        "  github:",
        f"    org: example-{s}",
        f"    token: {token}",
        "logging:",
        f"  level: {var.choice(('debug', 'info', 'warning'))}",
        "  format: json",
        "features:",
    ]
    lines += [f"  {flag}: {str(fixed.random() < 0.5).lower()}" for flag in _flags(fixed)]
    return "\n".join(lines) + "\n"


def _flags(fixed: random.Random) -> list[str]:
    words = ("new_checkout", "fast_path", "beta_ui", "async_export", "dark_mode", "bulk_api", "audit_log",
             "rate_limit", "sso", "webhooks_v2", "cache_warmup", "strict_tls")
    return fixed.sample(words, fixed.randint(3, 8))


def _render_json(f: ConfigFile, fixed: random.Random, var: random.Random) -> str:
    s, e = f.service, f.env
    key_id, _, secret = f.secrets.get("aws", "${AWS_ACCESS_KEY_ID}:${AWS_SECRET_ACCESS_KEY}").partition(":")
    doc = {
        "service": s,
        "environment": e,
        "release": f"2.{f.version}.{var.randint(0, 40)}",
        "http": {"port": 9000 + fixed.randint(0, 999), "timeoutMs": var.choice((1000, 2500, 5000)),
                 "cors": [f"https://{_host(o, e)}" for o in _others(fixed, s, 3)]},
        "database": {
            "host": _host(s + "-db", e),
            "port": 5432,
            "user": f"{s}_svc",
            "password": f.secrets.get("db_password", "${DB_PASSWORD}"),
            "maxConnections": var.randint(10, 100),
        },
        "aws": {"region": fixed.choice(("eu-west-1", "us-east-1", "ap-southeast-2")),
                "bucket": f"example-{s}-{e}", "accessKeyId": key_id, "secretAccessKey": secret},
        "retry": {"attempts": var.randint(1, 5), "backoffMs": fixed.choice((100, 200, 500))},
        "features": {flag: fixed.random() < 0.5 for flag in _flags(fixed)},
    }
    return json.dumps(doc, indent=2) + "\n"


def _render_env(f: ConfigFile, fixed: random.Random, var: random.Random) -> str:
    s, e = f.service, f.env
    key_id, _, secret = f.secrets.get("aws", ":").partition(":")
    lines = [
        f"# {s} ({e}): read by docker compose",
        f"APP_NAME={s}",
        f"APP_ENV={e}",
        f"APP_RELEASE=3.{f.version}.{var.randint(0, 40)}",
        f"PORT={7000 + fixed.randint(0, 999)}",
        f"LOG_LEVEL={var.choice(('debug', 'info', 'warning'))}",
        f"WORKERS={var.randint(1, 16)}",
        f"DATABASE_HOST={_host(s + '-db', e)}",
        "DATABASE_PORT=5432",
        f"DATABASE_USER={s}_app",
        f"DATABASE_PASSWORD={f.secrets.get('db_password', '')}",
        f"AWS_REGION={fixed.choice(('eu-west-1', 'us-east-1'))}",
        f"AWS_ACCESS_KEY_ID={key_id}",
        f"AWS_SECRET_ACCESS_KEY={secret}",
        f"REDIS_URL=redis://{_host(s + '-cache', e)}:6379/0",
    ]
    lines += [f"FEATURE_{flag.upper()}={str(fixed.random() < 0.5).lower()}" for flag in _flags(fixed)]
    return "\n".join(lines) + "\n"


def _render_properties(f: ConfigFile, fixed: random.Random, var: random.Random) -> str:
    s, e = f.service, f.env
    lines = [
        f"# {s} ({e})",
        f"spring.application.name={s}",
        f"info.app.version=4.{f.version}.{var.randint(0, 40)}",
        f"server.port={8080 + fixed.randint(0, 99)}",
        f"server.tomcat.threads.max={var.choice((50, 100, 200, 400))}",
        f"spring.datasource.url=jdbc:postgresql://{_host(s + '-db', e)}:5432/{s}",
        f"spring.datasource.username={s}_app",
        f"spring.datasource.password={f.secrets.get('db_password', '${DB_PASSWORD}')}",
        f"spring.datasource.hikari.maximum-pool-size={var.randint(5, 50)}",
        "spring.jpa.hibernate.ddl-auto=validate",
        f"spring.redis.host={_host(s + '-cache', e)}",
        "management.endpoints.web.exposure.include=health,info,prometheus",
        f"logging.level.root={var.choice(('INFO', 'WARN', 'DEBUG'))}",
    ]
    for other in _others(fixed, s, fixed.randint(2, 5)):
        lines += [f"clients.{other}.url=https://{_host(other, e)}/api",
                  f"clients.{other}.timeout={fixed.choice((500, 1000, 3000))}"]
    return "\n".join(lines) + "\n"


def _render_ini(f: ConfigFile, fixed: random.Random, var: random.Random) -> str:
    s, e = f.service, f.env
    lines = [
        f"; {s} worker ({e})",
        "[service]",
        f"name = {s}",
        f"release = 5.{f.version}.{var.randint(0, 40)}",
        f"workers = {var.randint(1, 32)}",
        f"queue = {s}-jobs",
        "",
        "[database]",
        f"host = {_host(s + '-db', e)}",
        "port = 5432",
        f"user = {s}_worker",
        f"password = {f.secrets.get('db_password', '%(ENV_DB_PASSWORD)s')}",
        f"timeout = {var.choice((5, 10, 30))}",
        "",
        "[smtp]",
        "host = smtp.example.com",
        "port = 587",
        f"user = {s}-alerts@example.com",
        f"password = {f.secrets.get('smtp_password', '%(ENV_SMTP_PASSWORD)s')}",
        "",
        "[limits]",
    ]
    lines += [f"{o}_rps = {fixed.randint(10, 500)}" for o in _others(fixed, s, fixed.randint(2, 5))]
    return "\n".join(lines) + "\n"


def _render_py(f: ConfigFile, fixed: random.Random, var: random.Random) -> str:
    s, e = f.service, f.env
    secret_key = f.secrets.get("secret_key")
    password = f.secrets.get("db_password")
    hosts = ", ".join(repr(_host(o, e)) for o in [s, *_others(fixed, s, 2)])
    lines = [
        f'"""Django settings for {s} ({e})."""',
        "import os",
        "",
        f"DEBUG = {e == 'dev'}",
        f"ALLOWED_HOSTS = [{hosts}]",
        f"SECRET_KEY = {secret_key!r}" if secret_key else 'SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]',
        f"RELEASE = '6.{f.version}.{var.randint(0, 40)}'",
        "",
        "DATABASES = {",
        '    "default": {',
        '        "ENGINE": "django.db.backends.postgresql",',
        f'        "NAME": "{s}",',
        f'        "USER": "{s}_web",',
        f'        "PASSWORD": {password!r},' if password else '        "PASSWORD": os.environ.get("DB_PASSWORD", ""),',
        f'        "HOST": "{_host(s + "-db", e)}",',
        '        "PORT": "5432",',
        f'        "CONN_MAX_AGE": {var.choice((0, 60, 300))},',
        "    }",
        "}",
        "",
        "CACHES = {",
        f'    "default": {{"BACKEND": "django.core.cache.backends.redis.RedisCache", '
        f'"LOCATION": "redis://{_host(s + "-cache", e)}:6379/1"}}',
        "}",
        f"CELERY_WORKER_CONCURRENCY = {var.randint(1, 8)}",
        f"SESSION_COOKIE_AGE = {fixed.choice((3600, 86400, 1209600))}",
    ]
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[ConfigFile, random.Random, random.Random], str]] = {
    "yaml": _render_yaml,
    "json": _render_json,
    "env": _render_env,
    "properties": _render_properties,
    "ini": _render_ini,
    "py": _render_py,
}


def _path_for(kind: str, service: str, env: str) -> str:
    return {
        "yaml": f"services/{service}/config/{env}.yml",
        "json": f"services/{service}/config/{env}.json",
        "env": f"deploy/{env}/{service}.env",
        "properties": f"services/{service}/src/main/resources/application-{env}.properties",
        "ini": f"workers/{service}/{env}.ini",
        "py": f"services/{service}/settings/{env}.py",
    }[kind]


# --------------------------------------------------------------------------- repository state


@dataclass
class Commit:
    message: str
    files: list[ConfigFile]  # the files as this commit writes them (copies)
    planted: int  # fake secrets this commit adds


@dataclass
class Tree:
    """The files at a branch tip; every change goes through a Commit."""

    rng: random.Random
    files: dict[str, ConfigFile] = field(default_factory=dict)
    generation: int = 0  # bumps the service names of new files once the plain ones are used up

    def fork(self, seed: int | str) -> Tree:
        return Tree(random.Random(seed), copy.deepcopy(self.files), self.generation)

    def new_file(self) -> ConfigFile:
        for _ in range(1000):
            kind = self.rng.choice(KINDS)
            base = self.rng.choice(SERVICES)
            service = base if self.generation == 0 else f"{base}{self.generation + 1}"
            env = self.rng.choice(ENVS)
            path = _path_for(kind, service, env)
            if path not in self.files:
                return ConfigFile(path, kind, service, env, seed=self.rng.getrandbits(48))
        self.generation += 1
        return self.new_file()

    def commit(self, n_modify: int, n_new: int, plant: int = 0, remove: int = 0,
               candidates: list[str] | None = None) -> Commit:
        """Modify n_modify existing files (from candidates if given) and add n_new; plant fake
        secrets into `plant` of the touched files' empty slots; take `remove` planted ones out."""
        pool = candidates if candidates is not None else sorted(self.files)
        touched = [self.files[p] for p in self.rng.sample(pool, min(n_modify, len(pool)))]
        for f in touched:
            f.version += 1
        for _ in range(n_new):
            f = self.new_file()
            self.files[f.path] = f
            touched.append(f)
        planted = 0
        for f in self.rng.sample(touched, min(plant, len(touched))):
            free = [slot for slot in SLOTS[f.kind] if slot not in f.secrets]
            if free:
                slot = self.rng.choice(free)
                f.secrets[slot] = fake_secret(slot, self.rng)
                planted += 1
        for f in touched[:remove]:
            if f.secrets:
                f.secrets.pop(sorted(f.secrets)[0])
        verb = "add" if n_new and not n_modify else "update"
        names = ", ".join(sorted({f.service for f in touched}))
        return Commit(f"{verb} {names} config", [copy.deepcopy(f) for f in touched], planted)


# --------------------------------------------------------------------------- fast-import


@dataclass
class Branch:
    ref: str  # refs/heads/...
    start: str | None  # commit to build on (a ref or sha known to the repository), None: root
    commits: Iterator[Commit]


class FastImport:
    """Streams commits into `git fast-import` in an existing repository."""

    def __init__(self, repo: Path, env: Mapping[str, str]) -> None:
        self.proc = subprocess.Popen(
            ["git", "fast-import", "--quiet", "--done"],
            cwd=repo, env=dict(env), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        )
        assert self.proc.stdin is not None
        self.out = self.proc.stdin
        self.when = 1_700_000_000
        self.counts: dict[str, int] = {}

    def _data(self, payload: bytes) -> None:
        self.out.write(b"data %d\n" % len(payload))
        self.out.write(payload)
        self.out.write(b"\n")

    def branch(self, branch: Branch) -> int:
        """Write every commit of the branch; returns the number of fake secrets planted."""
        planted = 0
        first = True
        n = 0
        for c in branch.commits:
            self.when += 97
            self.out.write(f"commit {branch.ref}\n".encode())
            who = f"Bench Dev <dev@example.invalid> {self.when} +0000\n".encode()
            self.out.write(b"author " + who + b"committer " + who)
            self._data(c.message.encode())
            if first and branch.start:
                self.out.write(f"from {branch.start}\n".encode())
            first = False
            for f in c.files:
                self.out.write(f"M 100644 inline {f.path}\n".encode())
                self._data(f.render())
            planted += c.planted
            n += 1
        self.counts[branch.ref] = n
        return planted

    def close(self) -> None:
        self.out.write(b"done\n")
        self.out.close()
        if self.proc.wait() != 0:
            raise RuntimeError(f"git fast-import exited {self.proc.returncode}")


# --------------------------------------------------------------------------- histories


def initial_commit(tree: Tree, n_files: int) -> Iterator[Commit]:
    yield tree.commit(0, n_files)


def history(tree: Tree, n_commits: int, new_rate: float, plant_rate: float, remove_rate: float = 0.0,
            max_files: int = 5) -> Iterator[Commit]:
    """n_commits commits of 1..max_files touched files each (average about 3)."""
    for _ in range(n_commits):
        n = tree.rng.randint(1, max_files)
        n_new = sum(tree.rng.random() < new_rate for _ in range(n))
        plant = int(tree.rng.random() < plant_rate)
        remove = int(tree.rng.random() < remove_rate)
        yield tree.commit(n - n_new, n_new, plant=plant, remove=remove)


@dataclass
class TransientSecret:
    """A fake secret that one commit adds and a later commit of the same push removes again: it
    is in the pushed history, but not in the file at the pushed tip."""

    path: str
    slot: str
    added: int  # index (0-based) of the commit that adds it, within the push
    removed: int  # index of the commit that takes it out again
    line: int  # 1-based line of the value in the file as commit `added` writes it


def typical_push(tree: Tree, n_commits: int, n_files: int, n_new: int, plant: int,
                 transient: tuple[int, int] | None = None,
                 log: list[TransientSecret] | None = None) -> Iterator[Commit]:
    """n_commits commits touching n_files distinct files in all (n_new of them new), with `plant`
    fake secrets spread over the first commits; these are never removed, so all are at the tip.

    transient (added, removed): one more fake secret, planted by commit `added` (0-based) in one
    of the files that commit touches and no other secret is planted in, and taken out again by
    commit `removed`, which modifies that file once more (one more blob; the same n_files distinct
    files). It draws on its own generator, so every other commit is the same as without it. Its
    details are appended to `log`.
    """
    existing = tree.rng.sample(sorted(tree.files), n_files - n_new)
    per = [n_files // n_commits + (i < n_files % n_commits) for i in range(n_commits)]
    news = [0] * n_commits
    for j in range(n_new):  # spread the new files: commits 2, 5, 8, 1, 4, ...
        i = (2 + 3 * j) % n_commits
        while news[i] >= per[i]:
            i = (i + 1) % n_commits
        news[i] += 1
    if transient is not None and not 0 <= transient[0] < transient[1] < n_commits:
        raise ValueError(f"transient {transient}: need 0 <= added < removed < {n_commits}")
    held: TransientSecret | None = None
    for i, k in enumerate(per):
        modify, existing = existing[: k - news[i]], existing[k - news[i]:]
        here = min(plant, 2 if i % 2 == 0 else 1)
        plant -= here
        c = tree.commit(len(modify), news[i], plant=here, candidates=modify)
        if transient is not None and i == transient[0]:
            c, secret = _plant_transient(tree, c, i, transient[1])
            if log is not None:
                log.append(secret)
            held = secret
        elif held is not None and i == held.removed:
            c = _remove_transient(tree, c, held)
        yield c


def _plant_transient(tree: Tree, c: Commit, added: int, removed: int) -> tuple[Commit, TransientSecret]:
    clean = sorted((f for f in c.files if not f.secrets), key=lambda f: f.path)
    target = clean[0] if clean else min(c.files, key=lambda f: (len(f.secrets), f.path))
    rng = random.Random(f"{target.seed}:transient")  # not tree.rng: the other commits stay the same
    free = [slot for slot in SLOTS[target.kind] if slot not in target.secrets]
    if not free:
        raise ValueError(f"no free credential slot in {target.path}")
    slot = rng.choice(free)
    value = fake_secret(slot, rng)
    live = tree.files[target.path]
    live.secrets[slot] = value
    written = copy.deepcopy(live)
    needle = value.partition(":")[0] if slot == "aws" else value
    line = next(n for n, text in enumerate(written.render().decode().splitlines(), 1) if needle in text)
    files = [written if f.path == target.path else f for f in c.files]
    return Commit(c.message, files, c.planted + 1), TransientSecret(target.path, slot, added, removed, line)


def _remove_transient(tree: Tree, c: Commit, secret: TransientSecret) -> Commit:
    live = tree.files[secret.path]
    live.version += 1
    live.secrets.pop(secret.slot)
    files = [f for f in c.files if f.path != secret.path] + [copy.deepcopy(live)]
    names = ", ".join(sorted({f.service for f in files}))
    return Commit(f"update {names} config", files, c.planted)
