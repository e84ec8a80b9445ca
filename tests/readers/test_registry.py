from __future__ import annotations

import pytest

from migrator.discover.document import Document
from migrator.discover.readers import LINE_READER, READERS, reader_for


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("roles/app/templates/app.yml.j2", "jinja"),
        ("templates/.env.j2", "jinja"),
        ("Dockerfile.j2", "jinja"),
        ("nginx.conf.template", "jinja"),
        ("web.config", "xml"),
        ("App.Config", "xml"),
        ("pom.xml", "xml"),
        ("project.csproj", "xml"),
        ("Dockerfile", "dockerfile"),
        ("Dockerfile.prod", "dockerfile"),
        ("build/api.dockerfile", "dockerfile"),
        ("Containerfile", "dockerfile"),
        ("prod.tfvars", "hcl"),
        ("main.tf", "hcl"),
        ("job.nomad", "hcl"),
        ("vault.hcl", "hcl"),
        ("main.tf.example", "hcl"),
        ("prod.tfvars.json", "json"),
        ("main.tf.json", "json"),
        ("terraform.tfstate", "json"),
        (".env", "env"),
        (".env.production", "env"),
        ("docker.env", "env"),
        ("env.example", "env"),
        ("settings.py", "python"),
        ("config/local_settings.py", "python"),
        ("app.ini", "ini"),
        ("php.ini", "ini"),
        ("my.cnf", "ini"),
        ("redis.conf", "ini"),
        ("main.cf", "ini"),
        ("setup.cfg", "ini"),
        ("application.properties", "properties"),
        ("Cargo.toml", "toml"),
        ("pyproject.toml", "toml"),
        ("deploy.sh", "shell"),
        (".bashrc", "shell"),
        (".envrc", "shell"),
        ("wp-config.php", "php"),
        ("config.inc", "php"),
        ("group_vars/all.yml", "yaml"),
        ("values.yaml", "yaml"),
        ("tsconfig.json", "json"),
        ("README.md", "line"),
        ("secrets.txt", "line"),
        ("unknown", "line"),
    ],
)
def test_reader_for_picks_the_format(path: str, expected: str) -> None:
    doc = Document.from_text(path, "")
    assert reader_for(doc).name == expected


def test_every_reader_has_a_distinct_name_and_patterns() -> None:
    names = [r.name for r in READERS]
    assert len(names) == len(set(names))
    assert all(r.patterns for r in READERS)
    assert LINE_READER.name == "line"


def test_windows_paths_use_the_base_name() -> None:
    assert reader_for(Document.from_text("C:\\repo\\Web.Config", "")).name == "xml"
