"""The headless-Chromium check of the leaderboard page: helpers without a browser, then the check on
a page rendered from synthetic records (skipped where Chromium, ChromeDriver or Selenium is not
installed), including a tampered page that must fail."""

from __future__ import annotations

import pytest
from test_leaderboard_html import board_records

from lensbench.board import htmlcheck, render
from lensbench.board.aggregate import aggregate, records_frame
from lensbench.board.htmlcheck import Report, expected_tables, monotone
from lensbench.board.render import render_csv, write_leaderboard

MISSING = [name for name, ok in (("Chromium (apt-get install chromium)", htmlcheck.find_chromium()),
                                 ("ChromeDriver (apt-get install chromium-driver)", htmlcheck.find_chromedriver()),
                                 ("Selenium (pip install selenium, or the dev extra)", htmlcheck.have_selenium()))
           if not ok]
needs_chromium = pytest.mark.skipif(
    bool(MISSING), reason=f"{', '.join(MISSING)} not installed; the browser check cannot run")


def test_monotone_puts_empty_cells_last():
    assert monotone([1, 2, 2, 5, None, None], True) and monotone([5, 2, 1, None], False)
    assert not monotone([1, 3, 2], True) and not monotone([None, 1, 2], True) and not monotone([1, 2], False)


def test_report_summary_and_status():
    r = Report()
    r.add("a", True, "fine")
    assert r.ok and r.summary().endswith("OK: 1 passed, 0 failed")
    r.add("b", False, "broken")
    assert not r.ok and "FAIL  b: broken" in r.summary() and r.summary().endswith("FAILED: 1 passed, 1 failed")


def test_expected_tables_from_csv_keeps_fingerprints_as_text(tmp_path):
    recs = board_records()
    for r in recs:
        if r.task == "substructure/model1":
            r.dataset_fingerprint = "12345678"  # would be read as a number without dtype=str
    agg = aggregate(records_frame(recs))
    render_csv(agg, tmp_path / "leaderboard.csv")
    exp = expected_tables(csv=tmp_path / "leaderboard.csv")
    assert exp[("substructure/model1", 1, "quick", "12345678", "")] == 5 and len(exp) == 4 and set(exp.values()) == {5}


def test_cli_without_aggregate_or_page_is_a_clear_error(tmp_path, capsys):
    assert htmlcheck.main([str(tmp_path / "nope.html")]) == 2
    (tmp_path / "page.html").write_text("<html></html>")
    assert htmlcheck.main([str(tmp_path / "page.html")]) == 2
    assert "pass --csv or --results" in capsys.readouterr().err


@pytest.fixture
def page(tmp_path, monkeypatch):
    recs = board_records()
    monkeypatch.setattr(render, "read_results", lambda *a, **k: recs)
    return write_leaderboard(tmp_path / "results", tmp_path / "board", formats=("md", "csv", "html", "png"))["html"]


@needs_chromium
def test_browser_check_passes_and_saves_screenshot(page, capsys):
    shot = page.parent / "leaderboard.png"
    code = htmlcheck.main([str(page), "--screenshot", str(shot)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "OK: " in out and "FAIL" not in out
    assert "PASS  table substructure/lensbench-v1 v1 quick d1230154: 5 visible of 5 rows, aggregate has 5 models" in out
    assert "PASS  images load (naturalWidth > 0): 8 of 8 loaded" in out  # 4 CI + 2 ROC + 2 slice plots
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


@needs_chromium
def test_browser_check_fails_on_a_broken_page(page, capsys):
    html = page.read_text()
    html = html.replace("return asc?c:-c;", "return 0;")  # sorting does nothing
    html = html.replace("r.style.display=", "r.dataset.x=")  # the filter hides nothing
    html = html.replace("_roc.png", "_missing.png", 1)  # one image does not load
    first_row = html.index("<tr data-family", html.index('<table class="board"'))
    html = html[:first_row] + html[first_row:].replace("<tr ", '<tr style="display:none" ', 1)  # a row gone
    page.write_text(html)
    assert htmlcheck.main([str(page)]) == 1
    out = capsys.readouterr().out
    for failed in ("FAIL  images load", "FAIL  table anomaly/lensbench-v1 v1 quick d1230154: 4 visible of 5 rows",
                   "FAIL  clicking a numeric header sorts", "FAIL  family filter"):
        assert failed in out, out
    assert out.rstrip().splitlines()[-1].startswith("FAILED:")
