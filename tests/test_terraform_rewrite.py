"""The Terraform module rewrite (migrator.rewrite.terraform), in memory: a variable's value in
``*.tfvars`` or its default becomes null and its uses read the secret; a literal argument reads
it inline; provider blocks read the ephemeral resource; the blocks and the provider requirement
go where Terraform wants them; every byte outside an edit stays; what cannot be rewritten is one
line naming file and line, and nothing is rewritten then."""

from __future__ import annotations

import pytest

from migrator.discover.readers.hcl import blocks, traversals
from migrator.plan.models import SecretRef
from migrator.rewrite.base import Replacement, RewriteError
from migrator.rewrite.terraform import GENERATED_FILE, module_directory, preferred_name, rewrite_module

CANARY = "Zq8vCanaryTfValue4471"
OTHER = "Xw2pOtherCanary9931"
DB = SecretRef("vault", "apps/shop/db", "password")
TOKEN = SecretRef("vault", "apps/shop/ops", "token")


def span(data: str, value: str, ref: SecretRef, nth: int = 0) -> Replacement:
    start = -1
    for _ in range(nth + 1):
        start = data.encode().index(value.encode(), start + 1)
    return Replacement(start, start + len(value.encode()), ref)


def module(code: dict[str, str], planned: dict[str, list[tuple[str, SecretRef]]],
           extra: dict[str, str] | None = None) -> dict[str, str]:
    """Rewrite the module at /m (files by name) and return every changed file's text by name."""
    files = {**code, **(extra or {})}
    result = rewrite_module("/m", {f"/m/{name}": text.encode() for name, text in code.items()},
                            {f"/m/{name}": (files[name].encode(), [span(files[name], v, r) for v, r in reps])
                             for name, reps in planned.items()})
    for path, change in result.changes.items():
        assert CANARY not in change.new_bytes.decode() and OTHER not in change.new_bytes.decode()
        # Every byte outside the edits is the original's.
        old, new, cursor_old, cursor_new = change.original, change.new_bytes, 0, 0
        for (n_start, n_end), (o_start, o_end) in zip(change.spans, change.originals, strict=True):
            assert old[cursor_old:o_start] == new[cursor_new:n_start], path
            cursor_old, cursor_new = o_end, n_end
        assert old[cursor_old:] == new[cursor_new:], path
    return {path.removeprefix("/m/"): change.new_bytes.decode() for path, change in result.changes.items()}


VARIABLES = 'variable "db_password" {\n  type      = string\n  sensitive = true\n}\n'
MAIN = """resource "terraform_data" "app" {
  input = var.db_password
  triggers_replace = ["postgres://app:${var.db_password}@db/app", var.db_password_other]
}
# var.db_password in a comment stays
"""


def test_a_tfvars_value_becomes_null_and_every_use_reads_the_data_source() -> None:
    tfvars = f'db_password = "{CANARY}"\nregion      = "eu-west-1"\n'
    out = module({"variables.tf": VARIABLES, "main.tf": MAIN}, {"terraform.tfvars": [(CANARY, DB)]},
                 {"terraform.tfvars": tfvars})
    assert out["terraform.tfvars"] == 'db_password = null\nregion      = "eu-west-1"\n'
    assert out["main.tf"] == MAIN.replace("${var.db_password}", "${data.vaultshift_secret.db_password.value}") \
        .replace("input = var.db_password", "input = data.vaultshift_secret.db_password.value")
    assert "variables.tf" not in out  # the declaration stays as it was
    generated = out[GENERATED_FILE]
    assert 'data "vaultshift_secret" "db_password" {\n  path = "apps/shop/db"\n  key  = "password"\n}' in generated
    assert 'vaultshift = { source = "vaultshift/vaultshift" }' in generated
    assert [b.labels for b in blocks(generated)] == [("required_providers",), ("terraform",),
                                                     ("data", "vaultshift_secret", "db_password")]


def test_a_default_moves_and_a_variable_used_only_by_providers_reads_the_ephemeral_resource() -> None:
    variables = f'variable "ops_token" {{\n  type    = string\n  default = "{CANARY}"\n}}\n'
    main = 'provider "vaultshift" {\n  alias = "ops"\n  token = var.ops_token\n}\n'
    out = module({"variables.tf": variables, "main.tf": main}, {"variables.tf": [(CANARY, TOKEN)]})
    assert out["variables.tf"] == variables.replace(f'"{CANARY}"', "null")
    assert out["main.tf"] == main.replace("var.ops_token", "ephemeral.vaultshift_secret.ops_token.value")
    assert 'ephemeral "vaultshift_secret" "ops_token"' in out[GENERATED_FILE]


def test_arguments_read_inline_whole_or_inside_a_string_and_providers_ephemerally() -> None:
    main = (f'provider "vaultshift" {{\n  alias = "ops"\n  token = "{OTHER}"\n}}\n'
            f'module "db" {{\n  source = "./db"\n  password = "{CANARY}"\n  url = "postgres://app:{CANARY}@db/app"\n}}\n')
    result = rewrite_module("/m", {"/m/main.tf": main.encode()}, {"/m/main.tf": (main.encode(), [
        span(main, OTHER, TOKEN), span(main, CANARY, DB), span(main, CANARY, DB, nth=1)])})
    text = result.changes["/m/main.tf"].new_bytes.decode()
    name = preferred_name(DB)
    assert name == "apps_shop_db_password"
    assert f"token = ephemeral.vaultshift_secret.{preferred_name(TOKEN)}.value\n" in text
    assert f"password = data.vaultshift_secret.{name}.value\n" in text
    assert f'url = "postgres://app:${{data.vaultshift_secret.{name}.value}}@db/app"' in text
    generated = result.changes[f"/m/{GENERATED_FILE}"].new_bytes.decode()
    assert generated.count(f'data "vaultshift_secret" "{name}"') == 1  # one block for both uses
    assert result.refs == {DB, TOKEN}


def test_the_provider_joins_an_existing_required_providers_block_and_existing_blocks_are_reused() -> None:
    versions = 'terraform {\n  required_providers {\n    null = { source = "hashicorp/null" }\n  }\n}\n'
    existing = ('data "vaultshift_secret" "db_password" {\n  path = "apps/shop/db"\n  key  = "password"\n}\n'
                'data "vaultshift_secret" "apps_shop_other_password" {\n  path = "apps/shop/other"\n'
                '  key  = "password"\n}\n')
    main = f'resource "terraform_data" "a" {{\n  input = "{CANARY}"\n}}\n'
    code = {"versions.tf": versions, GENERATED_FILE: existing, "main.tf": main}
    out = module(code, {"main.tf": [(CANARY, DB)]})
    assert out["versions.tf"] == versions.replace(
        "  required_providers {\n", '  required_providers {\n    vaultshift = { source = "vaultshift/vaultshift" }\n')
    assert GENERATED_FILE not in out  # the block reading apps/shop/db#password is there already
    assert out["main.tf"] == main.replace(f'"{CANARY}"', "data.vaultshift_secret.db_password.value")
    # A name taken by a block reading something else gets a suffix.
    other = SecretRef("vault", "apps/shop/other", "token")
    renamed = existing.replace("apps_shop_other_password", "apps_shop_other_token")
    clash = {"versions.tf": versions, GENERATED_FILE: renamed, "main.tf": main}
    assert 'data "vaultshift_secret" "apps_shop_other_token_2"' in module(clash, {"main.tf": [(CANARY, other)]})[
        GENERATED_FILE]


def test_a_secret_inside_a_variables_value_keeps_the_literal_parts_at_every_use() -> None:
    user = SecretRef("vault", "apps/shop/db", "user")
    tfvars = f'db_url = "postgres://{OTHER}:{CANARY}@db.internal:5432/app?sslmode=require"\n'
    variables = 'variable "db_url" {\n  type = string\n}\n'
    main = 'resource "terraform_data" "a" {\n  input = var.db_url\n  triggers_replace = ["${var.db_url}"]\n}\n'
    out = module({"variables.tf": variables, "main.tf": main},
                 {"terraform.tfvars": [(OTHER, user), (CANARY, DB)]}, {"terraform.tfvars": tfvars})
    assert out["terraform.tfvars"] == "db_url = null\n"
    url = ('"postgres://${data.vaultshift_secret.apps_shop_db_user.value}:'
           '${data.vaultshift_secret.apps_shop_db_password.value}@db.internal:5432/app?sslmode=require"')
    assert out["main.tf"] == main.replace("var.db_url", url)
    assert len(blocks(out["main.tf"])) == 1  # still HCL: a quoted template inside ${...} is an expression


def test_one_secret_for_the_same_variable_in_two_places_is_one_block() -> None:
    variables = f'variable "db_password" {{\n  default = "{CANARY}"\n}}\n'
    tfvars = f'db_password = "{CANARY}"\n'
    out = module({"variables.tf": variables, "main.tf": MAIN}, {"variables.tf": [(CANARY, DB)],
                                                                "terraform.tfvars": [(CANARY, DB)]},
                 {"terraform.tfvars": tfvars})
    assert out["terraform.tfvars"] == "db_password = null\n"
    assert 'default = null' in out["variables.tf"]
    assert out[GENERATED_FILE].count('data "vaultshift_secret"') == 1


@pytest.mark.parametrize(("files", "planned", "message"), [
    ({"main.tf": f'terraform {{\n  backend "pg" {{\n    conn_str = "{CANARY}"\n  }}\n}}\n'}, {"main.tf": CANARY},
     "/m/main.tf:3: a backend block cannot read a data source"),
    ({"main.tf": VARIABLES, "terraform.tfvars": f'db_password = {{ admin = "{CANARY}" }}\n'},
     {"terraform.tfvars": CANARY}, "/m/terraform.tfvars:1: db_password.admin is inside an object"),
    ({"main.tf": VARIABLES, "terraform.tfvars": f'db_password = <<EOT\n{CANARY}\nEOT\n'},
     {"terraform.tfvars": CANARY}, "/m/terraform.tfvars:2: db_password is not set to a plain string"),
    ({"main.tf": 'variable "db_password" {\n  validation {\n    condition = length(var.db_password) > 8\n'
                 '    error_message = "short"\n  }\n}\n', "terraform.tfvars": f'db_password = "{CANARY}"\n'},
     {"terraform.tfvars": CANARY}, "/m/main.tf:1: variable db_password has a validation block"),
    ({"main.tf": 'variable "db_password" {\n  nullable = false\n}\n',
      "terraform.tfvars": f'db_password = "{CANARY}"\n'},
     {"terraform.tfvars": CANARY}, "variable db_password is nullable = false"),
    ({"main.tf": "", "terraform.tfvars": f'db_password = "{CANARY}"\n'}, {"terraform.tfvars": CANARY},
     "db_password is set, but no variable block of the module at /m declares it"),
    ({"main.tf": VARIABLES, "broken.tf": 'resource "a" "b" {\n  x = "unterminated\n}\n',
      "terraform.tfvars": f'db_password = "{CANARY}"\n'}, {"terraform.tfvars": CANARY},
     "/m/broken.tf: malformed HCL: unterminated string at line 2"),
    ({"main.tf": 'terraform {\n  required_providers { null = {} }\n}\n'
                 f'resource "terraform_data" "a" {{\n  input = "{CANARY}"\n}}\n'}, {"main.tf": CANARY},
     "required_providers is written on one line"),
])
def test_what_cannot_be_rewritten_is_one_line_naming_file_and_line(files: dict[str, str], planned: dict[str, str],
                                                                   message: str) -> None:
    code = {f"/m/{name}": text.encode() for name, text in files.items() if name.endswith(".tf")}
    with pytest.raises(RewriteError) as caught:
        rewrite_module("/m", code, {f"/m/{name}": (files[name].encode(), [span(files[name], value, DB)])
                                    for name, value in planned.items()})
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert CANARY not in str(caught.value)


def test_different_secrets_for_one_variable_are_refused() -> None:
    prod, staging = f'db_password = "{CANARY}"\n', f'db_password = "{OTHER}"\n'
    with pytest.raises(RewriteError, match=r"var\.db_password is set to 2 different values"):
        rewrite_module("/m", {"/m/main.tf": VARIABLES.encode()}, {
            "/m/prod.tfvars": (prod.encode(), [span(prod, CANARY, DB)]),
            "/m/staging.tfvars": (staging.encode(), [span(staging, OTHER, SecretRef("vault", "s/db", "password"))]),
        })


def test_an_existing_generated_file_is_appended_to() -> None:
    generated = "# mine\n"
    main = f'resource "terraform_data" "a" {{\n  input = "{CANARY}"\n}}\n'
    out = module({GENERATED_FILE: generated, "main.tf": main}, {"main.tf": [(CANARY, DB)]})
    assert out[GENERATED_FILE].startswith("# mine\n\nterraform {")


def test_module_directory_of_a_tfvars_in_an_environment_directory() -> None:
    code = {"/infra", "/infra/app"}
    assert module_directory("/infra/envs/prod.tfvars", lambda d: d in code) == "/infra"
    assert module_directory("/infra/app/terraform.tfvars", lambda d: d in code) == "/infra/app"
    assert module_directory("/infra/app/main.tf", lambda d: False) == "/infra/app"


def test_traversals_skip_comments_and_literal_text() -> None:
    text = '# var.a\nx = var.a\ny = "var.a ${var.a.b} $${var.c}"\nz = <<EOT\n${var.d}\nEOT\n'
    assert [name for name, _, _ in traversals(text) if name.startswith("var.")] == ["var.a", "var.a.b", "var.d"]
