"""Ansible inventories (YAML and INI) read for hosts and groups; naming helpers; the style rule."""

from __future__ import annotations

import re
import string

import pytest

from migrator.plan.inventory import InventoryError, expand_hosts, load_inventory, parse_ini
from migrator.plan.models import ReferenceStyle
from migrator.plan.naming import field_name, key_name, key_segments, segment
from migrator.plan.styles import default_style

YAML_INVENTORY = """\
all:
  hosts:
    bastion:
  vars:
    ansible_user: deploy
  children:
    webservers:
      hosts:
        web[01:03].example.org:
          http_port: 8080
      vars:
        ansible_become_password: !vault |
          $ANSIBLE_VAULT;1.1;AES256
          6231336539666234
    dbservers:
      hosts:
        db1:
      children:
        replicas:
          hosts:
            db-[a:b]:
    prod:
      children:
        webservers:
        dbservers:
"""

INI_INVENTORY = """\
# comment
bastion ansible_host=10.0.0.1

[webservers]
web[01:03].example.org http_port=8080

[dbservers]
db1
; another comment

[replicas]
db-[a:b]

[dbservers:children]
replicas

[prod:children]
webservers
dbservers

[prod:vars]
ansible_user=deploy
"""


@pytest.mark.parametrize("name, text", [("hosts.yml", YAML_INVENTORY), ("hosts.ini", INI_INVENTORY),
                                        ("hosts", YAML_INVENTORY), ("inventory", INI_INVENTORY)])
def test_yaml_and_ini_inventories_give_the_same_hosts_and_groups(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    inventory = load_inventory(path)
    assert inventory.hosts == {"bastion", "web01.example.org", "web02.example.org", "web03.example.org", "db1",
                               "db-a", "db-b"}
    assert inventory.groups("web02.example.org") == {"all", "webservers", "prod"}
    assert inventory.groups("db-a") == {"all", "replicas", "dbservers", "prod"}
    assert inventory.groups("bastion") == {"all", "ungrouped"}
    assert inventory.groups("nowhere") == frozenset()
    assert inventory.group("web01.example.org") == "webservers"
    assert inventory.group("db-b") == "replicas"
    assert inventory.group("bastion") == ""


def test_host_ranges():
    assert expand_hosts("web[01:03]") == ["web01", "web02", "web03"]
    assert expand_hosts("n[0:10:5]") == ["n0", "n5", "n10"]
    assert expand_hosts("[a:c]-[1:2]") == ["a-1", "a-2", "b-1", "b-2", "c-1", "c-2"]
    assert expand_hosts("plain.example.org") == ["plain.example.org"]
    for bad in ("x[1:a]", "x[3:1]", "x[1:3:0]"):
        with pytest.raises(ValueError):
            expand_hosts(bad)


@pytest.mark.parametrize("name, text, message", [
    ("hosts.yml", "all: [web1]\n", "group 'all': must be a mapping"),
    ("hosts.yml", "all:\n  host:\n    web1:\n", "unexpected key 'host'"),
    ("hosts.yml", "all:\n  hosts: [web1]\n", "'hosts' must be a mapping"),
    ("hosts.yml", "all:\n  hosts:\n    web1: [\n", "not valid YAML (line"),
    ("hosts.yml", "- web1\n", "a YAML inventory is a mapping"),
    ("hosts.ini", "[web\nweb1\n", "line 1: a section header"),
    ("hosts.ini", "[web:hosts]\nweb1\n", "unknown section kind 'hosts'"),
    ("hosts.ini", "[web]\nweb[3:1]\n", "line 2: host range"),
    ("missing.yml", None, "cannot read inventory"),
])
def test_bad_inventories_are_one_line_errors(tmp_path, name, text, message):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_ini_hosts_before_any_section_are_ungrouped():
    inventory = parse_ini("a\n[g]\nb\n", "x")
    assert inventory.groups("a") == {"all", "ungrouped"} and inventory.groups("b") == {"all", "g"}


# -- naming helpers --------------------------------------------------------------------------------


def test_key_names_and_fields():
    assert key_name("dbPassword") == "db_password"
    assert key_name("DB-PASSWORD") == "db_password"
    assert key_name("APIKey") == "api_key"
    assert key_name("  ") == ""
    assert key_segments("database.users[0].password") == ["database", "users", "password"]
    assert field_name("database.primary.password", "password") == "password"
    assert field_name("passwords[2]", "password") == "passwords"
    assert field_name("", "github_token") == "github_token"
    assert field_name("[0]", "") == "value"


def test_segments_are_always_safe_for_vault_and_aws():
    assert segment("My App") == "my-app"
    assert segment("..hidden..") == "hidden"
    assert segment("a..b") == "a.b"
    assert segment("-x-") == "x"
    assert segment("web01.example.org") == "web01.example.org"
    assert segment("ünïcode") == "n-code"
    assert len(segment("x" * 500)) == 64
    alphabet = string.printable + "éü/\\"
    import random

    rng = random.Random(7)
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        result = segment(text)
        assert result == "" or re.fullmatch(r"[a-z0-9_]([a-z0-9._-]*[a-z0-9_])?", result), (text, result)
        assert ".." not in result


@pytest.mark.parametrize("path, style", [
    ("group_vars/all.yml", ReferenceStyle.ANSIBLE_LOOKUP),
    ("x/Host_Vars/web1", ReferenceStyle.ANSIBLE_LOOKUP),
    ("roles/app/vars/main.yaml", ReferenceStyle.ANSIBLE_LOOKUP),
    ("roles/app/files/app.conf", ReferenceStyle.AGENT_TEMPLATE),
    ("templates/app.env.j2", ReferenceStyle.ANSIBLE_LOOKUP),
    ("etc/app.jinja2", ReferenceStyle.ANSIBLE_LOOKUP),
    (".env", ReferenceStyle.AGENT_ENV),
    ("srv/.env.local", ReferenceStyle.AGENT_ENV),
    ("prod.env", ReferenceStyle.AGENT_ENV),
    ("tf/x.tfvars", ReferenceStyle.TERRAFORM),
    ("tf/x.tfvars.json", ReferenceStyle.TERRAFORM),
    ("tf/main.tf", ReferenceStyle.TERRAFORM),
    ("etc/app/config.yml", ReferenceStyle.AGENT_TEMPLATE),
    ("Dockerfile", ReferenceStyle.AGENT_TEMPLATE),
])
def test_default_style_rule(path, style):
    assert default_style(path) == style


def test_default_style_reads_the_trees_own_name_and_the_inventory():
    assert default_style("all.yml", root_name="group_vars") == ReferenceStyle.ANSIBLE_LOOKUP
    assert default_style("hosts", is_inventory=True) == ReferenceStyle.ANSIBLE_LOOKUP
    assert default_style("hosts") == ReferenceStyle.AGENT_TEMPLATE
