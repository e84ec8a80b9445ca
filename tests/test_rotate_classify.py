"""Classifying planned secrets for rotation: database credentials with the connection their files
give (a URL around the password, or the entries beside it), cloud keys, API keys, and the rest.
The plans are made by `vaultshift plan` from real files."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from trees import write_tree

from migrator.cli import main
from migrator.plan import planfile
from migrator.rotate.classify import API_KEY, CLOUD, DATABASE, MYSQL, OTHER, POSTGRESQL, Classified, classify_plan


def classified(tmp_path: Path, files: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Classified]:
    """Plan the tree, classify the plan: by the first occurrence's ``file:key_path``."""
    root = write_tree(tmp_path / "fleet", files)
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert main(["plan", str(root), "-o", "plan.json", "--no-progress"]) == 0
    plan = planfile.load(tmp_path / "plan.json")
    out = {}
    for item in classify_plan(plan, lambda path: Path(path).read_bytes()):
        first = item.secret.occurrences[0]
        out[f"{first.path}:{first.key_path}"] = item
    return out


def test_database_passwords_with_their_connections(tmp_path: Path, token, monkeypatch: pytest.MonkeyPatch) -> None:
    found = classified(tmp_path, {
        "shop/.env": f"DB_HOST=pg.internal\nDB_PORT=5432\nDB_USER=shop\nDB_NAME=shop\nDB_PASSWORD={token(24)}\n"
                     f"SMTP_HOST=mail.internal\nSMTP_USER=shop\nSMTP_PASSWORD={token(22)}\n",
        "orders/config/database.yml": f"production:\n  adapter: mysql2\n  host: mysql.internal\n  username: orders\n"
                                      f"  password: {token(20)}\n  database: orders_prod\n",
        "reports/application.properties": "spring.datasource.url=jdbc:postgresql://reports-db:5433/reports\n"
                                          "spring.datasource.username=reporter\n"
                                          f"spring.datasource.password={token(26)}\n",
        "billing/settings.json": '{"database_url": "mysql://billing:' + token(21) + '@maria.internal/billing"}\n',
    }, monkeypatch)
    shop = found["shop/.env:DB_PASSWORD"]
    assert shop.category == DATABASE and shop.database is not None
    assert (shop.database.engine, shop.database.host, shop.database.port, shop.database.user,
            shop.database.database) == (POSTGRESQL, "pg.internal", 5432, "shop", "shop")
    assert shop.database.complete and shop.database.found_in == "shop/.env:5"
    assert found["shop/.env:SMTP_PASSWORD"].category == OTHER  # a host and a user, but no database
    orders = found["orders/config/database.yml:production.password"].database
    assert orders is not None and (orders.engine, orders.host, orders.user, orders.database) == \
        (MYSQL, "mysql.internal", "orders", "orders_prod")
    reports = found["reports/application.properties:spring.datasource.password"].database
    assert reports is not None and (reports.engine, reports.host, reports.port, reports.user, reports.database) == \
        (POSTGRESQL, "reports-db", 5433, "reporter", "reports")
    billing = next(item for key, item in found.items() if key.startswith("billing/settings.json"))
    assert billing.category == DATABASE and billing.database is not None
    assert (billing.database.engine, billing.database.host, billing.database.port, billing.database.user,
            billing.database.database) == (MYSQL, "maria.internal", None, "billing", "billing")


def test_cloud_and_api_keys_and_passwords_without_a_database(tmp_path: Path, token,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    found = classified(tmp_path, {
        "deploy/.env": f"AWS_ACCESS_KEY_ID=AKIA{token(16, alphabet='ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}\n"
                       f"AWS_SECRET_ACCESS_KEY={token(40)}\n"
                       f"STRIPE_KEY=sk_live_{token(24)}\n",
        "web/app.ini": f"[admin]\nuser = admin\npassword = {token(18)}\n",
        "cache/redis.yml": f"redis:\n  host: cache.internal\n  port: 6379\n  password: {token(20)}\n",
    }, monkeypatch)
    assert found["deploy/.env:AWS_ACCESS_KEY_ID"].category == CLOUD
    assert found["deploy/.env:AWS_SECRET_ACCESS_KEY"].category == CLOUD
    assert found["deploy/.env:STRIPE_KEY"].category == API_KEY
    assert found["web/app.ini:admin.password"].category == OTHER
    redis = found["cache/redis.yml:redis.password"]
    assert redis.category == OTHER and redis.database is None and "no database" in redis.reason


def test_a_file_that_cannot_be_read_leaves_the_secret_classified_from_the_rest(
        tmp_path: Path, token, monkeypatch: pytest.MonkeyPatch) -> None:
    password = token(24)
    root = write_tree(tmp_path / "fleet", {
        "a/.env": f"DB_HOST=pg\nDB_PORT=5432\nDB_USER=a\nDB_PASSWORD={password}\n",
        "b/.env": f"DB_HOST=pg\nDB_PORT=5432\nDB_USER=a\nDB_PASSWORD={password}\n",
    })
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert main(["plan", str(root), "-o", "plan.json", "--no-progress"]) == 0
    plan = planfile.load(tmp_path / "plan.json")

    def read(path: str) -> bytes:
        if path.endswith("a/.env"):
            raise PermissionError(13, "Permission denied", path)
        return Path(path).read_bytes()

    (item,) = classify_plan(plan, read)
    assert item.category == DATABASE and item.database is not None and item.database.found_in == "b/.env:4"
