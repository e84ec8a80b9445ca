"""plan.json: the Plan as sorted, stable JSON, written atomically, and read back.

The file is ``Plan.to_dict()`` with sorted keys and two-space indentation, so the same plan is
always the same bytes (and a diff between two plans shows only what changed).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from migrator.plan.models import PLAN_FORMAT, Plan


class PlanFileError(ValueError):
    """The plan file cannot be written or read; one line naming the file."""


def dumps(plan: Plan) -> str:
    return json.dumps(plan.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def save(path: str | os.PathLike[str], plan: Plan) -> None:
    """Write ``plan`` to ``path`` atomically: a temporary file in the same directory, fsync, rename.

    A symlink is followed (its target is replaced, the link stays); a path that is not a regular
    file (``/dev/stdout``, a FIFO) is written in place, never replaced."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot write plan: {exc.strerror or exc}") from None
    if mode is not None and not stat.S_ISREG(mode):
        try:
            with open(path, "w", encoding="utf-8") as stream:
                stream.write(dumps(plan))
        except OSError as exc:
            raise PlanFileError(f"{path}: cannot write plan: {exc.strerror or exc}") from None
        return
    target = Path(os.path.realpath(path))
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)  # left by a crashed run with the same pid
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        if mode is not None:
            os.fchmod(fd, stat.S_IMODE(mode))  # a replaced plan keeps its permissions
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dumps(plan))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PlanFileError(f"{path}: cannot write plan: {exc.strerror or exc}") from None


def load(path: str | os.PathLike[str]) -> Plan:
    """Read a plan written by ``save``; PlanFileError when it is not one this version reads."""
    try:
        data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read plan: {exc.strerror or exc}") from None
    except ValueError:
        raise PlanFileError(f"{path}: not a plan (not valid JSON)") from None
    if not isinstance(data, dict) or "secrets" not in data:
        raise PlanFileError(f"{path}: not a plan (no 'secrets')")
    if data.get("version") != PLAN_FORMAT:
        raise PlanFileError(f"{path}: plan format {data.get('version')!r} is not {PLAN_FORMAT}; "
                            "make the plan again with this vaultshift")
    try:
        return Plan.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileError(f"{path}: not a valid plan ({type(exc).__name__}: {exc})") from None
