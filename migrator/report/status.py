"""Where the migration stands, rendered three ways from the phase gates and the KPI points:
:func:`terminal` (a compact text view), :func:`as_json` (for other tools) and :func:`html` (one
self-contained page: inline CSS, charts as inline SVG drawn here, no script, nothing fetched).

The points are the dicts :meth:`MigrationKpis.to_dict` gives plus ``time`` (epoch seconds or ISO
8601) and ``source`` (what made the point: scan, apply, rotate, ...), in any order (they are
sorted by time; the newest is "now"). A point may carry ``age_histogram``: the number of secrets
per age bucket, youngest first (``{"0-30 days": 4, ..., "unknown": 1}``, as :func:`age_histogram`
makes it); without it the age chart shows what every point has: within the maximum age, older,
unknown. Only the keys named in :data:`POINT_KEYS` are read: whatever else a point carries never
reaches a report.

JSON (``format`` 1)::

    {"format": 1,
     "phases": [{"phase": 1, "title": "Guard", "done": false,
                 "criteria": [{"name", "target", "actual", "met", "blocker"}]}, ...],
     "current_phase": 2,          # the first phase not done; null when all are
     "now": {point} | null,       # the newest point, with "age_notes" and "unreachable"
     "since": {point} | null,     # the oldest point
     "change": {key: now - since for each numeric key; null when either is unknown} | null,
     "points": [{point}, ...]}    # oldest first

where a point is ``{"time": epoch seconds, "at": "YYYY-MM-DDTHH:MM:SSZ", "source", every key of
POINT_KEYS, "hardcoded_by_group": {group: count}, "hardcoded_by_repo": {repository: count},
    "age_histogram": {bucket: count} | null}``.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from migrator.report.gates import PhaseStatus, epoch

STATUS_FORMAT = 1
POINT_KEYS = ("secrets", "occurrences", "files", "hosts", "hardcoded", "stored", "referenced", "files_migrated",
              "files_in_progress", "hosts_migrated", "adoption", "host_adoption", "apps", "apps_migrated",
              "app_adoption", "rotating", "static", "dynamic",
              "aws_staged", "rotation_coverage", "age_known", "age_unknown", "age_average_days", "too_old",
              "too_old_share", "max_age_days")
_OPTIONAL = frozenset({"age_average_days"})  # None: unknown
AGE_BUCKETS: tuple[tuple[float, float | None], ...] = ((0, 30), (30, 60), (60, 90), (90, 180), (180, None))
UNKNOWN_AGE = "unknown"
BURN_DOWN_LABEL = "Burn-down: hardcoded occurrences over time"
ADOPTION_LABEL = "Vault adoption and rotation coverage over time, 0 to 100%"
AGE_LABEL = "Age distribution of the secrets now"

# (label, key, kind) of the KPIs shown "now" with their change; kind: count, share or days.
_NOW_ROWS = (("hardcoded occurrences", "hardcoded", "count"), ("file adoption", "adoption", "share"),
             ("host adoption", "host_adoption", "share"), ("app adoption", "app_adoption", "share"),
             ("rotation coverage", "rotation_coverage", "share"),
             ("stored secrets", "stored", "count"), ("average age", "age_average_days", "days"),
             ("older than the maximum age", "too_old", "count"), ("ages unknown", "age_unknown", "count"))
_ADOPTION_SERIES = (("file adoption", "adoption", "#1f6fb2", ""), ("host adoption", "host_adoption", "#7b3fa0", "6 4"),
                    ("app adoption", "app_adoption", "#b26b00", "8 3 2 3"),
                    ("rotation coverage", "rotation_coverage", "#2e8540", "2 3"))


def age_histogram(days: Iterable[float], unknown: int = 0) -> dict[str, int]:
    """How many ages (in days) fall in each of :data:`AGE_BUCKETS`, youngest first, and ``unknown``:
    the optional ``age_histogram`` key of a KPI point."""
    counts = {_bucket_label(low, high): 0 for low, high in AGE_BUCKETS}
    for age in days:
        for low, high in AGE_BUCKETS:
            if age >= low and (high is None or age < high):
                counts[_bucket_label(low, high)] += 1
                break
    counts[UNKNOWN_AGE] = unknown
    return counts


def normalized(points: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The points as the reports show them (the keys of the JSON's points only), oldest first.
    ValueError (one line naming the point and the key) for a malformed one."""
    out: list[tuple[float, int, dict[str, Any]]] = []
    for number, point in enumerate(points, 1):
        where = f"KPI point {number}"
        when = epoch(point.get("time", point.get("measured_at")), f"{where}: 'time'")
        if when is None:
            raise ValueError(f"{where}: no 'time'")
        item: dict[str, Any] = {"time": when, "at": _iso(when), "source": str(point.get("source") or "")}
        for key in POINT_KEYS:
            value = point.get(key, None if key in _OPTIONAL else 0)
            if value is None and key in _OPTIONAL:
                item[key] = None
            elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{where}: {key!r} must be a number")
            else:
                item[key] = value
        item["hardcoded_by_group"] = _counts(point.get("hardcoded_by_group"), f"{where}: 'hardcoded_by_group'")
        item["hardcoded_by_repo"] = _counts(point.get("hardcoded_by_repo"), f"{where}: 'hardcoded_by_repo'")
        histogram = point.get("age_histogram")
        item["age_histogram"] = None if histogram is None else _counts(histogram, f"{where}: 'age_histogram'")
        out.append((when, number, item))
    out.sort(key=lambda entry: (entry[0], entry[1]))
    return [item for _, _, item in out]


def as_json(phases: Sequence[PhaseStatus], points: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The status for other tools, keys as the module's docstring lists them."""
    series = normalized(points)
    first, now = (series[0], series[-1]) if series else (None, None)
    newest = _newest(points)
    if now is not None and newest is not None:
        now = now | {"age_notes": [str(note) for note in newest.get("age_notes") or ()],
                     "unreachable": [str(reason) for reason in newest.get("unreachable") or ()]}
    change = None if first is None or now is None else {
        key: None if first[key] is None or now[key] is None else now[key] - first[key] for key in POINT_KEYS}
    return {"format": STATUS_FORMAT, "phases": [phase.to_dict() for phase in phases],
            "current_phase": next((phase.phase for phase in phases if not phase.done), None),
            "now": now, "since": first, "change": change, "points": series}


def terminal(phases: Sequence[PhaseStatus], points: Sequence[Mapping[str, Any]]) -> str:
    """A compact view: each phase with a check, or its criteria not met and what blocks them; then
    the KPIs now and their change since the first point."""
    series = normalized(points)
    lines = [_headline(phases, series), ""]
    for phase in phases:
        lines.append(f"{'✓' if phase.done else '✗'} Phase {phase.phase}  {phase.title}"
                     + ("" if phase.done else f"  ({sum(c.met for c in phase.criteria)} of "
                                              f"{len(phase.criteria)} criteria met)"))
        for criterion in phase.criteria:
            if not criterion.met:
                lines.append(f"    ✗ {criterion.name}: {criterion.actual} (target {criterion.target})")
                lines.append(f"      blocks: {criterion.blocker}")
    lines.append("")
    if not series:
        lines.append("No KPI point yet: scan, plan and apply add them.")
        return _printable(lines)
    first, now = series[0], series[-1]
    lines.append(f"KPIs now ({now['at']}, {now['source'] or 'unknown source'})"
                 + (f", change since {first['at']}:" if len(series) > 1 else ":"))
    width = max(len(label) for label, _, _ in _NOW_ROWS)
    for label, key, kind in _NOW_ROWS:
        if key == "too_old":
            label = f"older than {now['max_age_days']} days"
        value = _format(now[key], kind)
        change = _change(first[key], now[key], kind) if len(series) > 1 else ""
        lines.append(f"  {label.ljust(width)}  {value.rjust(11)}  {change}".rstrip())
    return _printable(lines)


def html(phases: Sequence[PhaseStatus], points: Sequence[Mapping[str, Any]],
         title: str = "vaultshift migration status") -> str:
    """One self-contained HTML page: the phases, the KPIs now, a burn-down of hardcoded occurrences,
    adoption and rotation coverage over time, the age distribution (each an ``<svg role="img">``
    with an aria-label and a table of its numbers) and a table of what blocks each phase."""
    series = normalized(points)
    now = series[-1] if series else None
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>", "<main>",
        f"<h1>{escape(title)}</h1>", f'<p class="lead">{escape(_headline(phases, series))}</p>',
        _phase_cards(phases), _now_table(series), _blocker_table(phases),
        '<section class="charts">',
        _burn_down(series), _adoption(series), _ages(now),
        "</section>",
        '<footer>Made by vaultshift from the migration\'s KPI history. It holds counts, shares, ages, names '
        "of repositories and host groups: never a secret's value.</footer>",
        "</main>", "</body>", "</html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


# --- text helpers ---------------------------------------------------------------------------------

def _headline(phases: Sequence[PhaseStatus], series: Sequence[Mapping[str, Any]]) -> str:
    current = next((phase for phase in phases if not phase.done), None)
    where = "every phase is done" if current is None else \
        f"phase {current.phase} of {len(phases)} ({current.title}) is under way"
    if not series:
        return f"Migration status: {where}; no KPI point yet."
    span = series[0]["at"] if len(series) == 1 else f"{series[0]['at']} to {series[-1]['at']}"
    return f"Migration status: {where}; {len(series)} KPI point{'s' if len(series) != 1 else ''}, {span}."


def _printable(lines: Iterable[str]) -> str:
    """The lines as one text, each control character of a name (an escape sequence, a line break)
    shown as ``?`` so that no name can move the cursor or forge a line."""
    return "\n".join("".join("?" if unicodedata.category(char).startswith("C") else char for char in line)
                     for line in lines) + "\n"


def _format(value: Any, kind: str) -> str:
    if value is None:
        return "unknown"
    if kind == "share":
        return f"{value * 100:.1f}%"
    if kind == "days":
        return f"{value:.1f} days"
    return str(int(value))


def _change(before: Any, after: Any, kind: str) -> str:
    if before is None or after is None:
        return ""
    delta = after - before
    if kind == "share":
        return f"{delta * 100:+.1f} pts"
    if kind == "days":
        return f"{delta:+.1f} days"
    return f"{int(delta):+d}"


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _short_time(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M")


def _bucket_label(low: float, high: float | None) -> str:
    return f"{low:g}+ days" if high is None else f"{low:g}-{high:g} days"


def _counts(value: Any, what: str) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a mapping of names to counts")
    out = {}
    for name, count in value.items():
        if isinstance(count, bool) or not isinstance(count, int | float) or not math.isfinite(count) or count < 0:
            raise ValueError(f"{what}: each count must be a number from 0")
        out[str(name)] = int(count)
    return out


def _newest(points: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest raw point (for its notes), ties to the last given, as :func:`normalized` orders them."""
    best: tuple[float, int] | None = None
    found = None
    for number, point in enumerate(points, 1):
        when = epoch(point.get("time", point.get("measured_at")))
        key = (when or 0.0, number)
        if best is None or key > best:
            best, found = key, point
    return found


# --- HTML parts -------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}
main{max-width:980px;margin:0 auto;padding:24px}
h1{font-size:1.6rem;margin:0 0 4px}h2{font-size:1.15rem;margin:28px 0 8px}
.lead{color:#4a5360;margin:0 0 16px}
.phases{display:flex;gap:12px;flex-wrap:wrap}
.phase{flex:1 1 260px;background:#fff;border:1px solid #d8dde3;border-left:6px solid #c0392b;border-radius:6px;
padding:10px 14px}
.phase.done{border-left-color:#2e8540}.phase h3{margin:0 0 4px;font-size:1rem}
.phase ul{margin:4px 0 0;padding-left:18px}.phase li{margin:2px 0}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9rem}
th,td{border:1px solid #d8dde3;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.met{color:#2e8540;font-weight:600}.unmet{color:#c0392b;font-weight:600}
figure{background:#fff;border:1px solid #d8dde3;border-radius:6px;margin:16px 0;padding:12px}
figcaption{font-weight:600;margin-bottom:6px}svg{width:100%;height:auto;display:block}
details{margin-top:8px}summary{cursor:pointer;color:#4a5360}
footer{margin-top:32px;color:#6a7380;font-size:.8rem}
"""

_WIDTH, _HEIGHT = 640, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 34, 40


def _phase_cards(phases: Sequence[PhaseStatus]) -> str:
    cards = []
    for phase in phases:
        items = "".join(
            f'<li><span class="{"met" if c.met else "unmet"}">{"✓" if c.met else "✗"}</span> '
            f"{escape(c.name)}: {escape(c.actual)}</li>" for c in phase.criteria)
        state = "done" if phase.done else "blocked"
        cards.append(f'<div class="phase{" done" if phase.done else ""}" id="phase-{phase.phase}">'
                     f"<h3>Phase {phase.phase}: {escape(phase.title)} ({state})</h3><ul>{items}</ul></div>")
    return '<h2>Phases</h2><div class="phases">' + "".join(cards) + "</div>"


def _now_table(series: Sequence[Mapping[str, Any]]) -> str:
    if not series:
        return '<h2>KPIs now</h2><p id="kpis">No KPI point yet: scan, plan and apply add them.</p>'
    first, now = series[0], series[-1]
    rows = []
    for label, key, kind in _NOW_ROWS:
        shown = f"older than {now['max_age_days']} days" if key == "too_old" else label
        change = _change(first[key], now[key], kind) if len(series) > 1 else ""
        rows.append(f"<tr><th scope=\"row\">{escape(shown)}</th><td class=\"num\">{escape(_format(now[key], kind))}"
                    f"</td><td class=\"num\">{escape(change)}</td></tr>")
    since = f"change since {first['at']}" if len(series) > 1 else "change"
    return (f'<h2>KPIs now</h2><table id="kpis"><caption>As of {escape(now["at"])} '
            f'({escape(now["source"] or "unknown source")})</caption><thead><tr><th scope="col">KPI</th>'
            f'<th scope="col">now</th><th scope="col">{escape(since)}</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def _blocker_table(phases: Sequence[PhaseStatus]) -> str:
    rows = []
    for phase in phases:
        for criterion in phase.criteria:
            mark = '<span class="met">✓ met</span>' if criterion.met else '<span class="unmet">✗ blocks</span>'
            rows.append(f"<tr><td>{phase.phase}: {escape(phase.title)}</td><td>{escape(criterion.name)}</td>"
                        f"<td>{escape(criterion.target)}</td><td>{escape(criterion.actual)}</td><td>{mark}</td>"
                        f"<td>{escape(criterion.blocker)}</td></tr>")
    if not rows:
        rows.append('<tr><td colspan="6">No phase was evaluated.</td></tr>')
    return ('<h2>What blocks each phase</h2><table id="blockers"><thead><tr><th scope="col">Phase</th>'
            '<th scope="col">Criterion</th><th scope="col">Target</th><th scope="col">Now</th>'
            '<th scope="col">State</th><th scope="col">What blocks it</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def _figure(chart_id: str, label: str, svg_body: str, table: str) -> str:
    return (f'<figure id="{chart_id}"><figcaption>{escape(label)}</figcaption>'
            f'<svg role="img" aria-label="{escape(label)}" '
            f'viewBox="0 0 {_WIDTH} {_HEIGHT}" width="{_WIDTH}" height="{_HEIGHT}">'
            f"<title>{escape(label)}</title>{svg_body}</svg>"
            f"<details><summary>The numbers</summary>{table}</details></figure>")


def _x_scale(series: Sequence[Mapping[str, Any]]) -> tuple[list[float], str]:
    """Each point's x, and the time axis labels."""
    plot = _WIDTH - _LEFT - _RIGHT
    times = [point["time"] for point in series]
    start, end = (times[0], times[-1]) if times else (0.0, 0.0)
    if end <= start:
        xs = [_LEFT + plot / 2 for _ in times]
    else:
        xs = [_LEFT + (when - start) / (end - start) * plot for when in times]
    base = _HEIGHT - _BOTTOM
    labels = ""
    if times:
        labels += _text(xs[0], base + 18, _short_time(start), "start" if end > start else "middle")
        if end > start:
            labels += _text(_WIDTH - _RIGHT, base + 18, _short_time(end), "end")
    return xs, labels


def _y_axis(top: float, formatter: Any) -> str:
    """Grid lines and labels for 0 .. ``top`` in four steps."""
    out = []
    plot = _HEIGHT - _TOP - _BOTTOM
    for step in range(5):
        value = top * step / 4
        y = _HEIGHT - _BOTTOM - plot * step / 4
        out.append(f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e7eb"/>')
        out.append(_text(_LEFT - 6, y + 4, formatter(value), "end"))
    out.append(f'<line x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{_HEIGHT - _BOTTOM}" stroke="#8a939e"/>')
    out.append(f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{_HEIGHT - _BOTTOM}" y2="{_HEIGHT - _BOTTOM}" '
               'stroke="#8a939e"/>')
    return "".join(out)


def _y(value: float, top: float) -> float:
    plot = _HEIGHT - _TOP - _BOTTOM
    return _HEIGHT - _BOTTOM - (value / top if top else 0) * plot


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 11, fill: str = "#4a5360") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}">'
            f"{escape(text)}</text>")


def _no_data(message: str = "No KPI point yet") -> str:
    return _text(_WIDTH / 2, _HEIGHT / 2, message, "middle", 14)


def _line(xs: Sequence[float], ys: Sequence[float], color: str, dash: str, tips: Sequence[str]) -> str:
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    out = [f'<polyline fill="none" stroke="{color}" stroke-width="2.5"{dashed} points="{path}"/>'
           ] if len(xs) > 1 else []
    out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"><title>{escape(tip)}</title></circle>'
            for x, y, tip in zip(xs, ys, tips, strict=True)]
    return "".join(out)


def _nice_top(largest: float) -> float:
    """The smallest of 4, 8, 20, 40, ... (a multiple of four steps with round labels) at least ``largest``."""
    top = 4.0
    while top < largest:
        top *= 2 if str(int(top))[0] == "4" else 2.5
    return top


def _burn_down(series: Sequence[Mapping[str, Any]]) -> str:
    groups = sorted({group for point in series for group in point["hardcoded_by_group"]})
    repos = sorted({repo for point in series for repo in point.get("hardcoded_by_repo", {})})
    head = "".join(f'<th scope="col">{escape(group)}</th>' for group in groups) + \
        "".join(f'<th scope="col">repository {escape(repo)}</th>' for repo in repos)
    rows = "".join(
        f"<tr><td>{escape(point['at'])}</td><td>{escape(point['source'])}</td>"
        f"<td class=\"num\">{int(point['hardcoded'])}</td>"
        + "".join(f"<td class=\"num\">{point['hardcoded_by_group'].get(group, 0)}</td>" for group in groups)
        + "".join(f"<td class=\"num\">{point.get('hardcoded_by_repo', {}).get(repo, 0)}</td>" for repo in repos)
        + "</tr>" for point in series)
    table = ('<table class="numbers"><thead><tr><th scope="col">time</th><th scope="col">source</th>'
             f'<th scope="col">hardcoded</th>{head}</tr></thead><tbody>{rows}</tbody></table>')
    if not series:
        return _figure("chart-burn-down", BURN_DOWN_LABEL, _y_axis(4, _whole) + _no_data(), table)
    top = _nice_top(max(point["hardcoded"] for point in series))
    xs, times = _x_scale(series)
    ys = [_y(point["hardcoded"], top) for point in series]
    tips = [f"{point['at']}: {int(point['hardcoded'])} hardcoded" for point in series]
    area = ""
    if len(xs) > 1:
        base = _HEIGHT - _BOTTOM
        outline = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        area = (f'<polygon fill="#c0392b" fill-opacity="0.12" '
                f'points="{xs[0]:.1f},{base} {outline} {xs[-1]:.1f},{base}"/>')
    body = (_y_axis(top, _whole) + times + area + _line(xs, ys, "#c0392b", "", tips)
            + _text(_LEFT, 20, f"now: {int(series[-1]['hardcoded'])} hardcoded (target 0)", size=12, fill="#1b1f24"))
    return _figure("chart-burn-down", BURN_DOWN_LABEL, body, table)


def _adoption(series: Sequence[Mapping[str, Any]]) -> str:
    head = "".join(f'<th scope="col">{escape(name)}</th>' for name, _, _, _ in _ADOPTION_SERIES)
    rows = "".join(
        f"<tr><td>{escape(point['at'])}</td><td>{escape(point['source'])}</td>"
        + "".join(f"<td class=\"num\">{_format(point[key], 'share')}</td>" for _, key, _, _ in _ADOPTION_SERIES)
        + "</tr>" for point in series)
    table = ('<table class="numbers"><thead><tr><th scope="col">time</th><th scope="col">source</th>'
             f"{head}</tr></thead><tbody>{rows}</tbody></table>")
    legend = []
    for number, (name, _, color, dash) in enumerate(_ADOPTION_SERIES):
        x = _LEFT + number * 180
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        legend.append(f'<line x1="{x}" x2="{x + 24}" y1="16" y2="16" stroke="{color}" stroke-width="2.5"{dashed}/>'
                      + _text(x + 30, 20, name, size=12, fill="#1b1f24"))
    body = _y_axis(1.0, _percent_label) + "".join(legend)
    if not series:
        return _figure("chart-adoption", ADOPTION_LABEL, body + _no_data(), table)
    xs, times = _x_scale(series)
    body += times
    for name, key, color, dash in _ADOPTION_SERIES:
        values = [min(max(float(point[key]), 0.0), 1.0) for point in series]
        tips = [f"{point['at']}: {name} {_format(point[key], 'share')}" for point in series]
        body += _line(xs, [_y(value, 1.0) for value in values], color, dash, tips)
    return _figure("chart-adoption", ADOPTION_LABEL, body, table)


def _age_counts(now: Mapping[str, Any]) -> list[tuple[str, int, str]]:
    """The bars: (label, count, colour) from the point's histogram, else within / over the maximum / unknown."""
    limit = now["max_age_days"]
    histogram = now["age_histogram"]
    if histogram is None:
        known, old = int(now["age_known"]), int(now["too_old"])
        histogram = {f"up to {limit} days": known - old, f"over {limit} days": old,
                     UNKNOWN_AGE: int(now["age_unknown"])}
    old_labels = {_bucket_label(low, high) for low, high in AGE_BUCKETS if low >= limit} | {f"over {limit} days"}
    return [(label, count, "#9aa3ad" if label == UNKNOWN_AGE else "#c0392b" if label in old_labels else "#1f6fb2")
            for label, count in histogram.items()]


def _ages(now: Mapping[str, Any] | None) -> str:
    bars = _age_counts(now) if now is not None else []
    rows = "".join(f"<tr><td>{escape(label)}</td><td class=\"num\">{count}</td></tr>" for label, count, _ in bars)
    table = ('<table class="numbers"><thead><tr><th scope="col">age</th><th scope="col">secrets</th></tr></thead>'
             f"<tbody>{rows}</tbody></table>")
    if now is None:
        return _figure("chart-ages", AGE_LABEL, _y_axis(4, _whole) + _no_data(), table)
    top = _nice_top(max((count for _, count, _ in bars), default=0))
    body = _y_axis(top, _whole)
    plot = _WIDTH - _LEFT - _RIGHT
    slot = plot / max(len(bars), 1)
    for number, (label, count, color) in enumerate(bars):
        x = _LEFT + number * slot + slot * 0.15
        y = _y(count, top)
        body += (f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{_HEIGHT - _BOTTOM - y:.1f}" '
                 f'fill="{color}"><title>{escape(f"{label}: {count}")}</title></rect>'
                 + _text(x + slot * 0.35, y - 4, str(count), "middle", 11, "#1b1f24")
                 + _text(x + slot * 0.35, _HEIGHT - _BOTTOM + 18, label, "middle"))
    average = now["age_average_days"]
    body += _text(_LEFT, 20, f"average age: {_format(average, 'days')} (at {now['at']})", size=12, fill="#1b1f24")
    return _figure("chart-ages", AGE_LABEL, body, table)


def _whole(value: float) -> str:
    return f"{value:g}"


def _percent_label(value: float) -> str:
    return f"{value * 100:.0f}%"
