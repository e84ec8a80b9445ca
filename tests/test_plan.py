"""The planner as a library: grouping, occurrences and file digests, naming and disambiguation,
routing, reference styles, hosts, determinism. Real files in temporary trees, real scans."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from migrator.config import ConfigError, default_config, parse_config
from migrator.discover.scanner import Scanner, ScanOptions
from migrator.fingerprint import Fingerprinter
from migrator.plan import planfile
from migrator.plan.digest import FILE_DIGEST_PREFIX, FileDigester
from migrator.plan.inventory import Inventory, parse_ini
from migrator.plan.models import Occurrence, Plan, PlannedSecret, ReferenceStyle, SecretRef
from migrator.plan.planner import Planner, PlanOutcome, Source, SourceError, parse_source

TEST_KEY = bytes(range(32))


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root


SAFE_PATH = re.compile(r"^[a-z0-9_][a-z0-9._-]*(?:/[a-z0-9_][a-z0-9._-]*)*$")


def make_planner(config: dict[str, Any] | None = None, inventory: Inventory | None = None,
                 inventory_file: str | None = None, **options: Any) -> Planner:
    fingerprinter = Fingerprinter(TEST_KEY)
    cfg = parse_config(config, "test.yml") if config is not None else default_config()
    return Planner(Scanner(fingerprinter, ScanOptions(**options)), FileDigester(TEST_KEY), cfg,
                   fingerprinter.key_id, inventory, inventory_file)


def plan_of(*paths: str | Path, config: dict[str, Any] | None = None, inventory: Inventory | None = None,
            **options: Any) -> PlanOutcome:
    sources = [p if isinstance(p, Source) else parse_source(str(p)) for p in paths]
    return make_planner(config, inventory, **options).plan(sources)


def by_ref(plan: Plan) -> dict[str, PlannedSecret]:
    return {str(s.ref): s for s in plan.secrets}


def refs(plan: Plan) -> list[str]:
    return [str(s.ref) for s in plan.secrets]


# -- grouping and occurrences --------------------------------------------------------------------


def test_identical_values_across_files_become_one_secret_with_every_occurrence(tmp_path, token):
    shared, other = token(24), token(24)
    root = write_tree(tmp_path / "web", {
        "config.yml": f"db:\n  host: db.internal\n  password: \"{shared}\"\n",
        ".env": f"APP_ENV=prod\nDB_PASSWORD={shared}\n",
        "conf/app.properties": f"jdbc.password={shared}\nsmtp.password={other}\n",
    })
    plan = plan_of(root).plan
    assert len(plan.secrets) == 2
    [grouped] = [s for s in plan.secrets if len(s.occurrences) == 3]
    assert [o.path for o in grouped.occurrences] == [".env", "conf/app.properties", "config.yml"]
    assert grouped.occurrences == tuple(sorted(grouped.occurrences))
    assert grouped.ref == SecretRef("vault", "apps/web/db_password", "db_password")  # named by the first
    assert grouped.kind == "password" and grouped.hint.endswith("(24 chars)")
    [single] = [s for s in plan.secrets if s is not grouped]
    assert single.fingerprint != grouped.fingerprint
    assert single.fingerprint == Fingerprinter(TEST_KEY)(other)


def test_an_occurrence_holds_the_exact_span_line_key_reader_and_a_keyed_file_digest(tmp_path, token):
    value = token(30)
    root = write_tree(tmp_path / "app", {"settings.yml": f"# café\napi:\n  token: '{value}'\n"})
    plan = plan_of(root).plan
    [secret] = plan.secrets
    [occ] = secret.occurrences
    data = (root / "settings.yml").read_bytes()
    assert data[occ.start_byte:occ.end_byte] == value.encode()
    assert (occ.line, occ.key_path, occ.reader, occ.host) == (3, "api.token", "yaml", "")
    assert occ.root == str(root) and occ.file == str(root / "settings.yml")
    assert occ.file_digest == FileDigester(TEST_KEY)(data)
    assert occ.file_digest.startswith(FILE_DIGEST_PREFIX) and len(occ.file_digest) == len(FILE_DIGEST_PREFIX) + 64
    assert FileDigester(TEST_KEY).matches(data, occ.file_digest)
    assert not FileDigester(TEST_KEY).matches(data + b"\n", occ.file_digest)
    assert occ.file_digest != FileDigester(bytes(32))(data)  # keyed: another key, another digest
    assert secret.fingerprint not in occ.file_digest
    assert plan.fingerprint_key_id == Fingerprinter(TEST_KEY).key_id
    assert plan.roots == (str(root),)


def test_file_digest_never_equals_a_value_fingerprint_of_the_same_bytes(tmp_path):
    digester, fingerprint = FileDigester(TEST_KEY), Fingerprinter(TEST_KEY)
    for data in (b"", b"hunter2hunter2", "pässwörd".encode()):
        digest = digester(data)
        assert digest.removeprefix(FILE_DIGEST_PREFIX)[:32] != fingerprint(data.decode()).split(":")[1]
        assert not digest.startswith("hmac-sha256:")


def test_occurrences_are_sorted_and_the_plan_is_stable_whatever_the_order_of_paths(tmp_path, token):
    shared = token(26)
    a = write_tree(tmp_path / "a", {"x.env": f"A_TOKEN={shared}\n", "y.env": f"B_SECRET={token(26)}\n"})
    b = write_tree(tmp_path / "b", {"x.env": f"C_TOKEN={shared}\n"})
    c = write_tree(tmp_path / "c", {"deep/z.yml": f"password: \"{token(20)}\"\n"})
    first = planfile.dumps(plan_of(a, b, c).plan)
    assert planfile.dumps(plan_of(a, b, c).plan) == first
    assert planfile.dumps(plan_of(c, b, a).plan) == first
    assert planfile.dumps(plan_of(b, c, a, a).plan) == first  # a path given twice is planned once
    plan = Plan.from_dict(json.loads(first))
    [shared_secret] = [s for s in plan.secrets if len(s.occurrences) == 2]
    assert [(o.root, o.path) for o in shared_secret.occurrences] == [(str(a), "x.env"), (str(b), "x.env")]


def test_plan_file_round_trips_and_is_written_atomically(tmp_path, token):
    root = write_tree(tmp_path / "svc", {".env": f"DB_PASSWORD={token(20)}\n"})
    plan = plan_of(root).plan
    target = tmp_path / "out" / "plan.json"
    target.parent.mkdir()
    target.write_text("old")
    planfile.save(target, plan)
    assert planfile.load(target) == plan
    assert target.read_text() == planfile.dumps(plan)
    assert sorted(p.name for p in target.parent.iterdir()) == ["plan.json"]  # no temporary file left
    data = json.loads(target.read_text())
    assert data["version"] == 1 and list(data) == sorted(data)
    with pytest.raises(planfile.PlanFileError, match="cannot write plan"):
        planfile.save(tmp_path / "missing" / "plan.json", plan)
    (tmp_path / "bad.json").write_text("{\"version\": 99, \"secrets\": []}")
    with pytest.raises(planfile.PlanFileError, match="format 99"):
        planfile.load(tmp_path / "bad.json")


def test_plan_file_follows_symlinks_keeps_modes_and_writes_fifos_in_place(tmp_path, token):
    import threading

    plan = plan_of(write_tree(tmp_path / "svc", {".env": f"DB_PASSWORD={token(20)}\n"})).plan
    real = tmp_path / "real.json"
    real.write_text("old")
    real.chmod(0o600)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    planfile.save(link, plan)
    assert link.is_symlink() and planfile.load(real) == plan
    assert real.stat().st_mode & 0o777 == 0o600
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    planfile.save(fifo, plan)
    reader.join(10)
    assert received == [planfile.dumps(plan).encode()]
    assert fifo.is_fifo()


def test_models_read_older_dicts_without_root_or_notes():
    occ = Occurrence("a.env", 3, 9, 1, "A", "env", ReferenceStyle.AGENT_ENV, "d")
    data = occ.to_dict()
    del data["root"]
    assert Occurrence.from_dict(data) == occ and occ.file == "a.env"
    plan = Plan((), ("/x",), "k", "apps/{app}/{key}")
    data = plan.to_dict()
    del data["notes"]
    assert Plan.from_dict(data) == plan


def test_baseline_accepted_findings_are_not_planned(tmp_path, token):
    from migrator.discover.baseline import Baseline

    kept, accepted = token(24), token(24)
    root = write_tree(tmp_path / "app", {".env": f"DB_PASSWORD={kept}\nOLD_SECRET={accepted}\n"})
    fingerprint = Fingerprinter(TEST_KEY)
    findings = Scanner(fingerprint).scan([root]).findings
    baseline = Baseline.from_findings([f for f in findings if f.fingerprint == fingerprint(accepted)],
                                      fingerprint.key_id)
    planned = plan_of(root, baseline=baseline).plan
    assert len(plan_of(root).plan.secrets) == 2
    assert [s.fingerprint for s in planned.secrets] == [fingerprint(kept)]


# -- naming --------------------------------------------------------------------------------------


def test_default_naming_uses_the_nearest_app_directory_and_the_key(tmp_path, token):
    root = write_tree(tmp_path / "fleet", {
        "srv/etc/shop/conf/app.yml": f"database:\n  primary:\n    password: \"{token(20)}\"\n",
        "billing/config/settings.json": json.dumps({"stripe": {"apiKey": token(28)}}),
        "top.env": f"SESSION_SECRET={token(40)}\n",
    })
    assert sorted(refs(plan_of(root).plan)) == [
        "apps/billing/api_key#api_key",  # camelCase key, "config" is generic
        "apps/fleet/session_secret#session_secret",  # a file at the top: the tree's name
        "apps/shop/password#password",  # srv, etc, conf are generic
    ]


def test_every_placeholder(tmp_path, token):
    inventory = parse_ini("[web]\nweb1\n[prod:children]\nweb\n", "hosts")
    root = write_tree(tmp_path / "fleet", {"web1/etc/My App/app.conf.yml": f"db:\n  users:\n"
                                                                         f"    - password: \"{token(20)}\"\n"})
    scheme = "x/{host}/{group}/{app}/{dir}/{file}/{kind}/{key_path}/{key}"
    plan = plan_of(root, config={"naming": scheme}, inventory=inventory).plan
    assert refs(plan) == ["x/web1/web/my-app/my-app/app.conf/password/db/users/password/password#password"]


def test_empty_placeholders_drop_their_segment_and_paths_are_safe(tmp_path, token):
    root = write_tree(tmp_path / "..Odd Tree..", {
        " spaced dir /..hidden../-x-.yml": f"API..Token: \"{token(30)}\"\n",
        "a/b.yml": f"\"pass word\": \"{token(20)}\"\n",
    })
    plan = plan_of(root, config={"naming": "{host}/{group}/{app}/{dir}/{key}"}).plan
    assert len(plan.secrets) == 2
    for secret in plan.secrets:
        assert SAFE_PATH.match(secret.ref.path), secret.ref.path
        assert ".." not in secret.ref.path and " " not in secret.ref.path
        assert re.fullmatch(r"[a-z0-9_]+", secret.ref.field)
    assert sorted(refs(plan)) == ["a/a/pass_word#pass_word", "hidden/hidden/token#token"]


def test_same_name_for_different_values_is_disambiguated_by_first_occurrence(tmp_path, token):
    first, second, third = token(20), token(20), token(20)
    root = write_tree(tmp_path / "web", {
        "a.yml": f"db:\n  password: \"{first}\"\n",
        "b.yml": f"smtp:\n  password: \"{second}\"\n",
        "c/web/d.yml": f"cache:\n  password: \"{third}\"\n",
        "e.yml": f"again:\n  password: \"{first}\"\n",
    })
    outcome = plan_of(root)
    plan = outcome.plan
    fingerprint = Fingerprinter(TEST_KEY)
    names = {s.fingerprint: str(s.ref) for s in plan.secrets}
    assert names == {fingerprint(first): "apps/web/password#password",
                     fingerprint(second): "apps/web/password-2#password",
                     fingerprint(third): "apps/web/password-3#password"}
    assert outcome.renamed == 2
    assert plan.notes[0] == ("renamed apps/web/password-2#password (value first at b.yml:2): "
                             "apps/web/password#password already names the value first at a.yml:2")
    assert len({(s.ref.path, s.ref.field) for s in plan.secrets}) == 3


def test_disambiguation_never_takes_another_secrets_natural_name(tmp_path, token):
    root = write_tree(tmp_path / "t", {
        "x/cfg.yml": f"password: \"{token(20)}\"\n",
        "y/cfg.yml": f"password: \"{token(20)}\"\n",
        "z/cfg-2.yml": f"password: \"{token(20)}\"\n",
    })
    plan = plan_of(root, config={"naming": "{key}/{file}"}).plan
    assert {s.occurrences[0].path: s.ref.path for s in plan.secrets} == {
        "x/cfg.yml": "password/cfg", "y/cfg.yml": "password/cfg-3", "z/cfg-2.yml": "password/cfg-2"}


def test_a_scheme_without_the_key_shares_one_path_and_suffixes_the_field(tmp_path, token):
    root = write_tree(tmp_path / "web", {
        "a.yml": f"db:\n  password: \"{token(20)}\"\napi_token: \"{token(32)}\"\n",
        "b.yml": f"smtp:\n  password: \"{token(20)}\"\n",
    })
    plan = plan_of(root, config={"naming": "apps/{app}"}).plan
    assert refs(plan) == ["apps/web#api_token", "apps/web#password", "apps/web#password_2"]


@pytest.mark.parametrize("scheme, message", [
    ("apps/{application}/{key}", "unknown placeholder {application}"),
    ("apps/{app!r}/{key}", "without a format"),
    ("apps/{app:>10}", "without a format"),
    ("apps/{app", "naming 'apps/{app'"),
])
def test_a_bad_naming_scheme_is_a_one_line_config_error(scheme, message):
    with pytest.raises(ConfigError) as caught:
        make_planner({"naming": scheme})
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith("test.yml: ")


# -- routing -------------------------------------------------------------------------------------

BACKENDS = {"vault": {"type": "vault"}, "aws": {"type": "aws"}, "legacy": {"type": "vault"}}


def test_routes_by_path_kind_host_group_and_the_default(tmp_path, token):
    inventory = parse_ini("[web]\nweb1\n[aws_apps]\nweb2\n", "hosts")
    root = write_tree(tmp_path / "fleet", {
        "aws/app.yml": f"password: \"{token(20)}\"\n",
        "ci/run.sh": f"export GH={token(36, prefix='ghp_')}\n",
        "web2/etc/app/cfg.yml": f"password: \"{token(20)}\"\n",
        "web1/etc/app/cfg.yml": f"password: \"{token(20)}\"\n",
        "misc/other.yml": f"password: \"{token(20)}\"\n",
    })
    config = {"backends": BACKENDS, "default_backend": "vault", "routes": [
        {"match": {"path": "aws/**"}, "backend": "aws"},
        {"match": {"kind": "github_*"}, "backend": "legacy"},
        {"match": {"host_group": ["aws_apps", "nothing"]}, "backend": "aws"},
        {"match": {"path": "*.yml", "host": "web2"}, "backend": "legacy"},  # never reached: route 3 first
    ]}
    plan = plan_of(root, config=config, inventory=inventory).plan
    backend = {(s.occurrences[0].host, s.occurrences[0].path): s.ref.backend for s in plan.secrets}
    assert backend == {("", "aws/app.yml"): "aws", ("", "ci/run.sh"): "legacy", ("web2", "etc/app/cfg.yml"): "aws",
                       ("web1", "etc/app/cfg.yml"): "vault", ("", "misc/other.yml"): "vault"}
    assert not [note for note in plan.notes if "routing conflict" in note]


def test_a_secret_whose_occurrences_route_differently_follows_its_first_and_is_reported(tmp_path, token):
    shared = token(24)
    root = write_tree(tmp_path / "t", {
        "a/app.yml": f"password: \"{shared}\"\n",
        "aws/app.yml": f"password: \"{shared}\"\n",
    })
    config = {"backends": BACKENDS, "routes": [{"match": {"path": "/aws/"}, "backend": "aws"}]}
    outcome = plan_of(root, config=config)
    [secret] = outcome.plan.secrets
    assert secret.ref.backend == "vault" and outcome.conflicts == 1
    assert outcome.plan.notes == (f"routing conflict for {secret.ref}: stored in vault (default_backend, by its "
                                  "first occurrence at a/app.yml:1), but aws/app.yml:1 matches route 1 (aws)",)


def test_a_secret_sent_to_aws_but_rendered_by_an_agent_is_reported_at_plan_time(tmp_path, token):
    root = write_tree(tmp_path / "fleet", {
        "aws/etc/app/config.yml": f"password: \"{token(20)}\"\n",
        "aws/srv/app/.env": f"API_TOKEN={token(30)}\n",
        "aws/group_vars/all/main.yml": f"db_password: \"{token(20)}\"\n",
    })
    config = {"backends": BACKENDS, "routes": [{"match": {"path": "aws/**"}, "backend": "aws"}]}
    plan = plan_of(root, config=config).plan
    assert {s.ref.backend for s in plan.secrets} == {"aws"}
    noted = sorted(note.split(" goes to ")[0] for note in plan.notes if "a Vault/OpenBao agent cannot read" in note)
    by_file = {s.occurrences[0].path: str(s.ref) for s in plan.secrets}
    assert noted == sorted([by_file["aws/etc/app/config.yml"], by_file["aws/srv/app/.env"]])
    assert any("aws/etc/app/config.yml:1 would be rendered by one" in note for note in plan.notes)


@pytest.mark.parametrize("routes, message", [
    ([{"match": {"paths": "x"}, "backend": "vault"}], "route 1: unknown match key 'paths'"),
    ([{"match": {"path": "!"}, "backend": "vault"}], "not a valid gitignore-style pattern"),
    ([{"match": {"kind": 3}, "backend": "vault"}], "match 'kind' must be a pattern"),
    ([{"match": {}, "backend": "vault", "tag": "x"}], "unknown key 'tag'"),
    ([{"match": {}, "backend": "nowhere"}], "backend 'nowhere' is not configured"),
])
def test_bad_routes_are_one_line_config_errors(routes, message):
    with pytest.raises(ConfigError) as caught:
        make_planner({"backends": BACKENDS, "routes": routes})
    assert message in str(caught.value) and "\n" not in str(caught.value)


# -- reference styles ----------------------------------------------------------------------------


def test_reference_styles_by_file(tmp_path, token):
    files = {
        "playbook/group_vars/all.yml": "ansible-lookup",
        "playbook/host_vars/web1": "ansible-lookup",
        "playbook/roles/app/defaults/main.yml": "ansible-lookup",
        "playbook/inventory/prod.yaml": "ansible-lookup",
        "playbook/roles/app/templates/app.conf.j2": "ansible-lookup",
        "web/.env": "agent-env",
        "web/.env.production": "agent-env",
        "web/app.env": "agent-env",
        "infra/prod.tfvars": "terraform",
        "infra/main.tf": "terraform",
        "web/config.yml": "agent-template",
        "web/vars/settings.ini": "agent-template",  # a vars directory holds Ansible YAML, not INI
        "web/settings.py": "agent-template",
    }
    content = {
        ".yml": "password: \"{v}\"\n", ".yaml": "password: \"{v}\"\n", ".j2": "password = {v}\n",
        ".tfvars": "db_password = \"{v}\"\n", ".tf": "variable \"x\" {{\n  default = \"{v}\"\n}}\npassword = \"{v}\"\n",
        ".ini": "password = {v}\n", ".py": "PASSWORD = '{v}'\n",
    }
    tree = {}
    for name in files:
        suffix = next((s for s in content if name.endswith(s)), None)
        tree[name] = (content[suffix] if suffix else "DB_PASSWORD={v}\n").format(v=token(22))
    tree["playbook/host_vars/web1"] = f"ansible_password: \"{token(22)}\"\n"
    root = write_tree(tmp_path / "t", tree)
    plan = plan_of(root).plan
    styles = {o.path: str(o.style) for s in plan.secrets for o in s.occurrences}
    assert styles == files


def test_styles_from_the_configuration_come_first_and_are_validated(tmp_path, token):
    root = write_tree(tmp_path / "t", {"legacy/app.env": f"DB_PASSWORD={token(20)}\n",
                                       "new/app.env": f"DB_PASSWORD={token(20)}\n"})
    config = {"styles": [{"match": {"path": "legacy/"}, "style": "agent-template"}]}
    plan = plan_of(root, config=config).plan
    assert {o.path: o.style for s in plan.secrets for o in s.occurrences} == {
        "legacy/app.env": ReferenceStyle.AGENT_TEMPLATE, "new/app.env": ReferenceStyle.AGENT_ENV}
    for styles, message in (([{"match": {"path": "x"}, "style": "lookup"}], "style 'lookup' is not one of"),
                            ({"match": {}}, "'styles' must be a list"),
                            ([{"match": {"hots": "x"}, "style": "terraform"}], "unknown match key 'hots'")):
        with pytest.raises(ConfigError, match=re.escape(message)):
            make_planner({"styles": styles})


def test_the_inventory_file_itself_is_ansible(tmp_path, token):
    root = write_tree(tmp_path / "t", {"hosts.ini": f"[web]\nweb1 ansible_password={token(20)}\n"})
    planner = make_planner(inventory=parse_ini("[web]\nweb1\n", "hosts.ini"), inventory_file=str(root / "hosts.ini"))
    [secret] = planner.plan([Source(str(root))]).plan.secrets
    assert secret.occurrences[0].style == ReferenceStyle.ANSIBLE_LOOKUP


# -- hosts ---------------------------------------------------------------------------------------


def test_host_equals_path_sets_the_host_and_makes_its_directory_the_root(tmp_path, token):
    shared = token(24)
    web = write_tree(tmp_path / "srv" / "web1", {"etc/app/config.yml": f"password: \"{shared}\"\n"})
    db = write_tree(tmp_path / "srv" / "db1", {"etc/app/config.yml": f"password: \"{shared}\"\n"})
    inventory = parse_ini("[web]\nweb1\n[db]\ndb1\n", "hosts")
    plan = plan_of(f"web1={web}", f"db1={db}", config={"naming": "{group}/{app}/{key}"}, inventory=inventory).plan
    [secret] = plan.secrets
    assert [(o.host, o.root, o.path) for o in secret.occurrences] == [
        ("db1", str(db), "etc/app/config.yml"), ("web1", str(web), "etc/app/config.yml")]
    assert str(secret.ref) == "db/app/password#password"  # named by the first occurrence (db1 sorts first)
    with pytest.raises(SourceError, match="host 'web9' is not in the inventory hosts"):
        plan_of(f"web9={web}", inventory=inventory)
    assert plan_of(f"web9={web}").plan.secrets[0].occurrences[0].host == "web9"  # no inventory: any host


def test_directories_named_after_inventory_hosts(tmp_path, token):
    root = write_tree(tmp_path / "fleet", {
        "web01/etc/webapp/config.yml": f"password: \"{token(20)}\"\n",
        "ansible/host_vars/web01/vars.yml": f"ansible_password: \"{token(20)}\"\n",
        "notahost/etc/x.yml": f"password: \"{token(20)}\"\n",
    })
    inventory = parse_ini("web01\n", "hosts")
    plan = plan_of(root, inventory=inventory).plan
    where = sorted((o.host, o.root, o.path) for s in plan.secrets for o in s.occurrences)
    assert where == [("", str(root), "ansible/host_vars/web01/vars.yml"), ("", str(root), "notahost/etc/x.yml"),
                     ("web01", str(root / "web01"), "etc/webapp/config.yml")]
    # the tree itself named after a host
    [secret] = plan_of(root / "web01", inventory=inventory).plan.secrets
    assert (secret.occurrences[0].host, secret.occurrences[0].path) == ("web01", "etc/webapp/config.yml")
    # without an inventory nothing is a host
    assert {o.host for s in plan_of(root).plan.secrets for o in s.occurrences} == {""}


def test_sources_that_overlap_or_name_a_bad_host_are_refused(tmp_path):
    root = write_tree(tmp_path / "t", {"a/x.yml": "a: 1\n"})
    with pytest.raises(SourceError, match="is inside"):
        plan_of(root, root / "a")
    with pytest.raises(SourceError, match="is inside"):
        plan_of(root / "a" / "x.yml", root)
    with pytest.raises(SourceError, match="given twice"):
        plan_of(f"h1={root}", f"h2={root}")
    with pytest.raises(SourceError, match="HOST=PATH"):
        parse_source("bad host=x")
    weird = tmp_path / "a=b"
    weird.mkdir()
    assert parse_source(str(weird)) == Source(str(weird))  # an existing path is a path
    assert parse_source("web1=/srv/web1") == Source("/srv/web1", "web1")


# -- errors --------------------------------------------------------------------------------------


def test_scan_errors_go_into_the_plan_and_the_rest_is_planned(tmp_path, token):
    root = write_tree(tmp_path / "t", {
        "big.env": "A=" + "x" * 5000 + "\n",
        "broken.yml": f"a: [1, 2\nadmin_password: {token(24)}\n",
        "ok.env": f"DB_PASSWORD={token(24)}\n",
    })
    outcome = plan_of(root, tmp_path / "missing", walk=_walk(max_file_size=4096))
    assert outcome.incomplete
    errors = {(e["path"], e["severity"]) for e in outcome.plan.errors}  # paths as `vaultshift scan` shows them
    assert errors == {(f"{root}/big.env", "error"), (f"{root}/broken.yml", "note"),
                      (str(tmp_path / "missing"), "error")}
    assert len(outcome.plan.secrets) == 2
    assert all(set(e) == {"path", "reason", "severity"} and "\n" not in e["reason"] for e in outcome.plan.errors)


def _walk(**options: Any) -> Any:
    from migrator.discover.walker import WalkOptions

    return WalkOptions(**options)


def test_no_secret_value_in_the_plan(tmp_path, token):
    canaries = [token(24), token(40), token(36, prefix="ghp_")]
    root = write_tree(tmp_path / "t", {
        ".env": f"DB_PASSWORD={canaries[0]}\n",
        "app.yml": f"api:\n  secret: \"{canaries[1]}\"\n",
        "ci.sh": f"export GH={canaries[2]}\n",
    })
    text = planfile.dumps(plan_of(root).plan)
    assert len(json.loads(text)["secrets"]) == 3
    for canary in canaries:
        assert canary not in text
        assert not any(canary[i:i + 8] in text for i in range(len(canary) - 7))


def test_planning_reads_but_never_writes_the_tree(tmp_path, token):
    root = write_tree(tmp_path / "t", {".env": f"DB_PASSWORD={token(24)}\n"})
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*")}
    plan_of(root)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*")} == before
    assert os.listdir(root) == [".env"]
