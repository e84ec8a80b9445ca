from __future__ import annotations

from migrator.discover.readers.hcl import HclReader


def test_blocks_labels_and_attributes(read):
    parsed = read(
        "main.tf",
        "# база данных: пароль é\n"
        'provider "vault" {\n  address = "https://vault.example:8200"\n  token   = "s.é-token"\n}\n\n'
        'resource "aws_db_instance" "main" {\n'
        '  username = "admin" // comment\n'
        '  password = "pä$$word"\n'
        "  port     = 5432\n"
        "  tags = {\n    Name = \"db\"\n    \"team-x\" = \"ops\"\n  }\n"
        '  security_groups = ["sg-1", "sg-é"]\n'
        "  lifecycle {\n    ignore_changes = [password]\n  }\n"
        "}\n",
    )
    assert isinstance(parsed.reader, HclReader)
    parsed.check("provider.vault.address", "https://vault.example:8200")
    parsed.check("provider.vault.token", "s.é-token", key="token")
    parsed.check("resource.aws_db_instance.main.username", "admin")
    parsed.check("resource.aws_db_instance.main.password", "pä$$word", key="password")
    parsed.check("resource.aws_db_instance.main.tags.Name", "db", key="Name")
    parsed.check("resource.aws_db_instance.main.tags.team-x", "ops")
    parsed.check("resource.aws_db_instance.main.security_groups[1]", "sg-é", key="security_groups")
    assert not any(p.endswith("port") for p in parsed.paths)


def test_variable_default_key_is_the_variable_name(read):
    parsed = read(
        "variables.tf",
        'variable "db_password" {\n  type      = string\n  default   = "é-default-pw"\n  sensitive = true\n}\n'
        'variable "region" { default = "eu-west-1" }\n',
    )
    parsed.check("variable.db_password.default", "é-default-pw", key="db_password")
    parsed.check("variable.region.default", "eu-west-1", key="region")


def test_tfvars_interpolation_and_heredocs(read):
    parsed = read(
        "prod.tfvars",
        'name = "é"\n'
        'db_password = "hunter2"\n'
        'conn = "postgres://${var.user}:${lookup(var.m, "k", "d")}@host"\n'
        "cert = <<EOF\n-----BEGIN CERT-----\nabc\n-----END CERT-----\nEOF\n"
        "script = <<-EOT\n    line one\n      line two\n    EOT\n"
        "after = \"ok\"\n",
    )
    parsed.check("db_password", "hunter2", key="db_password")
    parsed.check("conn", 'postgres://${var.user}:${lookup(var.m, "k", "d")}@host')
    entry = parsed.check("cert", "-----BEGIN CERT-----\nabc\n-----END CERT-----", quote="<<")
    span = parsed.doc.span(entry.start, entry.end)
    assert (span.line, span.end_line) == (5, 7)
    entry = parsed.check("script", "line one\n  line two", raw=True)
    assert parsed.doc.text[entry.start : entry.end] == "    line one\n      line two"
    parsed.check("after", "ok")


def test_function_calls_and_nested_objects(read):
    parsed = read(
        "locals.hcl",
        'locals {\n  pw = coalesce(var.pw, "fallbäck")\n'
        '  cfg = merge({ a = "1" }, { b = { c = "deep" } })\n'
        '  esc = "tab\\there"\n}\n',
    )
    parsed.check("locals.pw", "fallbäck", key="pw")
    parsed.check("locals.cfg.a", "1")
    parsed.check("locals.cfg.b.c", "deep", key="c")
    parsed.check("locals.esc", "tab\there", raw=True)


def test_index_lookups_and_expressions_are_not_values(read):
    parsed = read(
        "lookups.tf",
        'output "x" {\n  value = var.m["not-a-value"]\n  other = local.a["k"][0]\n'
        '  pick  = var.env == "prod" ? "big" : "small"\n  /* "commented" = "out" */\n}\n',
    )
    assert not any(e.value in ("not-a-value", "k", "commented", "out") for e in parsed.entries)
    assert [parsed.verify(e).value for e in parsed.all("output.x.pick")] == ["prod", "big", "small"]


def test_malformed_hcl(malformed):
    message = malformed("bad.tf", 'resource "x" "y" {\n  password = "hunter2\n}\n', "hunter2")
    assert "line 2" in message
    malformed("bad2.tf", 'resource "x" "y" {\n  password = "hunter2"\n', "hunter2")
    message = malformed("bad3.hcl", 'a = "hunter2"\n}\n', "hunter2")
    assert "line 2" in message
