"""Switching references (pure text work on what vaultshift itself wrote): lookups in both quote
styles, agent actions with their pipelines and HCL escaping, a literal username made an action at
exactly its place, env_template contents; and the rotation settings' one-line errors and the
waves a fleet's secrets fall in."""

from __future__ import annotations

import pytest

from migrator.config import ConfigError, parse_config
from migrator.plan.models import Occurrence, Plan, PlannedSecret, ReferenceStyle, SecretRef
from migrator.rewrite.agent_config import hcl_string
from migrator.rewrite.base import MARKER, KvMount
from migrator.rotate.classify import DATABASE, Classified, DatabaseTarget
from migrator.rotate.inventory import STATIC, TRACK, decide_items
from migrator.rotate.settings import rotation_settings
from migrator.rotate.switch import (
    Switch,
    SwitchError,
    action_ranges,
    env_template_of,
    replace_actions,
    replace_lookups,
    template_username,
    with_env_template,
)

KV = SecretRef("vault", "apps/web/db", "password")
STATIC_REF = SecretRef("database", "static-creds/shop-web", "password")
MOUNTS = {"vault": KvMount("secret", "team"), "database": KvMount("database", "", version=1)}
SWITCH = Switch(KV, STATIC_REF, MOUNTS, "vault")


def test_lookups_switch_in_both_quote_styles_and_nothing_else() -> None:
    text = ("a: \"{{ lookup('vaultshift.secrets.secret', 'apps/web/db#password') }}\"\n"
            "b: '{{ lookup(''vaultshift.secrets.secret'', ''apps/web/db#password'') }}'\n"
            "c: \"{{ lookup('vaultshift.secrets.secret', 'apps/web/db#password2') }}\"\n")
    switched, count = replace_lookups(text, SWITCH)
    assert count == 2
    assert "'static-creds/shop-web#password', backend='database')" in switched
    assert "''static-creds/shop-web#password'', backend=''database'')" in switched
    assert "apps/web/db#password2" in switched  # another field's lookup is left alone
    assert replace_lookups(switched, SWITCH.reversed()) == (text, 2)


def test_actions_keep_their_pipelines_and_match_whole_fields() -> None:
    old = '{{ with secret "secret/data/team/apps/web/db" }}{{ .Data.data.password | trimSuffix "\\n" }}{{ end }}'
    other = '{{ with secret "secret/data/team/apps/web/db" }}{{ .Data.data.passwordx }}{{ end }}'
    switched, count = replace_actions(f"x={old}\ny={other}\n", SWITCH)
    assert count == 1
    assert switched.startswith('x={{ with secret "database/static-creds/shop-web" }}{{ .Data.password | trimSuffix')
    assert other in switched
    hcl = hcl_string(f"x={old}")
    switched_hcl, count = replace_actions(hcl, SWITCH, hcl=True)
    assert count == 1 and '\\"database/static-creds/shop-web\\"' in switched_hcl


def test_a_field_that_is_not_a_go_identifier_is_read_with_index() -> None:
    switch = Switch(SecretRef("vault", "apps/web/db", "db-password"), STATIC_REF, MOUNTS, "vault")
    old = '{{ with secret "secret/data/team/apps/web/db" }}{{ index .Data.data "db-password" }}{{ end }}'
    switched, count = replace_actions(old, switch)
    assert count == 1 and switched.startswith('{{ with secret "database/static-creds/shop-web" }}{{ .Data.password')


def test_a_username_becomes_an_action_at_its_own_place() -> None:
    live = f"[db]\nname = app\nuser = app\npassword = {MARKER}\n# app settings\n"
    template = ('[db]\nname = app\nuser = app\npassword = {{ with secret "x" }}{{ .Data.password }}{{ end }}\n'
                '# app settings\n')
    action = '{{ with secret "database/creds/r" }}{{ .Data.username }}{{ end }}'
    done = template_username(live, live.index("user = app") + 7, "app", template, action, "app.ini")
    assert done == template.replace("user = app", f"user = {action}")
    with pytest.raises(SwitchError, match=r"app\.ini: cannot find the username's place"):
        template_username(live, 3, "app", template, action, "app.ini")
    with pytest.raises(SwitchError, match=r"app\.ini: the username"):
        template_username(live, 0, 'a"b', template, action, "app.ini")


def test_action_ranges_skip_braces_inside_quoted_strings() -> None:
    text = 'a {{ "}}" }} b {{ .Data.x }}'
    assert [text[s:e] for s, e in action_ranges(text)] == ['{{ "}}" }}', "{{ .Data.x }}"]


def test_env_template_contents_round_trip() -> None:
    config = ('env_template "DATABASE_URL" {\n  contents             = '
              + hcl_string('postgresql://app:{{ with secret "x" }}{{ .Data.data.p }}{{ end }}@db/app') + "\n}\n")
    start, end, contents = env_template_of(config, "DATABASE_URL")
    assert config[start] == config[end - 1] == '"'
    assert contents.startswith("postgresql://app:{{ with secret \"x\" }}")
    assert with_env_template(config, "DATABASE_URL", contents) == config
    with pytest.raises(SwitchError, match="no env_template for OTHER"):
        env_template_of(config, "OTHER")


def _config(extra: str) -> dict:
    import yaml

    return yaml.safe_load("backends:\n  vault: {type: vault}\n  database: {type: vault-database}\n" + extra)


@pytest.mark.parametrize(("rotation", "message"), [
    ("rotation: {rotation_period: 2}", "rotation.rotation_period: must be a whole number of seconds, at least 5"),
    ("rotation: {databases: [{name: 'a b', admin: x}]}", r"rotation.databases\[0\].name"),
    ("rotation: {databases: [{name: a}]}", r"rotation.databases\[0\].admin"),
    ("rotation: {waves: [{name: rest, hosts: [a]}]}", r"rotation.waves\[0\].name: 'rest' is reserved"),
    ("rotation: {colour: blue}", "rotation: unknown key 'colour'"),
])
def test_rotation_settings_errors_are_one_line_naming_the_item(rotation: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        rotation_settings(parse_config(_config(rotation), "vaultshift.yml"))
    assert "\n" not in str(caught.value) and str(caught.value).startswith("vaultshift.yml: rotation")


def test_without_a_database_backend_rotation_says_what_to_add() -> None:
    import yaml

    config = parse_config(yaml.safe_load("backends:\n  vault: {type: vault}\n"), "v.yml")
    with pytest.raises(ConfigError, match="type vault-database"):
        rotation_settings(config)


def _secret(name: str, hosts: list[str]) -> PlannedSecret:
    occurrences = tuple(Occurrence(f"etc/{name}.ini", 0, 8, 1, "db.password", "ini", ReferenceStyle.AGENT_TEMPLATE,
                                   "d", host) for host in hosts)
    return PlannedSecret(f"fp-{name}", "password", SecretRef("vault", f"apps/{name}", "password"), occurrences)


def test_a_secret_shared_with_a_later_wave_waits_for_it() -> None:
    config = parse_config(_config(
        "rotation:\n  databases: [{name: main, match: {host: 'db*'}, admin: admin/db}]\n"
        "  waves: [{name: canary, hosts: [web1]}, {name: web, hosts: ['web*']}]\n"), "v.yml")
    settings = rotation_settings(config)
    secrets = [_secret("own", ["web1"]), _secret("shared", ["web1", "web2"]), _secret("far", ["db1"]),
               _secret("nodb", ["web1"])]
    plan = Plan(tuple(secrets), (), "", "")

    def classified(secret: PlannedSecret) -> Classified:
        if secret.fingerprint == "fp-nodb":
            return Classified(secret, "other")
        user = secret.fingerprint.removeprefix("fp-")
        return Classified(secret, DATABASE, DatabaseTarget(None, "db1.internal", 5432, user, "app", "x:1"))

    items = {i.secret.fingerprint: i for i in decide_items(plan, settings, config, [classified(s) for s in secrets])}
    assert {fp: i.wave for fp, i in items.items()} == {"fp-own": "canary", "fp-shared": "web", "fp-far": "rest",
                                                       "fp-nodb": "canary"}
    assert items["fp-own"].mode == STATIC and items["fp-own"].target.engine == "postgresql"
    assert items["fp-own"].static_role == "main-own"
    assert items["fp-nodb"].mode == TRACK and "not a database credential" in items["fp-nodb"].blocked
    assert settings.wave_names(["web1", "web2", "db1"]) == ["canary", "web", "rest"]
