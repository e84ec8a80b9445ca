"""Helpers for the migration tests (plan, apply, rollback through the real CLI)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path


def run(cli, env, cwd, *args):
    result = cli(*args, env=env, cwd=cwd)
    assert "Traceback" not in result.stderr
    return result


def files_now(root: Path, names) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in names}


def no_temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".vaultshift-tmp")]


def everything_written(tmp_path: Path) -> str:
    """Every byte under tmp_path (plans, journals, companions, rewritten files), as text."""
    chunks = []
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file():
            chunks.append(path.read_bytes().decode("latin-1"))
    db = tmp_path / "state" / "journal.sqlite"
    if db.exists():
        connection = sqlite3.connect(db)
        for table in ("runs", "secrets", "files", "events", "rotations"):
            chunks.append(json.dumps(connection.execute(f"SELECT * FROM {table}").fetchall()))
        connection.close()
    return "\n".join(chunks)
