"""``vaultshift demo`` end to end: a real OpenBao and PostgreSQL started and stopped, the three
phases run with the real commands, the KPIs moving (every occurrence hardcoded after the plan,
none after apply, rotation coverage above 0 after phase 3), no value printed, nothing left
behind. It must stay fast: the README promises under two minutes; this asserts under one."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

from migrator.demo.run import Demo, run_demo

_RANDOM = re.compile(r"[A-Za-z0-9_]{20,}")


def test_the_demo_runs_the_three_phases_prints_no_value_and_cleans_up(tmp_path: Path) -> None:
    out = io.StringIO()
    planted: list[str] = []
    roots: list[Path] = []

    def collect(demo: Demo) -> None:  # before the phases: every long random token the fleet holds
        roots.append(demo.root)
        for path in (demo.root / "fleet").rglob("*"):
            if path.is_file():
                planted.extend(token for token in _RANDOM.findall(path.read_text()) if not token.isalpha())

    started = time.perf_counter()
    report = tmp_path / "report.html"
    demo = run_demo(out=out, on_ready=collect, report_path=report)
    seconds = time.perf_counter() - started
    text = out.getvalue()
    assert seconds < 60, f"the demo took {seconds:.0f} s"
    for heading in ("Phase 1: stop the bleeding", "Phase 2: centralize", "Phase 3: rotate and go dynamic"):
        assert heading in text
    assert "refused; the same commit pushed with --no-verify: refused" in text
    assert [label for label, _ in demo.kpis] == ["planned", "centralized", "rotating"]
    planned, centralized, rotating = (values for _, values in demo.kpis)
    assert planned["hardcoded"] == planned["occurrences"] > 0 and planned["adoption"] == 0
    assert centralized["hardcoded"] == 0 and centralized["adoption"] == 1.0
    assert rotating["rotation_coverage"] > 0 and rotating["static"] + rotating["dynamic"] >= 2
    assert len(planted) >= 5
    assert not [token for token in planted if token in text], "a planted value was printed"
    assert demo.bao.token not in text and demo.pg.password not in text
    assert roots and not roots[0].exists()
    assert "✓ Phase 1  Guard" in text and "✓ Phase 2  Centralize" in text  # the status at the end
    assert "✗ Phase 3  Rotate" in text and "blocks: 3 of 5 stored secrets not under rotation" in text
    page = report.read_text()
    assert page.count("<svg") == 3 and not [token for token in planted if token in page]
