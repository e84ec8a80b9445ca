"""migrator.report.gates and migrator.report.status: the phase gates (each criterion met and not
met, its blocker naming repositories, host groups and counts), the configured targets, the JSON's
shape, the terminal view, the HTML's structure (inline SVG charts with their tables, nothing
external, every name escaped) and the page rendered by a real headless Chromium (the machine's
package): its DOM has the charts and the blocker table, a hostile name stays text, the screenshot
shows a drawn page. Inputs carrying a value-like field never pass it on."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from itertools import accumulate
from pathlib import Path
from typing import Any

import pytest
from assertions import one_line

from migrator.config import ConfigError, load_config
from migrator.report.gates import (
    Targets,
    TrackedRepo,
    centralize_phase,
    evaluate,
    guard_phase,
    parse_targets,
    rotate_phase,
    targets_from_config,
)
from migrator.report.status import (
    ADOPTION_LABEL,
    AGE_LABEL,
    BURN_DOWN_LABEL,
    POINT_KEYS,
    age_histogram,
    as_json,
    html,
    terminal,
)

DAY = 86400.0
T0 = 1_700_000_000.0
CHROMIUM = Path("/usr/bin/chromium")
BOTH = ("pre-commit", "pre-receive")


def point(when: float = T0, source: str = "scan", **changes: Any) -> dict[str, Any]:
    """A KPI point as MigrationKpis.to_dict() gives it, plus time and source: by default a fleet
    where everything is done (0 hardcoded, full adoption, full rotation, young secrets)."""
    data: dict[str, Any] = {
        "format": 1, "secrets": 10, "occurrences": 16, "files": 8, "hosts": 4, "hardcoded": 0,
        "hardcoded_by_group": {"web": 0, "db": 0}, "stored": 10, "referenced": 10, "files_migrated": 8,
        "files_in_progress": 0, "hosts_migrated": 4, "adoption": 1.0, "host_adoption": 1.0, "rotating": 10,
        "static": 6, "dynamic": 4, "aws_staged": 0, "rotation_coverage": 1.0, "age_known": 10, "age_unknown": 0,
        "age_average_days": 12.5, "too_old": 0, "too_old_share": 0.0, "max_age_days": 90, "age_notes": [],
        "unreachable": [], "plan_digest": "d" * 16, "last_run": "run-1", "measured_at": when,
        "time": when, "source": source}
    data.update(changes)
    return data


def history() -> list[dict[str, Any]]:
    """Three points of a migration under way, given newest first (the reports sort them)."""
    return [
        point(T0 + 2 * DAY, "rotate", hardcoded=3, hardcoded_by_group={"web": 0, "db": 3}, files_migrated=6,
              adoption=0.75, hosts_migrated=3, host_adoption=0.75, rotating=5, rotation_coverage=0.5,
              age_average_days=120.0, too_old=4, too_old_share=0.4,
              age_histogram=age_histogram([1, 10, 40, 100, 150, 200, 300], unknown=3), age_known=7, age_unknown=3),
        point(T0, "scan", hardcoded=16, hardcoded_by_group={"web": 9, "db": 7}, stored=0, referenced=0,
              files_migrated=0, adoption=0.0, hosts_migrated=0, host_adoption=0.0, rotating=0, static=0, dynamic=0,
              rotation_coverage=0.0, age_known=0, age_unknown=10, age_average_days=None),
        point(T0 + DAY, "apply", hardcoded=8, hardcoded_by_group={"web": 1, "db": 7}, files_migrated=4, adoption=0.5,
              hosts_migrated=2, host_adoption=0.5, rotating=0, static=0, dynamic=0, rotation_coverage=0.0),
    ]


def guarded(name: str, **changes: Any) -> TrackedRepo:
    """A repository with both kinds of guard, installed on day 1, scanned since, its newest secret older."""
    fields: dict[str, Any] = {"hooks": BOTH, "installed_at": T0 + DAY, "scanned_at": T0 + 2 * DAY,
                              "newest_introduction": T0 - DAY}
    fields.update(changes)
    return TrackedRepo(name, **fields)


def criterion(phase: Any, name: str) -> Any:
    return next(c for c in phase.criteria if c.name == name)


# --- phase 1 ------------------------------------------------------------------------------------

def test_phase_one_is_done_when_every_repository_is_guarded_and_scanned_clean_since() -> None:
    phase = guard_phase([guarded("infra"), guarded("apps", newest_introduction=None)])
    assert phase.phase == 1 and phase.done
    assert all(c.met and not c.blocker for c in phase.criteria)
    assert criterion(phase, "guards installed").actual == "2 of 2 repositories"


def test_phase_one_names_each_repository_without_a_guard() -> None:
    phase = guard_phase([guarded("infra"), guarded("apps", hooks=("pre-commit",)),
                         guarded("server", hooks=("pre-receive",)), TrackedRepo("legacy"), TrackedRepo("old")])
    installed = criterion(phase, "guards installed")
    assert not phase.done and not installed.met
    assert installed.actual == "3 of 5 repositories"
    assert installed.blocker == "2 repositories without a guard: legacy, old"


def test_phase_one_blocks_on_a_secret_added_after_the_guard_and_on_history_not_scanned_since() -> None:
    phase = guard_phase([guarded("clean"), guarded("leaky", newest_introduction=T0 + 1.5 * DAY),
                         guarded("stale", scanned_at=T0), guarded("never-scanned", scanned_at=None)])
    history_criterion = criterion(phase, "no new secret in history")
    assert criterion(phase, "guards installed").met
    assert not phase.done and not history_criterion.met
    assert "a secret entered the history after the guard in leaky" in history_criterion.blocker
    assert "history not scanned since the guard was installed in stale, never-scanned" in history_criterion.blocker
    assert "clean" not in history_criterion.blocker
    assert history_criterion.actual == "1 of 4 proved clean, 1 with a new secret"


def test_phase_one_is_not_done_without_any_tracked_repository() -> None:
    phase = guard_phase([])
    assert not phase.done
    assert all("no repository is tracked" in c.blocker for c in phase.criteria)


def test_tracked_repositories_come_as_dicts_with_iso_times() -> None:
    repo = TrackedRepo.from_dict({"repo": "infra", "hooks": list(BOTH), "installed_at": "2023-11-15T22:13:20Z",
                                  "scanned_at": "2023-11-16T22:13:20+00:00", "newest_introduction": None})
    assert repo.installed_at == T0 + DAY and repo.scanned_at == T0 + 2 * DAY
    assert guard_phase([repo]).done
    with pytest.raises(ValueError) as caught:
        TrackedRepo.from_dict({"repo": "infra", "installed_at": "yesterday-ish"})
    one_line(caught.value)
    assert "infra" in str(caught.value) and "installed_at" in str(caught.value)


# --- phase 2 ------------------------------------------------------------------------------------

def test_phase_two_is_done_at_zero_hardcoded_and_full_adoption() -> None:
    phase = centralize_phase(point())
    assert phase.phase == 2 and phase.done
    assert [c.name for c in phase.criteria] == ["hardcoded occurrences", "file adoption", "host adoption"]


def test_phase_two_names_the_host_groups_still_hardcoded_and_counts_files_and_hosts() -> None:
    now = point(hardcoded=5, hardcoded_by_group={"web": 1, "db": 4, "cache": 0}, files_migrated=6,
                files_in_progress=1, adoption=0.75, hosts_migrated=3, host_adoption=0.75)
    phase = centralize_phase(now)
    assert not phase.done
    assert criterion(phase, "hardcoded occurrences").blocker == "5 occurrences still in plaintext in db (4), web (1)"
    assert criterion(phase, "file adoption").blocker == "2 of 8 files still read plaintext (1 being rewritten)"
    assert criterion(phase, "host adoption").blocker == "1 of 4 hosts still read plaintext"
    assert criterion(phase, "file adoption").actual == "75% (6 of 8 files)"


def test_phase_two_waits_for_hosts_when_files_are_done() -> None:
    phase = centralize_phase(point(hosts_migrated=3, host_adoption=0.75))
    assert [c.met for c in phase.criteria] == [True, True, False]
    assert not phase.done


def test_phase_two_counts_apps_when_the_point_has_them() -> None:
    phase = centralize_phase(point(apps=5, apps_migrated=4, app_adoption=0.8))
    assert [c.name for c in phase.criteria][-1] == "app adoption" and not phase.done
    assert criterion(phase, "app adoption").actual == "80% (4 of 5 apps)"
    assert criterion(phase, "app adoption").blocker == "1 of 5 apps still read plaintext somewhere"
    assert centralize_phase(point(apps=5, apps_migrated=5, app_adoption=1.0)).done


def test_phase_two_adoption_target_is_configurable() -> None:
    now = point(files_migrated=7, adoption=0.875)
    assert not centralize_phase(now).done
    assert centralize_phase(now, Targets(adoption=0.85)).done


def test_phases_two_and_three_are_not_done_without_any_point() -> None:
    phases = evaluate([], [guarded("infra")])
    assert [p.done for p in phases] == [True, False, False]
    assert all("no KPI measured yet" in c.blocker for p in phases[1:] for c in p.criteria)


# --- phase 3 ------------------------------------------------------------------------------------

def test_phase_three_is_done_when_coverage_and_ages_meet_the_targets() -> None:
    phase = rotate_phase(point(rotating=9, rotation_coverage=0.9))
    assert phase.phase == 3 and phase.done
    assert [c.name for c in phase.criteria] == ["rotation coverage", "share too old", "average age"]


def test_phase_three_blocks_each_criterion_with_its_counts() -> None:
    now = point(rotating=7, rotation_coverage=0.7, too_old=2, too_old_share=0.25, age_known=8, age_unknown=2,
                age_average_days=95.5)
    phase = rotate_phase(now)
    coverage, old, age = phase.criteria
    assert not (coverage.met or old.met or age.met)
    assert coverage.blocker == "3 of 10 stored secrets not under rotation"
    assert old.blocker == "2 of 8 secrets with a known age older than 90 days"
    assert old.actual == "25% (2 of 8 known, 2 unknown)"
    assert age.blocker == "the average age is 95.5 days, above 90 days"
    assert age.actual == "95.5 days (2 unknown)"


def test_phase_three_targets_are_configurable() -> None:
    now = point(rotating=7, rotation_coverage=0.7, too_old=1, too_old_share=0.1, age_average_days=100.0)
    assert not rotate_phase(now).done
    assert rotate_phase(now, Targets(rotation_coverage=0.7, too_old_share=0.1, max_age_days=100)).done


def test_phase_three_is_not_met_by_nothing_stored_or_no_known_age() -> None:
    phase = rotate_phase(point(stored=0, rotating=0, rotation_coverage=0.0, age_known=0, age_unknown=10,
                               age_average_days=None, too_old=0, too_old_share=0.0))
    assert not any(c.met for c in phase.criteria)
    assert phase.criteria[0].blocker == "no secret is stored in a backend yet"
    assert phase.criteria[1].blocker == "no secret's age is known yet (10 secrets unknown)"
    assert phase.criteria[2].actual == "unknown (10 unknown)"


def test_the_newest_point_decides_whatever_the_order_given() -> None:
    phases = evaluate(history(), [])
    assert criterion(phases[1], "hardcoded occurrences").actual == "3"  # the rotate point, given first
    newest_last = [*history()[1:], point(T0 + 3 * DAY, "apply")]
    assert evaluate(newest_last, [guarded("infra")])[1].done


def test_a_malformed_point_is_one_line_naming_the_key() -> None:
    with pytest.raises(ValueError) as caught:
        evaluate([point(hardcoded="many")], [])
    one_line(caught.value)
    assert "'hardcoded'" in str(caught.value)
    with pytest.raises(ValueError) as caught:
        as_json([], [point(time="not a time")])
    one_line(caught.value)
    assert "KPI point 1" in str(caught.value) and "time" in str(caught.value)


# --- targets --------------------------------------------------------------------------------------

def test_targets_default_and_come_from_the_tracking_section(tmp_path: Path) -> None:
    assert parse_targets(None) == Targets(rotation_coverage=0.9, max_age_days=90, too_old_share=0.0, adoption=1.0)
    assert parse_targets({"inventory": "sqlite"}) == Targets()  # other tracking keys are not the targets'
    path = tmp_path / "vaultshift.yml"
    path.write_text("tracking:\n  inventory: postgresql://db/x\n  targets:\n    rotation_coverage: 0.75\n"
                    "    max_age_days: 30\n")
    assert targets_from_config(load_config(path)) == Targets(rotation_coverage=0.75, max_age_days=30)


@pytest.mark.parametrize(("section", "reason"), [
    ("all of them", "'tracking' must be a mapping"),
    ({"targets": [0.9]}, "'tracking.targets' must be a mapping"),
    ({"targets": {"rotation_coverage": "90%"}}, "tracking.targets.rotation_coverage must be a number"),
    ({"targets": {"adoption": True}}, "tracking.targets.adoption must be a number"),
    ({"targets": {"adoption": 100}}, "tracking.targets.adoption must be a share from 0 to 1"),
    ({"targets": {"too_old_share": -0.1}}, "tracking.targets.too_old_share must be a share from 0 to 1"),
    ({"targets": {"max_age_days": 0}}, "tracking.targets.max_age_days must be a number of days above 0"),
    ({"targets": {"max_age_days": float("nan")}}, "tracking.targets.max_age_days must be a number"),
    ({"targets": {"coverage": 0.9}}, "unknown target 'coverage'"),
])
def test_a_bad_target_is_a_one_line_config_error_naming_it(section: Any, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_targets(section, "fleet.yml")
    one_line(caught.value)
    assert str(caught.value).startswith("fleet.yml: ")
    assert reason in str(caught.value)


# --- JSON and terminal ---------------------------------------------------------------------------

def test_json_has_stable_keys_the_phases_and_the_change_since_the_first_point() -> None:
    phases = evaluate(history(), [guarded("infra")])
    report = as_json(phases, history())
    assert json.loads(json.dumps(report)) == report
    assert list(report) == ["format", "phases", "current_phase", "now", "since", "change", "points"]
    assert report["format"] == 1 and report["current_phase"] == 2
    assert [p["phase"] for p in report["phases"]] == [1, 2, 3]
    assert set(report["phases"][1]["criteria"][0]) == {"name", "target", "actual", "met", "blocker"}
    assert [p["source"] for p in report["points"]] == ["scan", "apply", "rotate"]
    expected = {"time", "at", "source", *POINT_KEYS, "hardcoded_by_group", "hardcoded_by_repo", "age_histogram"}
    assert all(set(p) == expected for p in report["points"])
    assert report["points"][0]["at"] == "2023-11-14T22:13:20Z"
    assert set(report["now"]) == expected | {"age_notes", "unreachable"}
    assert report["change"]["hardcoded"] == -13 and report["change"]["adoption"] == 0.75
    assert report["change"]["age_average_days"] is None  # unknown at the first point
    assert report["now"]["age_histogram"] == {"0-30 days": 2, "30-60 days": 1, "60-90 days": 0, "90-180 days": 2,
                                              "180+ days": 2, "unknown": 3}


def test_json_with_one_point_and_with_none() -> None:
    one = as_json(evaluate([point()], [guarded("infra")]), [point()])
    assert one["current_phase"] is None and one["since"] == one["points"][0]
    assert set(one["change"].values()) == {0}
    none = as_json(evaluate([], []), [])
    assert (none["now"], none["since"], none["change"], none["points"], none["current_phase"]) == (None, None,
                                                                                                   None, [], 1)


def test_terminal_shows_checks_blockers_and_the_kpis_moving() -> None:
    points = history()
    text = terminal(evaluate(points, [guarded("infra")]), points)
    assert "✓ Phase 1  Guard\n" in text
    assert "✗ Phase 2  Centralize  (0 of 3 criteria met)" in text
    assert "blocks: 3 occurrences still in plaintext in db (3)" in text
    assert "blocks: 5 of 10 stored secrets not under rotation" in text
    assert "change since 2023-11-14T22:13:20Z" in text
    hardcoded_line = next(line for line in text.splitlines() if line.strip().startswith("hardcoded occurrences"))
    assert hardcoded_line.split()[-2:] == ["3", "-13"]
    assert "+75.0 pts" in text
    empty = terminal(evaluate([], []), [])
    assert "No KPI point yet" in empty and "no repository is tracked yet" in empty


def test_terminal_shows_a_control_character_in_a_name_as_a_question_mark() -> None:
    text = terminal(evaluate([], [TrackedRepo("evil\x1b[2J\nrepo")]), [])
    assert "\x1b" not in text and "evil?[2J?repo" in text


def test_no_report_passes_on_a_value_field_of_its_inputs() -> None:
    """The reports read named keys only: a value planted where a careless producer would put it
    (the point, a repository's dict) reaches none of them, and no key of the JSON holds one."""
    canary = f"canary-{uuid.uuid4().hex}"
    points = [p | {"value": canary, "hint": canary, "secret": {"value": canary}} for p in history()]
    repos = [{"repo": "infra", "hooks": list(BOTH), "installed_at": T0, "scanned_at": T0 + DAY, "value": canary}]
    phases = evaluate(points, repos)
    report = as_json(phases, points)
    for rendered in (json.dumps(report), terminal(phases, points), html(phases, points)):
        assert canary not in rendered
    assert not {"value", "values", "secret", "hint", "plaintext"} & set(_keys(report))


def _keys(data: Any) -> Iterator[str]:
    if isinstance(data, Mapping):
        for key, item in data.items():
            if key not in ("hardcoded_by_group", "age_histogram"):  # names of groups and buckets, not fields
                yield key
            yield from _keys(item)
    elif isinstance(data, list):
        for item in data:
            yield from _keys(item)


# --- HTML ------------------------------------------------------------------------------------------

class Page(HTMLParser):
    """What a page holds: its elements (tag, attributes), the text of each table by id, and every
    text node."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.texts.append(data)

    def tags(self, name: str) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.elements if tag == name]


def parsed(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def assert_self_contained(page: Page) -> None:
    assert not page.tags("script") and not page.tags("link") and not page.tags("iframe") and not page.tags("img")
    for tag, attrs in page.elements:
        for name, value in attrs.items():
            assert not (name.startswith("on")), (tag, name)
            if name in ("src", "href", "xlink:href", "action", "srcset", "poster", "data"):
                raise AssertionError(f"<{tag} {name}={value!r}>: a reference in a self-contained page")
            assert "http://" not in value and "https://" not in value and "url(" not in value, (tag, name)


@pytest.mark.parametrize("count", [0, 1, 3])
def test_html_has_three_labelled_svg_charts_each_with_its_table_and_nothing_external(count: int) -> None:
    points = history()[-count:] if count else []
    text = html(evaluate(points, [guarded("infra")]), points, "Fleet status")
    page = parsed(text)
    assert_self_contained(page)
    svgs = page.tags("svg")
    assert [svg["aria-label"] for svg in svgs] == [BURN_DOWN_LABEL, ADOPTION_LABEL, AGE_LABEL]
    assert all(svg["role"] == "img" for svg in svgs)
    figures = [attrs["id"] for attrs in page.tags("figure")]
    assert figures == ["chart-burn-down", "chart-adoption", "chart-ages"]
    assert len(page.tags("table")) == 3 + 1 + (1 if count else 0)  # a table per chart, blockers, KPIs now
    assert {"id": "blockers"} in page.tags("table")
    assert "http://" not in text and "https://" not in text and "<style>" in text
    policy = next(meta["content"] for meta in page.tags("meta") if meta.get("http-equiv") == "Content-Security-Policy")
    assert policy.startswith("default-src 'none'")  # a browser would fetch nothing even if a reference slipped in
    drawn = len(page.tags("circle"))
    assert drawn == 5 * count  # one marker per point on the burn-down and on each of the four lines
    if count:
        assert len(page.tags("rect")) == (6 if count == 3 else 3)  # the histogram's buckets, else the 3 coarse ones
        assert len(page.tags("polyline")) == (5 if count > 1 else 0)


def test_html_escapes_every_name_and_the_title() -> None:
    hostile_group = '<img src=x onerror="alert(1)">'
    points = [point(hardcoded=2, hardcoded_by_group={hostile_group: 2}, files_migrated=7, adoption=0.875,
                    age_histogram={"<b>old</b>": 1})]
    repos = [TrackedRepo("<script>alert('repo')</script>", hooks=("pre-commit",))]
    text = html(evaluate(points, repos), points, "Status & <title>")
    page = parsed(text)
    assert_self_contained(page)
    assert "<script" not in text and "<img" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(&#x27;repo&#x27;)&lt;/script&gt;" in text
    assert any(hostile_group in t for t in page.texts)
    assert any("<script>alert('repo')</script>" in t for t in page.texts)
    assert "Status & <title>" in page.texts


# --- a real browser --------------------------------------------------------------------------------

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="no /usr/bin/chromium: apt-get install chromium to render the report")


def chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(CHROMIUM), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
                           "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}", *args,
                           page.as_uri()], capture_output=True, text=True, timeout=60)
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture
def report(tmp_path: Path) -> tuple[Path, str, str]:
    """A report of a migration under way with a hostile, canary-bearing host group name and
    repository name, and a value-like canary in each input's extra fields; returns the page,
    the group name and the value canary."""
    canary = f"canary-{uuid.uuid4().hex}"
    group = f"<script>document.title='{canary[-8:]}'</script>-edge"
    points = history()
    points[0] = points[0] | {"hardcoded_by_group": {group: 3, "db": 0}, "value": canary}
    repos = [guarded("infra"), TrackedRepo.from_dict({"repo": "<script>repo</script>", "hooks": [],
                                                      "value": canary})]
    page = tmp_path / "report.html"
    page.write_text(html(evaluate(points, repos), points, "Fleet migration"), encoding="utf-8")
    return page, group, canary


@needs_chromium
def test_chromium_renders_the_charts_and_the_blockers_and_keeps_names_as_text(tmp_path: Path,
                                                                                report: tuple[Path, str, str]) -> None:
    page, group, canary = report
    dom = chromium(tmp_path, page, "--dump-dom").stdout
    rendered = parsed(dom)
    labels = [svg.get("aria-label") for svg in rendered.tags("svg")]
    assert labels == [BURN_DOWN_LABEL, ADOPTION_LABEL, AGE_LABEL]
    assert all(svg.get("role") == "img" for svg in rendered.tags("svg"))
    assert rendered.tags("polyline") and rendered.tags("rect")
    assert {"id": "blockers"} in rendered.tags("table")
    assert any(text == "Fleet migration" for text in rendered.texts)  # the title the page kept: no script ran
    assert not rendered.tags("script")
    assert any(f"{group} (3)" in text for text in rendered.texts)  # the blocker names the group, as text
    assert any("without a guard: <script>repo</script>" in text for text in rendered.texts)
    assert canary not in dom


@needs_chromium
def test_chromium_screenshot_shows_a_drawn_page(tmp_path: Path, report: tuple[Path, str, str]) -> None:
    page, _, _ = report
    shot = tmp_path / "report.png"
    chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=900,2700", "--hide-scrollbars",
             "--force-device-scale-factor=0.75")  # the whole page, in fewer pixels to decode
    width, height, colours = png_colours(shot.read_bytes())
    assert (width, height) == (675, 2025)
    assert len(colours) > 50  # text, charts, tables: not a blank page
    background = colours.most_common(1)[0][1]
    assert background < 0.9 * width * height
    red = colours[(0xc0, 0x39, 0x2b)]  # the burn-down and the bars of secrets too old
    blue = colours[(0x1f, 0x6f, 0xb2)]  # the file adoption line and the bars of young secrets
    assert red > 500 and blue > 500, (red, blue)


def png_colours(data: bytes) -> tuple[int, int, Counter[tuple[int, int, int]]]:
    """Width, height and how many pixels of each RGB colour an 8-bit, non-interlaced RGB or RGBA
    PNG (what Chromium writes) holds."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, chunks = 8, []
    width = height = channels = 0
    while offset < len(data):
        (length,), kind = struct.unpack(">I", data[offset:offset + 4]), data[offset + 4:offset + 8]
        body = data[offset + 8:offset + 8 + length]
        offset += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            chunks.append(body)
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    previous = bytes(stride)
    colours: Counter[tuple[int, int, int]] = Counter()
    for row in range(height):
        start = row * (stride + 1)
        method, line = raw[start], raw[start + 1:start + 1 + stride]
        if method == 1:  # sub: each byte adds the one a pixel to its left
            out = bytearray(line)
            for channel in range(channels):
                out[channel::channels] = bytes(total & 0xFF for total in accumulate(out[channel::channels]))
            line = bytes(out)
        elif method == 2:  # up
            line = bytes((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif method in (3, 4):  # average, Paeth
            out = bytearray(line)
            for i in range(stride):
                left = out[i - channels] if i >= channels else 0
                up = previous[i]
                if method == 3:
                    out[i] = (out[i] + ((left + up) >> 1)) & 0xFF
                    continue
                upper_left = previous[i - channels] if i >= channels else 0
                estimate = left + up - upper_left
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - upper_left)
                out[i] = (out[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else upper_left)) & 0xFF
            line = bytes(out)
        colours.update(zip(line[0::channels], line[1::channels], line[2::channels], strict=True))
        previous = line
    return width, height, colours
