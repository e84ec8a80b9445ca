"""The agent styles: Go templates, agent configurations and units generated from real files, and
rendered by a real ``bao agent`` against a real ``bao server -dev`` back to exactly the original
bytes (file templates) or the original values (env_template + exec)."""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest
from test_rewrite_support import (
    BAO,
    DevServer,
    assert_no_canary,
    assert_only_spans_changed,
    dev_server,
    make_token,
    scan_values,
)

from migrator.discover.document import Document
from migrator.discover.readers.env import EnvReader
from migrator.plan.models import ReferenceStyle, SecretRef
from migrator.rewrite import (
    MARKER,
    AgentOptions,
    AutoAuth,
    KvMount,
    Replacement,
    RewriteContext,
    RewriteError,
    RewriteResult,
    rewrite,
)
from migrator.rewrite.agent_config import escape_literal, unit_name
from migrator.rewrite.agent_env import env_templates
from migrator.rewrite.atomic import write_atomic, write_companions
from migrator.rewrite.verify import VerifyError, render_with_agent, verify_env, verify_parses, verify_render

TEMPLATE = ReferenceStyle.AGENT_TEMPLATE
ENV = ReferenceStyle.AGENT_ENV
NOBODY = 65534


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    with dev_server(tmp_path_factory.mktemp("bao")) as running:
        yield running


def span_of(data: bytes, written: bytes, field: str, app: str = "web", occurrence: int = 1) -> Replacement:
    start = -1
    for _ in range(occurrence):
        start = data.index(written, start + 1)
    return Replacement(start, start + len(written), SecretRef("vault", f"apps/{app}", field))


def store(server: DevServer, reps: list[Replacement], values: list[str]) -> None:
    by_path: dict[str, dict[str, str]] = {}
    for rep, value in zip(reps, values, strict=True):
        by_path.setdefault(rep.ref.path, {})[rep.ref.field] = value
    for path, data in by_path.items():
        server.put(path, data)


def context(path: str, **agent: object) -> RewriteContext:
    return RewriteContext(path, mode=0o640, agent=AgentOptions(**agent))  # type: ignore[arg-type]


# -- generation -----------------------------------------------------------------------------------

def test_template_layout_marker_and_companions() -> None:
    password, api_key = make_token(20), make_token(32)
    original = (
        "# app.conf: {{ is not a template here }}\n"
        "[db]\n"
        f"url = postgres://app:{password}@db.internal/app\n"
        f"[api]\nkey = {api_key}\n"
        "greeting = ${USER} {{{ braces }}} }}\n"
    ).encode()
    reps = [span_of(original, password.encode(), "db-password"), span_of(original, api_key.encode(), "api_key")]
    options = {"address": "https://vault.example.org:8200", "app_unit": "myapp.service", "binary": "/usr/bin/vault",
               "render_interval": "2m"}
    ctx = RewriteContext("/etc/myapp/app.conf", mode=0o640, uid=0, gid=NOBODY, agent=AgentOptions(**options))
    result = rewrite(TEMPLATE, original, reps, ctx)
    assert_only_spans_changed(original, result, reps)
    assert_no_canary(result, [password, api_key])
    assert result.new_bytes.count(MARKER.encode()) == 2
    verify_parses("/etc/myapp/app.conf", result.new_bytes, result.spans, original)

    directory = PurePosixPath("/etc/myapp/.vaultshift")
    unit = "vaultshift-agent-etc-myapp-app.conf.service"
    assert set(result.companions) == {directory / "app.conf.ctmpl", directory / "app.conf.agent.hcl", directory / unit}
    assert result.modes == {directory / "app.conf.ctmpl": 0o640, directory / "app.conf.agent.hcl": 0o600,
                            directory / unit: 0o644}
    template = result.companions[directory / "app.conf.ctmpl"].decode()
    assert template == (
        '# app.conf: {{ "{{" }} is not a template here {{ "}}" }}\n'
        "[db]\n"
        'url = postgres://app:{{ with secret "secret/data/apps/web" }}{{ index .Data.data "db-password" }}{{ end }}'
        "@db.internal/app\n"
        '[api]\nkey = {{ with secret "secret/data/apps/web" }}{{ .Data.data.api_key }}{{ end }}\n'
        'greeting = ${USER} {{ "{{{" }} braces {{ "}}}" }} {{ "}}" }}\n'
    )
    config = result.companions[directory / "app.conf.agent.hcl"].decode()
    for line in ('address = "https://vault.example.org:8200"', 'method "approle" {',
                 'role_id_file_path                   = "/etc/vaultshift/approle/role_id"',
                 'static_secret_render_interval = "2m"',
                 'source               = "/etc/myapp/.vaultshift/app.conf.ctmpl"',
                 'destination          = "/etc/myapp/app.conf"', 'perms                = "0640"',
                 'user                 = "0"', f'group                = "{NOBODY}"', "error_on_missing_key = true"):
        assert line in config
    service = result.companions[directory / unit].decode()
    assert "ExecStartPre=/usr/bin/vault agent -config=/etc/myapp/.vaultshift/app.conf.agent.hcl -exit-after-auth\n" \
        in service
    assert "ExecStart=/usr/bin/vault agent -config=/etc/myapp/.vaultshift/app.conf.agent.hcl\n" in service
    assert "Before=myapp.service\n" in service and "WantedBy=myapp.service\n" in service

    again = rewrite(TEMPLATE, result.new_bytes, reps, ctx)
    assert again.unchanged and again.new_bytes == result.new_bytes and not again.companions


def test_go_escaping() -> None:
    assert escape_literal(b"plain text") == b"plain text"
    assert escape_literal(b"a {{ b }} c") == b'a {{ "{{" }} b {{ "}}" }} c'
    assert escape_literal(b"{x} {{{y}}}") == b'{x} {{ "{{{" }}y{{ "}}}" }}'
    assert escape_literal(b"ends with {") == b'ends with {{ "{" }}'  # an action follows
    assert escape_literal(b"${HOME} $x", for_hcl=True) == b'{{ "$" }}{HOME} $x'
    assert escape_literal(b'quote " and \\ stay') == b'quote " and \\ stay'


def test_kv_v1_mount_prefix_and_field_names() -> None:
    original = b"password=abcdefghijklmnop\n"
    reps = [Replacement(9, 25, SecretRef("legacy", "apps/web", "2fa.secret"))]
    ctx = RewriteContext("/srv/app/app.properties", mounts={"legacy": KvMount("kv", "team-a/", version=1)})
    result = rewrite(TEMPLATE, original, reps, ctx)
    template = result.companions[PurePosixPath("/srv/app/.vaultshift/app.properties.ctmpl")]
    assert template == b'password={{ with secret "kv/team-a/apps/web" }}{{ index .Data "2fa.secret" }}{{ end }}\n'


def test_unit_names_are_systemd_escaped() -> None:
    assert unit_name(PurePosixPath("/etc/my-app/app.conf")) == "vaultshift-agent-etc-my\\x2dapp-app.conf.service"
    assert unit_name(PurePosixPath("/srv/.env")) == "vaultshift-agent-srv-.env.service"


@pytest.mark.parametrize("name,text,written,needle", [
    ("settings.json", '{"password": "ab\\ncdefghijklmnop"}', "ab\\ncdefghijklmnop", "escapes"),
    ("settings.json", '{"pin": 1234567890123}', "1234567890123", "unquoted JSON"),
    ("web.xml", '<c password="ab&amp;cdefghijklmnop"/>', "ab&amp;cdefghijklmnop", "escapes"),
    ("app.yml", "password: >\n  abcdefgh\n  ijklmnop\n", "abcdefgh\n  ijklmnop", "escapes"),
    ("app.yml", 'password: "abcdefgh\n  ijklmnop"\n', "abcdefgh\n  ijklmnop", "escapes"),
    ("app.yml", "key: |\n  abcdefgh\n\n  ijklmnop\n", "abcdefgh\n\n  ijklmnop", "escapes"),
])
def test_values_the_agent_cannot_reproduce_are_refused(name: str, text: str, written: str, needle: str) -> None:
    data = text.encode()
    rep = span_of(data, written.encode(), "password")
    with pytest.raises(RewriteError, match=needle) as info:
        rewrite(TEMPLATE, data, [rep], RewriteContext(f"/etc/app/{name}"))
    assert "cdefghijklmnop" not in str(info.value) and "ijklmnop" not in str(info.value)


def test_context_problems_are_refused() -> None:
    data = b"password = abcdefghijklmnop\n"
    rep = span_of(data, b"abcdefghijklmnop", "password")
    with pytest.raises(RewriteError, match="absolute path"):
        rewrite(TEMPLATE, data, [rep], RewriteContext("etc/app.conf"))
    aws = Replacement(rep.start_byte, rep.end_byte, SecretRef("aws", "apps/web", "password"))
    with pytest.raises(RewriteError, match="not a Vault/OpenBao KV backend"):
        rewrite(TEMPLATE, data, [aws], RewriteContext("/etc/app.conf"))
    with pytest.raises(RewriteError, match="line break"):
        rewrite(TEMPLATE, data, [rep], RewriteContext("/etc/app\n.conf"))


# -- real renders -----------------------------------------------------------------------------------

def _yaml_case() -> tuple[str, bytes, list[Replacement], list[str]]:
    pem_lines = [secrets.token_urlsafe(48)[:64] for _ in range(8)]
    pem = "\n".join(["-----BEGIN PRIVATE KEY-----", *pem_lines, "-----END PRIVATE KEY-----"])
    password, quoted = make_token(20), make_token(12)
    block_pw = make_token(22)
    text = ("# Helm-style values: Go templates must survive\n"
            'image: "{{ .Values.image }}:{{ .Chart.AppVersion }}"\n'
            "tls:\n  key: |\n" + "\n".join("    " + line for line in pem.splitlines()) + "\n"
            f"db:\n  password: {password}\n  quoted: \"pre\\\"{quoted}\\\\x\"\n"
            f"  block: |\n    {block_pw}\n  port: 5432\n")
    data = text.encode()
    reps = [span_of(data, pem.replace("\n", "\n    ").encode(), "tls_key"),
            span_of(data, password.encode(), "password"),
            span_of(data, f'pre\\"{quoted}\\\\x'.encode(), "quoted"),
            span_of(data, f"|\n    {block_pw}".encode(), "block")]
    return "/etc/web/config.yaml", data, reps, [pem, password, f'pre"{quoted}\\x', block_pw + "\n"]


def _ini_case() -> tuple[str, bytes, list[Replacement], list[str]]:
    one, two = make_token(18), make_token(18)
    data = ("[main]\n; {{ not a template }}\nkey = {" + one + "}\n"
            "dsn = mysql://app:" + two + "@db/app?x=${HOME}\n").encode()
    return "/etc/web/app.conf", data, [span_of(data, one.encode(), "key"), span_of(data, two.encode(), "dsn")], \
        [one, two]


def _json_case() -> tuple[str, bytes, list[Replacement], list[str]]:
    token = make_token(24)
    data = ('{\n  "client": {"secret": "a\\\\b\\"' + token + '", "note": "caf\u00e9"}\n}\n').encode()
    return "/etc/web/settings.json", data, [span_of(data, ('a\\\\b\\"' + token).encode(), "secret")], \
        ['a\\b"' + token]


def _latin1_case() -> tuple[str, bytes, list[Replacement], list[str]]:
    password = make_token(20)
    data = b"# caf\xe9 (Latin-1, not UTF-8)\n<config><add key=\"pw\" value=\"" + password.encode() + b"\"/></config>\n"
    return "/etc/web/web.config", data, [span_of(data, password.encode(), "pw")], [password]


def _properties_case() -> tuple[str, bytes, list[Replacement], list[str]]:
    password = make_token(20)
    data = ("# Spring\nspring.datasource.url=jdbc:postgresql://db/app\n"
            f"spring.datasource.password={password}\n").encode()
    return "/opt/app/application.properties", data, [span_of(data, password.encode(), "password")], [password]


@pytest.mark.parametrize("case", [_yaml_case, _ini_case, _json_case, _latin1_case, _properties_case],
                         ids=["yaml", "ini", "json", "latin1-xml", "properties"])
def test_agent_renders_exactly_the_original_bytes(server: DevServer, case: object) -> None:
    path, original, reps, values = case()  # type: ignore[operator]
    app = secrets.token_hex(4)
    reps = [Replacement(r.start_byte, r.end_byte, SecretRef("vault", f"apps/{app}", r.ref.field)) for r in reps]
    store(server, reps, values)
    result = rewrite(TEMPLATE, original, reps, RewriteContext(path))
    assert_only_spans_changed(original, result, reps)
    assert_no_canary(result, values)
    verify_parses(path, result.new_bytes, result.spans, original)
    template = result.companions[PurePosixPath(path).parent / ".vaultshift" / (PurePosixPath(path).name + ".ctmpl")]
    rendered = render_with_agent(template, address=server.addr, token=server.token)
    assert rendered == original
    verify_render(original, template, address=server.addr, token=server.token)


def test_scanned_yaml_file_round_trips(server: DevServer) -> None:
    """Spans and values straight from a scan (what the planner and the backend use)."""
    pem_lines = [secrets.token_urlsafe(48)[:64] for _ in range(10)]
    pem = "\n".join(["-----BEGIN RSA PRIVATE KEY-----", *pem_lines, "-----END RSA PRIVATE KEY-----"])
    text = ("server:\n  tls_key: |\n" + "\n".join("    " + line for line in pem.splitlines()) + "\n"
            f"  db_password: {make_token(20)}\n  api_token: \"{make_token(30)}\"\n")
    original = text.encode()
    app = secrets.token_hex(4)
    found = scan_values("/etc/scan/server.yml", original, app=app)
    assert len(found) == 3
    store(server, [f.replacement for f in found], [f.value for f in found])
    result = rewrite(TEMPLATE, original, [f.replacement for f in found], RewriteContext("/etc/scan/server.yml"))
    template = result.companions[PurePosixPath("/etc/scan/.vaultshift/server.yml.ctmpl")]
    verify_render(original, template, address=server.addr, token=server.token)


def test_missing_field_fails_verification_without_a_value(server: DevServer) -> None:
    password = make_token(20)
    original = f"password = {password}\n".encode()
    rep = span_of(original, password.encode(), "nope", app="missing-" + secrets.token_hex(4))
    server.put(rep.ref.path, {"other": "x"})
    result = rewrite(TEMPLATE, original, [rep], RewriteContext("/etc/x/app.conf"))
    template = result.companions[PurePosixPath("/etc/x/.vaultshift/app.conf.ctmpl")]
    with pytest.raises(VerifyError, match="agent failed") as info:
        verify_render(original, template, address=server.addr, token=server.token, timeout=20)
    assert password not in str(info.value)
    server.put(rep.ref.path, {"nope": password + "-changed"})
    with pytest.raises(VerifyError, match="differs"):
        verify_render(original, template, address=server.addr, token=server.token)


def test_generated_agent_config_renders_the_file_in_place(server: DevServer, tmp_path: Path) -> None:
    """The companions as generated (token-file auth instead of AppRole), run by a real agent with
    -exit-after-auth as the unit's ExecStartPre does: the file is rendered over the marker with
    its mode and owner."""
    host = tmp_path / "host"
    app_dir = host / "etc" / "myapp"
    app_dir.mkdir(parents=True)
    token_file = tmp_path / "agent-token"
    token_file.write_text(server.token)
    token_file.chmod(0o600)
    path = app_dir / "app.conf"
    password = make_token(20)
    original = f"[db]\npassword = {password}\ntemplate = {{{{ literal }}}}\n".encode()
    path.write_bytes(original)
    path.chmod(0o640)
    owner = (NOBODY, NOBODY) if os.geteuid() == 0 else (os.geteuid(), os.getegid())
    if os.geteuid() == 0:
        os.chown(path, *owner)
    info = path.stat()
    rep = span_of(original, password.encode(), "password", app="inplace-" + secrets.token_hex(4))
    server.put(rep.ref.path, {"password": password})
    ctx = RewriteContext(str(path), mode=stat.S_IMODE(info.st_mode), uid=info.st_uid, gid=info.st_gid,
                         agent=AgentOptions(address=server.addr, auth=AutoAuth.token(str(token_file)),
                                            binary=str(BAO), render_interval="1m"))
    result = rewrite(TEMPLATE, original, [rep], ctx)
    write_atomic(path, result.new_bytes)
    write_companions(result.companions, result.modes)
    assert path.read_bytes() == result.new_bytes
    assert password.encode() not in b"".join(p.read_bytes() for p in (app_dir / ".vaultshift").iterdir())
    config = app_dir / ".vaultshift" / "app.conf.agent.hcl"
    done = subprocess.run([str(BAO), "agent", f"-config={config}", "-exit-after-auth"], capture_output=True,
                          text=True, timeout=30, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert password not in done.stdout + done.stderr  # the agent logs no value
    after = path.stat()
    assert path.read_bytes() == original
    assert stat.S_IMODE(after.st_mode) == 0o640 and (after.st_uid, after.st_gid) == owner


# -- .env files ------------------------------------------------------------------------------------

def _env_file() -> tuple[bytes, list[Replacement], list[str], list[str]]:
    token, password, dq, quoted_pw = make_token(24), make_token(18), make_token(16), make_token(14)
    text = (
        "# .env for the web app\n"
        "export APP_ENV=production\n"
        f"export API_TOKEN={token}\n"
        f"DATABASE_URL=postgres://app:{password}@db:5432/app?opt=${{HOME}}\n"
        f'SESSION_SECRET="a\\"{dq}"\n'
        f"SMTP_PASSWORD='{quoted_pw}'  # rotated\n"
        "LOG_LEVEL=info\n"
    )
    data = text.encode()
    app = "env-" + secrets.token_hex(4)
    reps = [span_of(data, token.encode(), "api_token", app), span_of(data, password.encode(), "database_url", app),
            span_of(data, f'a\\"{dq}'.encode(), "session_secret", app),
            span_of(data, quoted_pw.encode(), "smtp_password", app)]
    names = ["API_TOKEN", "DATABASE_URL", "SESSION_SECRET", "SMTP_PASSWORD"]
    return data, reps, [token, password, f'a"{dq}', quoted_pw], names


def test_env_exec_generation() -> None:
    data, reps, values, _ = _env_file()
    ctx = context("/srv/web/.env", command=("/usr/bin/node", "server.js"), app_unit="web.service")
    result = rewrite(ENV, data, reps, ctx)
    assert_only_spans_changed(data, result, reps)
    assert_no_canary(result, values)
    verify_parses("/srv/web/.env", result.new_bytes, result.spans, data)
    doc, _ = Document.from_bytes("/srv/web/.env", result.new_bytes)
    read = {entry.key: entry.value for entry in EnvReader().read(doc)}
    assert read["API_TOKEN"] == MARKER and read["LOG_LEVEL"] == "info"
    assert read["DATABASE_URL"] == f"postgres://app:{MARKER}@db:5432/app?opt=${{HOME}}"

    directory = PurePosixPath("/srv/web/.vaultshift")
    assert set(result.companions) == {directory / ".env.agent.hcl", directory / "vaultshift-agent-srv-web-.env.service"}
    config = result.companions[directory / ".env.agent.hcl"].decode()
    assert 'env_template "API_TOKEN" {' in config and 'env_template "LOG_LEVEL"' not in config
    assert 'command                   = ["/usr/bin/node", "server.js"]' in config
    app = reps[0].ref.path
    assert ('contents             = "postgres://app:{{ with secret \\"secret/data/' + app + '\\" }}'
            '{{ .Data.data.database_url }}{{ end }}@db:5432/app?opt={{ \\"$\\" }}{HOME}"') in config
    service = result.companions[directory / "vaultshift-agent-srv-web-.env.service"].decode()
    assert "ExecStartPre" not in service
    assert "ExecStart=/usr/bin/bao agent -config=/srv/web/.vaultshift/.env.agent.hcl" in service
    again = rewrite(ENV, result.new_bytes, reps, ctx)
    assert again.unchanged


def test_env_refusals() -> None:
    data, reps, _, _ = _env_file()
    with pytest.raises(RewriteError, match="command"):
        rewrite(ENV, data, reps, context("/srv/web/.env"))
    with pytest.raises(RewriteError, match=r"not a \.env file"):
        rewrite(ENV, data, reps, context("/srv/web/app.conf", command=("x",)))
    twice = b"TOKEN=abcdefghijklmnop\nTOKEN=qrstuvwxyzabcdef\n"
    reps2 = [span_of(twice, b"abcdefghijklmnop", "a"), span_of(twice, b"qrstuvwxyzabcdef", "b")]
    with pytest.raises(RewriteError, match="more than once"):
        rewrite(ENV, twice, reps2, context("/srv/web/.env", command=("x",)))
    escaped = b'URL="postgres://a:abcdefghijklmnop@h/\\"x"\n'
    with pytest.raises(RewriteError, match="escapes"):
        rewrite(ENV, escaped, [span_of(escaped, b"abcdefghijklmnop", "a")], context("/srv/web/.env", command=("x",)))


def test_env_templates_give_the_original_values_through_exec(server: DevServer) -> None:
    data, reps, values, names = _env_file()
    store(server, reps, values)
    ctx = context("/srv/web/.env", command=("/usr/bin/node", "server.js"))
    templates = env_templates(data, reps, ctx)
    assert [name for name, _ in templates] == names
    verify_env("/srv/web/.env", data, templates, address=server.addr, token=server.token)
    server.put(reps[0].ref.path, {**dict(zip([r.ref.field for r in reps], values, strict=True)), "api_token": "other"})
    with pytest.raises(VerifyError, match="API_TOKEN") as info:
        verify_env("/srv/web/.env", data, templates, address=server.addr, token=server.token)
    assert values[0] not in str(info.value)


def test_generated_exec_config_runs_the_command_with_the_secrets(server: DevServer, tmp_path: Path) -> None:
    data, reps, values, names = _env_file()
    store(server, reps, values)
    token_file = tmp_path / "token"
    token_file.write_text(server.token)
    out = tmp_path / "env.json"
    script = ("import json, os, sys; json.dump({n: os.environ.get(n) for n in sys.argv[2:]}, "
              "open(sys.argv[1], 'w'))")
    path = tmp_path / "srv" / ".env"
    path.parent.mkdir()
    ctx = RewriteContext(str(path), agent=AgentOptions(address=server.addr, auth=AutoAuth.token(str(token_file)),
                                                       command=(sys.executable, "-c", script, str(out), *names,
                                                                "LOG_LEVEL")))
    result = rewrite(ENV, data, reps, ctx)
    write_companions(result.companions, result.modes)
    config = path.parent / ".vaultshift" / ".env.agent.hcl"
    done = subprocess.run([str(BAO), "agent", f"-config={config}"], capture_output=True, text=True, timeout=30,
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LOG_LEVEL": "debug"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    got = json.loads(out.read_text())
    doc, _ = Document.from_bytes(".env", data)
    original = {entry.key: entry.value for entry in EnvReader().read(doc)}
    assert got == {**{name: original[name] for name in names}, "LOG_LEVEL": "debug"}  # others: the app's own


def test_env_file_mode_renders_the_whole_env(server: DevServer) -> None:
    data, reps, values, _ = _env_file()
    store(server, reps, values)
    result: RewriteResult = rewrite(ENV, data, reps, context("/srv/web/.env", env_mode="file"))
    assert "agent-rendered .env" in result.description
    template = result.companions[PurePosixPath("/srv/web/.vaultshift/.env.ctmpl")]
    assert render_with_agent(template, address=server.addr, token=server.token) == data


# -- the production defaults, for real ---------------------------------------------------------------

def test_default_approle_config_renders_with_a_real_approle_login(server: DevServer, tmp_path: Path) -> None:
    """The AppRole auto_auth block as generated by default, against a role allowed to read only
    this app's secret."""
    client = server.client()
    if "approle/" not in client.sys.list_auth_methods():
        client.sys.enable_auth_method("approle")
    app = "approle-" + secrets.token_hex(4)
    client.sys.create_or_update_policy(app, f'path "secret/data/apps/{app}" {{ capabilities = ["read"] }}')
    client.auth.approle.create_or_update_approle(app, token_policies=[app], token_ttl="5m")
    role_id = client.auth.approle.read_role_id(app)["data"]["role_id"]
    secret_id = client.auth.approle.generate_secret_id(app)["data"]["secret_id"]
    for name, value in (("role_id", role_id), ("secret_id", secret_id)):
        (tmp_path / name).write_text(value)
        (tmp_path / name).chmod(0o600)
    password = make_token(20)
    path = tmp_path / "etc" / "app.ini"
    path.parent.mkdir()
    original = f"[db]\npassword = {password}\n".encode()
    rep = span_of(original, password.encode(), "password", app=app)
    server.put(rep.ref.path, {"password": password})
    auth = AutoAuth(role_id_file=str(tmp_path / "role_id"), secret_id_file=str(tmp_path / "secret_id"))
    result = rewrite(TEMPLATE, original, [rep], RewriteContext(str(path), agent=AgentOptions(server.addr, auth=auth)))
    write_atomic(path, result.new_bytes, like=None)
    write_companions(result.companions, result.modes)
    config = path.parent / ".vaultshift" / "app.ini.agent.hcl"
    assert 'method "approle"' in config.read_text()
    done = subprocess.run([str(BAO), "agent", f"-config={config}", "-exit-after-auth"], capture_output=True,
                          text=True, timeout=30, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert path.read_bytes() == original and (tmp_path / "secret_id").exists()


@pytest.mark.skipif(not os.path.exists("/usr/bin/systemd-analyze"), reason="systemd-analyze is not installed")
def test_generated_units_pass_systemd_analyze(tmp_path: Path) -> None:
    data, reps, _, _ = _env_file()
    results = [
        rewrite(ENV, data, reps, context("/srv/web/.env", command=(sys.executable, "app.py"), binary=str(BAO))),
        rewrite(TEMPLATE, b"password = abcdefghijklmnop\n", [span_of(b"password = abcdefghijklmnop\n",
                                                                      b"abcdefghijklmnop", "password")],
                context("/etc/my-app/app.conf", binary=str(BAO), app_unit="my-app.service")),
    ]
    for result in results:
        for path, data in result.companions.items():
            if path.suffix == ".service":
                unit = tmp_path / path.name
                unit.write_bytes(data)
                done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True,
                                      text=True, timeout=60)
                problems = [line for line in (done.stdout + done.stderr).splitlines()
                            if path.name in line or "bad" in line.lower()]
                assert done.returncode == 0 and not problems, done.stdout + done.stderr
