"""A synthetic fleet of configuration files holding fake secrets, for bench/migrate.py.

The fleet is what a team would point ``vaultshift plan`` at: one directory per host, mirroring
its file system, plus the Ansible control tree::

    fleet/
      ansible/inventory.yml                      hosts and groups (one group per application)
      ansible/group_vars/<app>/main.yml          the application's variables (ansible-lookup)
      <host>/etc/<app>/config.yml                YAML          (agent-template)
      <host>/etc/<app>/settings.json             JSON          (agent-template)
      <host>/etc/<app>/<app>.ini                 INI           (agent-template)
      <host>/opt/<app>/conf/application.properties   Java properties (agent-template)
      <host>/srv/<app>/.env                      dotenv        (agent-env)

Each application has about ten credentials (database, cache, SMTP, API keys, ...). Each
credential is one fake secret; its occurrences are spread over the application's files on its
hosts and its group_vars, spelled the way each format spells it (``database.password`` in
properties, ``DATABASE_PASSWORD`` in .env, ``billing_database_password`` in group_vars). The
layout (which application is on which host, which file holds which credential) comes from a
seeded generator; the secret values come from ``secrets`` (the OS's random source) at every run
and are never written anywhere but the fleet. Nothing is real.

Counts are exact: ``files`` files with findings, ``occurrences`` secret spans in them, and
``secrets`` distinct values, every value used at least once and never twice in one file.
"""

from __future__ import annotations

import json
import os
import random
import secrets as _os_random
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from migrator.discover.detectors.entropy import wordlike

SERVICES = (
    "billing", "orders", "auth", "catalog", "search", "payments", "shipping", "inventory", "notifier",
    "gateway", "reports", "ledger", "profile", "session", "media", "pricing", "audit", "checkout",
    "loyalty", "review", "geo", "chat", "mailer", "scheduler", "export", "import", "webhooks",
    "metrics", "tenants", "quota",
)
VARIANTS = ("", "-api", "-worker", "-admin", "-eu", "-us", "-batch", "-sync", "-cron", "-edge")
TIERS = ("web", "api", "app", "worker", "batch", "db", "cache", "mq")
KINDS = ("yaml", "json", "ini", "properties", "env")
SECRETS_PER_APP = 10
FILES_PER_HOST = 5  # about; sets the number of hosts

# A credential: (section, key). YAML/JSON nest the key under the section, INI uses the section,
# properties join them with '.', .env and group_vars with '_' (upper case in .env).
ROLES = (
    ("database", "password"), ("redis", "password"), ("smtp", "password"), ("amqp", "password"),
    ("ldap", "bind_password"), ("payments", "api_key"), ("upstream", "api_token"), ("auth", "jwt_secret"),
    ("session", "secret_key"), ("oauth", "client_secret"), ("s3", "secret_access_key"),
    ("sentry", "auth_token"), ("webhooks", "signing_secret"), ("crypto", "encryption_key"),
    ("github", "token"), ("replica", "password"), ("kafka", "sasl_password"), ("mongodb", "password"),
    ("datadog", "api_key"), ("slack", "bot_token"),
)
# Plain settings around the credentials, so files look (and weigh) like real ones.
FILLER = {
    "database": (("host", "{app}-db.{env}.internal"), ("port", "5432"), ("user", "{app_}_app"),
                 ("pool_max", "20")),
    "redis": (("host", "{app}-cache.{env}.internal"), ("port", "6379"), ("db", "3")),
    "smtp": (("host", "smtp.{env}.internal"), ("port", "587"), ("user", "{app_}-mailer")),
    "amqp": (("host", "mq.{env}.internal"), ("vhost", "{app_}"), ("user", "{app_}")),
    "ldap": (("url", "ldaps://ldap.{env}.internal:636"), ("bind_dn", "cn={app_},ou=services,dc=corp")),
    "payments": (("endpoint", "https://payments.{env}.internal/v2"), ("timeout_ms", "3000")),
    "upstream": (("url", "https://{app}-upstream.{env}.internal"), ("retries", "3")),
    "auth": (("issuer", "https://sso.{env}.internal"), ("ttl_seconds", "3600")),
    "session": (("cookie_name", "{app_}_sid"), ("max_age", "86400")),
    "oauth": (("client_id", "{app}-{env}"), ("redirect_uri", "https://{app}.{env}.internal/callback")),
    "s3": (("bucket", "{app}-{env}-assets"), ("region", "eu-west-1"), ("access_key_id", "${{S3_KEY_ID}}")),
    "sentry": (("org", "platform"), ("project", "{app}")),
    "webhooks": (("url", "https://hooks.{env}.internal/{app}"), ("max_retries", "5")),
    "crypto": (("algorithm", "aes-256-gcm"), ("rotation_days", "90")),
    "github": (("org", "platform"), ("repo", "{app}-deploy")),
    "replica": (("host", "{app}-db-ro.{env}.internal"), ("port", "5432"), ("user", "{app_}_ro")),
    "kafka": (("brokers", "kafka1.{env}.internal:9093"), ("sasl_mechanism", "SCRAM-SHA-512"),
              ("sasl_username", "{app_}")),
    "mongodb": (("host", "{app}-mongo.{env}.internal"), ("port", "27017"), ("user", "{app_}")),
    "datadog": (("site", "datadoghq.eu"), ("service", "{app}")),
    "slack": (("channel", "{app}-alerts"), ("username", "{app}-bot")),
}
GENERAL = (("name", "{app}"), ("environment", "{env}"), ("log_level", "info"), ("listen_port", "{port}"),
           ("workers", "{workers}"), ("metrics_path", "/metrics"), ("feature_new_checkout", "false"))

_ALNUM = string.ascii_letters + string.digits
# Substrings vaultshift's filters read as "made up"; a random value must never contain one by chance.
_MARKERS = ("test", "demo", "example", "sample", "dummy", "fake", "mock", "secret", "passw", "foo", "xxx",
            "lorem", "ipsum", "redact", "notreal", "your", "change", "placeholder", "token", "admin")


def fake_value(role: tuple[str, str]) -> str:
    """A random value shaped like the credential (letters and digits, never a real one)."""
    while True:
        if role[0] == "github":
            body = "".join(_os_random.choice(_ALNUM) for _ in range(36))
            value = "ghp_" + body
        else:
            body = "".join(_os_random.choice(_ALNUM) for _ in range(20 + _os_random.randbelow(13)))
            value = body
        if any(marker in body.lower() for marker in _MARKERS) or wordlike(body):
            continue
        if not (any(c.islower() for c in body) and any(c.isupper() for c in body) and any(c.isdigit() for c in body)):
            continue
        return value


@dataclass
class Secret:
    app: str
    role: tuple[str, str]
    value: str = field(repr=False)


@dataclass
class FleetFile:
    path: str  # relative to the fleet root, posix
    kind: str  # yaml | json | ini | properties | env | group_vars
    app: str
    host: str
    env: str
    secrets: list[Secret] = field(default_factory=list)

    def render(self, rng: random.Random) -> bytes:
        return RENDERERS[self.kind](self, rng).encode()


@dataclass
class Fleet:
    root: Path
    files: list[FleetFile]
    secrets: list[Secret] = field(repr=False)
    hosts: dict[str, list[str]]  # host -> its applications
    inventory: Path

    @property
    def occurrences(self) -> int:
        return sum(len(f.secrets) for f in self.files)

    def planted(self) -> Iterator[tuple[str, str]]:
        """(absolute file path, value) of every occurrence."""
        for f in self.files:
            for secret in f.secrets:
                yield str(self.root / f.path), secret.value


# --------------------------------------------------------------------------- layout


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` in ``parts`` whole shares as even as can be, the larger ones at random places."""
    base, extra = divmod(total, parts)
    shares = [base + 1] * extra + [base] * (parts - extra)
    rng.shuffle(shares)
    return shares


def check_counts(files: int, occurrences: int, secrets: int) -> str | None:
    """Why these counts cannot be laid out (None when they can)."""
    if min(files, occurrences, secrets) < 1:
        return "files, occurrences and secrets must be at least 1"
    if occurrences < max(files, secrets):
        return "need at least one occurrence per file and per secret (occurrences >= files and >= secrets)"
    apps = max(1, round(secrets / SECRETS_PER_APP))
    if apps > files:
        return f"{secrets} secrets make {apps} applications, which need at least {apps} files"
    if occurrences > files * max(1, min(secrets // apps, len(ROLES))):
        return "too many occurrences for these files: a file holds each secret of its application at most once"
    return None


def generate(root: Path, files: int, occurrences: int, secrets: int, seed: int = 1) -> Fleet:
    """Write the fleet under ``root`` (created; must not exist) and return what it holds."""
    problem = check_counts(files, occurrences, secrets)
    if problem:
        raise ValueError(problem)
    rng = random.Random(seed)
    apps = max(1, round(secrets / SECRETS_PER_APP))
    names = [f"{s}{v}" for v in VARIANTS for s in SERVICES]
    while len(names) < apps:
        names += [f"{n}-{len(names) // len(SERVICES)}" for n in names[: apps - len(names)]]
    app_names = names[:apps]
    files_of = _split(files, apps, rng)
    secrets_of = _split(secrets, apps, rng)
    occ_of = _split(occurrences, apps, rng)
    # Shares that break a constraint are evened out against a neighbour's.
    for i in range(apps):
        secrets_of[i] = min(secrets_of[i], len(ROLES))
    _rebalance(secrets_of, secrets, len(ROLES))
    for i in range(apps):
        low, high = max(files_of[i], secrets_of[i]), files_of[i] * secrets_of[i]
        occ_of[i] = max(low, min(occ_of[i], high))
    _fix_total(occ_of, occurrences, [max(f, s) for f, s in zip(files_of, secrets_of, strict=True)],
               [f * s for f, s in zip(files_of, secrets_of, strict=True)])

    n_hosts = max(1, round(files / FILES_PER_HOST))
    tier_hosts: dict[str, list[str]] = {tier: [] for tier in TIERS}
    for index in range(n_hosts):
        tier = TIERS[index % len(TIERS)]
        tier_hosts[tier].append(f"{tier}{len(tier_hosts[tier]) + 1:02d}")
    tier_hosts = {t: h for t, h in tier_hosts.items() if h}
    hosts: dict[str, list[str]] = {h: [] for hs in tier_hosts.values() for h in hs}

    all_files: list[FleetFile] = []
    all_secrets: list[Secret] = []
    for index, app in enumerate(app_names):
        env = ("prod", "staging", "dev")[index % 3]
        tier = list(tier_hosts)[index % len(tier_hosts)]
        roles = rng.sample(ROLES, secrets_of[index])
        app_secrets = [Secret(app, role, fake_value(role)) for role in roles]
        all_secrets += app_secrets
        app_files = [FleetFile(f"ansible/group_vars/{app}/main.yml", "group_vars", app, "", env)]
        pool = list(tier_hosts[tier])
        rng.shuffle(pool)
        kinds = rng.sample(KINDS, rng.randint(2, 3))  # what the application reads: config.yml and .env, ...
        needed = files_of[index] - 1
        if needed > len(pool) * len(kinds):
            kinds = list(KINDS)
        while needed > len(pool) * len(kinds):  # a small fleet: one more host in this tier
            host = f"{tier}{len(tier_hosts[tier]) + 1:02d}"
            tier_hosts[tier].append(host)
            hosts[host] = []
            pool.append(host)
        spots = [(host, kind) for host in pool for kind in kinds]
        for host, kind in spots[:needed]:
            app_files.append(FleetFile(_host_path(host, app, kind), kind, app, host, env))
            if app not in hosts[host]:
                hosts[host].append(app)
        slots = _slots(occ_of[index], len(app_files), len(app_secrets), rng)
        usage = dict.fromkeys(range(len(app_secrets)), 0)
        for fleet_file, count in zip(app_files, slots, strict=True):
            order = sorted(usage, key=lambda k: (usage[k], rng.random()))[:count]
            for k in sorted(order, key=lambda k: ROLES.index(app_secrets[k].role)):
                fleet_file.secrets.append(app_secrets[k])
                usage[k] += 1
        all_files += app_files

    root.mkdir(parents=True)
    for fleet_file in all_files:
        path = root / fleet_file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(fleet_file.render(random.Random(f"{seed}:{fleet_file.path}")))
    inventory = root / "ansible" / "inventory.yml"
    inventory.write_text(_inventory(tier_hosts, hosts))
    return Fleet(root, all_files, all_secrets, hosts, inventory)


def _rebalance(shares: list[int], total: int, cap: int) -> None:
    missing = total - sum(shares)
    i = 0
    while missing > 0 and i < 10 * len(shares):
        if shares[i % len(shares)] < cap:
            shares[i % len(shares)] += 1
            missing -= 1
        i += 1
    if missing:
        raise ValueError("too many secrets for the applications' credential kinds")


def _fix_total(shares: list[int], total: int, low: list[int], high: list[int]) -> None:
    diff = total - sum(shares)
    i = 0
    while diff and i < 100 * len(shares) + abs(diff) * 10:
        k = i % len(shares)
        if diff > 0 and shares[k] < high[k]:
            shares[k] += 1
            diff -= 1
        elif diff < 0 and shares[k] > low[k]:
            shares[k] -= 1
            diff += 1
        i += 1
    if diff:
        raise ValueError("cannot spread the occurrences over the files with these counts")


def _slots(total: int, files: int, cap: int, rng: random.Random) -> list[int]:
    """How many of the application's secrets each of its files holds: at least 1, at most ``cap``;
    the group_vars file (the first) tends to hold more."""
    counts = [1] * files
    left = total - files
    weights = [3.0] + [1.0] * (files - 1)
    while left:
        k = rng.choices(range(files), weights)[0]
        if counts[k] < cap:
            counts[k] += 1
            left -= 1
        elif all(c >= cap for c in counts):
            raise ValueError("too many occurrences for the files")
    return counts


def _host_path(host: str, app: str, kind: str) -> str:
    return host + "/" + {
        "yaml": f"etc/{app}/config.yml",
        "json": f"etc/{app}/settings.json",
        "ini": f"etc/{app}/{app}.ini",
        "properties": f"opt/{app}/conf/application.properties",
        "env": f"srv/{app}/.env",
    }[kind]


def _inventory(tier_hosts: dict[str, list[str]], hosts: dict[str, list[str]]) -> str:
    lines = ["# generated by bench/fleet.py", "all:", "  children:"]
    for tier, names in tier_hosts.items():
        lines += [f"    {tier}:", "      hosts:"] + [f"        {h}:" for h in names]
    groups: dict[str, list[str]] = {}
    for host, apps in hosts.items():
        for app in apps:
            groups.setdefault(app, []).append(host)
    for app in sorted(groups):
        lines += [f"    {app}:", "      hosts:"] + [f"        {h}:" for h in sorted(groups[app])]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- renderers


def _fill(template: str, f: FleetFile, rng: random.Random) -> str:
    return template.format(app=f.app, app_=f.app.replace("-", "_"), env=f.env, port=8000 + rng.randint(0, 999),
                           workers=rng.choice((2, 4, 8, 16)))


def _sections(f: FleetFile, rng: random.Random) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """(section, [(key, value, is_secret)]) in file order: general settings, then one section per
    credential (its plain settings, the credential), then a few sections without one."""
    out: list[tuple[str, list[tuple[str, str, bool]]]] = [
        ("service", [(k, _fill(v, f, rng), False) for k, v in GENERAL[: rng.randint(4, len(GENERAL))]])]
    held = {s.role[0] for s in f.secrets}
    for secret in f.secrets:
        section, key = secret.role
        items = [(k, _fill(v, f, rng), False) for k, v in FILLER[section]]
        items.insert(rng.randint(1, len(items)), (key, secret.value, True))
        out.append((section, items))
    spare = [s for s in FILLER if s not in held]
    for section in rng.sample(spare, min(len(spare), rng.randint(1, 3))):
        out.append((section, [(k, _fill(v, f, rng), False) for k, v in FILLER[section]]))
    return out


def _header(f: FleetFile, comment: str) -> str:
    return f"{comment} {f.app} ({f.env}) on {f.host or 'all hosts'}; managed by the platform team\n"


def _render_yaml(f: FleetFile, rng: random.Random) -> str:
    text = _header(f, "#")
    for section, items in _sections(f, rng):
        text += f"{section}:\n"
        for key, value, _ in items:
            needs_quotes = value.startswith(("$", "#", "{", "*", "&", "!", "%", "@")) or ": " in value
            text += f"  {key}: {json.dumps(value) if needs_quotes else value}\n"
    return text


def _render_json(f: FleetFile, rng: random.Random) -> str:
    data = {section: {key: value for key, value, _ in items} for section, items in _sections(f, rng)}
    return json.dumps(data, indent=2) + "\n"


def _render_ini(f: FleetFile, rng: random.Random) -> str:
    text = _header(f, ";")
    for section, items in _sections(f, rng):
        text += f"\n[{section}]\n" + "".join(f"{key} = {value}\n" for key, value, _ in items)
    return text


def _render_properties(f: FleetFile, rng: random.Random) -> str:
    text = _header(f, "#")
    for section, items in _sections(f, rng):
        text += "".join(f"{section}.{key}={value}\n" for key, value, _ in items)
    return text


def _render_env(f: FleetFile, rng: random.Random) -> str:
    text = _header(f, "#")
    for section, items in _sections(f, rng):
        for key, value, is_secret in items:
            if not is_secret and "$" in value:
                continue
            text += f"{section.upper()}_{key.upper()}={value}\n"
    return text


def _render_group_vars(f: FleetFile, rng: random.Random) -> str:
    text = "---\n" + _header(f, "#")
    prefix = f.app.replace("-", "_")
    for section, items in _sections(f, rng):
        for key, value, _ in items:
            if "{" in value or value.startswith(("$", "#")):
                value = json.dumps(value)
            text += f"{prefix}_{section}_{key}: {value}\n"
    return text


RENDERERS = {"yaml": _render_yaml, "json": _render_json, "ini": _render_ini, "properties": _render_properties,
             "env": _render_env, "group_vars": _render_group_vars}


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative posix path -> bytes)."""
    out: dict[str, bytes] = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out
