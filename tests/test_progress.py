"""The progress bar: drawn only for long scans, at a bounded rate, and erased at the end."""

from __future__ import annotations

import io

from migrator.report.progress import ProgressBar


def test_short_scans_draw_nothing():
    stream = io.StringIO()
    bar = ProgressBar(stream, min_total=200)
    for done in range(1, 51):
        bar(done, 50, f"file{done}.yml")
    bar.close()
    assert stream.getvalue() == ""


def test_long_scans_draw_and_erase_the_bar():
    stream = io.StringIO()
    bar = ProgressBar(stream, min_total=10, interval=0.0)
    for done in range(1, 21):
        bar(done, 20, f"conf/app{done}.yml")
    drawn = stream.getvalue()
    assert "20/20" in drawn and "conf/app20.yml" in drawn and "[" + "#" * 30 + "]" in drawn
    bar.close()
    assert stream.getvalue().endswith("\r")


def test_draws_are_rate_limited_but_the_last_one_always_shows():
    stream = io.StringIO()
    bar = ProgressBar(stream, min_total=10, interval=3600.0)
    for done in range(1, 1001):
        bar(done, 1000, "x.yml")
    assert stream.getvalue().count("\r") == 2  # the first draw and the final one
    assert "1000/1000" in stream.getvalue()
