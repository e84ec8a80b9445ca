from __future__ import annotations

from migrator.discover.readers.dockerfile import DockerfileReader


def test_env_arg_label(read):
    parsed = read(
        "Dockerfile",
        "# образ é\n"
        "FROM python:3.12-slim\n"
        "ARG BUILD_TOKEN=ghp_é123\n"
        "ARG NO_DEFAULT\n"
        'ENV DB_USER=admin DB_PASSWORD="pä ss" \\\n    API_KEY=\'k3y\'\n'
        "ENV LEGACY_SECRET some value with spaces\n"
        'LABEL "com.example.vendor"="ACME é" version=1.0\n'
        "COPY . /app\n",
    )
    assert isinstance(parsed.reader, DockerfileReader)
    parsed.check("BUILD_TOKEN", "ghp_é123", key="BUILD_TOKEN")
    parsed.check("DB_USER", "admin")
    parsed.check("DB_PASSWORD", "pä ss", quote='"')
    parsed.check("API_KEY", "k3y", quote="'")
    parsed.check("LEGACY_SECRET", "some value with spaces")
    parsed.check("com.example.vendor", "ACME é")
    parsed.check("version", "1.0")
    assert "NO_DEFAULT" not in parsed.paths


def test_run_lines_with_continuations(read):
    parsed = read(
        "Dockerfile.prod",
        "FROM alpine\n"
        "RUN echo é && \\\n"
        "    export MYSQL_PWD=r00t-é && \\\n"
        "    mysql --password=hunter2 -e 'select 1'\n"
        "CMD [\"app\", \"--token=abc\"]\n",
    )
    parsed.check("MYSQL_PWD", "r00t-é")
    parsed.check("password", "hunter2")
    parsed.check("token", "abc")


def test_lowercase_instructions_and_legacy_quotes(read):
    parsed = read("app.dockerfile", 'from x\nenv SECRET "quoted legacy"\nenv A=1\n')
    parsed.check("SECRET", "quoted legacy", quote='"')
    parsed.check("A", "1")
