"""Open the leaderboard page in headless Chromium and check that it works; save a screenshot.

    python -m lensbench.board.htmlcheck leaderboards/v1/leaderboard.html --screenshot page.png

Checks (each printed as PASS/FAIL; the exit status is 1 when any fails, 2 when the browser cannot run):

1. every leaderboard table of the aggregate is on the page (matched by task, task version, preset and
   dataset fingerprints) with exactly as many rendered, visible rows as the aggregate has models for it,
   and no other leaderboard table is there. The aggregate is read from ``--csv`` (default: the
   ``leaderboard.csv`` beside the page) or recomputed from ``--results DIR``;
2. clicking a numeric column header (a real mouse click at the header's position) sorts the rows: the
   cells' values read back after the click are ascending, a second click makes them descending
   (empty cells last both times). Every numeric column of every table with two or more rows is tried;
3. the family filter: choosing each family leaves exactly that family's rows visible (and hides at least
   one row whenever the table has other families); choosing "all" shows every row again;
4. every ``<img>`` has loaded (``complete`` and ``naturalWidth > 0``);
5. the console shows no JavaScript error or failed load, and the page requested nothing but ``file:`` / ``data:`` URLs.

The browser is driven with Selenium (``pip install selenium``, in LensBench's ``dev`` extra) through
Debian's ``chromium`` and ``chromedriver`` (``apt-get install chromium chromium-driver``), found as
``--chromium`` / ``--chromedriver``, ``$CHROMIUM`` / ``$CHROMEDRIVER`` or on PATH. Both paths are passed
to Selenium explicitly, so Selenium Manager never downloads anything. Console errors and requested URLs
come from ChromeDriver's ``browser`` and ``performance`` logs.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--mute-audio", "--window-size=1400,1000"]
INSTALL = "apt-get install chromium chromium-driver, and pip install selenium or pip install -e '.[dev]'"


class BrowserError(RuntimeError):
    """Chromium, ChromeDriver or Selenium is missing or could not be started."""


def _find(explicit: str | None, env: str, names: tuple[str, ...]) -> str | None:
    """An explicit path is used or not found, never replaced by another."""
    for cand in (explicit,) if explicit else (os.environ.get(env), *names):
        if cand and (shutil.which(cand) or Path(cand).is_file()):
            return shutil.which(cand) or cand
    return None


def find_chromium(explicit: str | None = None) -> str | None:
    """``explicit`` (if given), else ``$CHROMIUM``, else ``chromium`` / ``chromium-browser`` / ``google-chrome`` on PATH."""
    return _find(explicit, "CHROMIUM", ("chromium", "chromium-browser", "google-chrome"))


def find_chromedriver(explicit: str | None = None) -> str | None:
    """``explicit`` (if given), else ``$CHROMEDRIVER``, else ``chromedriver`` on PATH (Debian: /usr/bin/chromedriver)."""
    return _find(explicit, "CHROMEDRIVER", ("chromedriver",))


def have_selenium() -> bool:
    try:
        import selenium.webdriver  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def open_browser(chromium: str | None = None, chromedriver: str | None = None, timeout: float = 60.0):
    """A headless Chrome ``WebDriver`` on a fresh profile, with browser and performance logs enabled."""
    exe, drv = find_chromium(chromium), find_chromedriver(chromedriver)
    missing = [w for w, ok in (("chromium", exe), ("chromedriver", drv), ("selenium", have_selenium())) if not ok]
    if missing:
        raise BrowserError(f"{' and '.join(missing)} not found. Install: {INSTALL} "
                           "(or pass --chromium / --chromedriver PATH)")
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look anything up
    with tempfile.TemporaryDirectory(prefix="lensbench-chromium-") as tmp:
        opts = webdriver.ChromeOptions()
        opts.binary_location = exe
        for flag in [*FLAGS, f"--user-data-dir={tmp}/profile"]:
            opts.add_argument(flag)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        log = Path(tmp) / "chromedriver.log"
        try:
            driver = webdriver.Chrome(service=Service(executable_path=drv, log_output=str(log)), options=opts)
        except WebDriverException as exc:
            tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
            raise BrowserError(f"cannot start {exe} through {drv}: {exc.msg or exc}\n{tail}") from None
        try:
            driver.set_page_load_timeout(timeout)
            driver.set_script_timeout(timeout)
            driver.get("about:blank")  # leave the start page (Chromium's new-tab page) and drop its logs
            for kind in ("browser", "performance"):
                driver.get_log(kind)
            yield driver
        except WebDriverException as exc:
            raise BrowserError(f"the browser failed: {exc.msg or exc}") from None
        finally:
            driver.quit()


# ----------------------------------------------------------------------------- expectations


def expected_tables(csv: Path | None = None, results: Path | None = None) -> dict[tuple, int]:
    """Models per leaderboard table, {(task, task version, preset, fp, test fp): n}, from the aggregate."""
    import pandas as pd

    from lensbench.board.aggregate import TABLE_KEYS, aggregate, records_frame
    from lensbench.records import load_records

    if results is not None:
        agg = aggregate(records_frame(load_records(results)))
    else:
        agg = pd.read_csv(csv, dtype={c: str for c in TABLE_KEYS if c != "task_version"}, keep_default_na=False)
    out: dict[tuple, int] = {}
    for keys, t in agg.groupby(TABLE_KEYS, sort=True):
        task, ver, preset, fp, tfp = keys
        out[(str(task), int(ver), str(preset), str(fp), str(tfp or ""))] = int(t["model"].nunique())
    return out


# ----------------------------------------------------------------------------- the checks

_VISIBLE = "(r => r.getClientRects().length > 0 && r.offsetHeight > 0)"
_TABLES_JS = f"""return [...document.querySelectorAll('table.board')].map((t, i) => ({{
  i, key: [t.dataset.task, +t.dataset.taskVersion, t.dataset.preset, t.dataset.fp, t.dataset.testFp],
  rows: t.tBodies[0].rows.length, visible: [...t.tBodies[0].rows].filter({_VISIBLE}).length}}))"""
_COLUMNS_JS = """return [...document.querySelectorAll('table')].map((t, ti) => {
  const rows = [...t.tBodies[0].rows];
  const cols = [...t.tHead.rows[0].cells].map((th, ci) => {
    const vs = rows.map(r => r.cells[ci].dataset.v).filter(v => v !== '' && v !== undefined);
    return {ci, name: th.textContent, numeric: vs.length >= 2 && vs.every(v => !isNaN(parseFloat(v)) && isFinite(v))};
  });
  return {ti, cls: t.className, rows: rows.length, numeric: cols.filter(c => c.numeric).map(c => [c.ci, c.name])};
})"""
_VALUES_JS = """return [...document.querySelectorAll('table')[arguments[0]].tBodies[0].rows].map(r => {
  const v = r.cells[arguments[1]].dataset.v; return v === '' ? null : parseFloat(v);})"""
_IMAGES_JS = """return Promise.all([...document.images].map(i => i.complete ? null :
  new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); })))
  .then(() => [...document.images].map(i => [i.getAttribute('src'), i.naturalWidth]))"""


@dataclass
class Report:
    results: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.results.append((name, bool(ok), detail))
        return ok

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.results)

    def summary(self) -> str:
        lines = [f"{'PASS' if ok else 'FAIL'}  {name}" + (f": {detail}" if detail else "")
                 for name, ok, detail in self.results]
        failed = sum(not ok for _, ok, _ in self.results)
        lines.append(f"{'OK' if not failed else 'FAILED'}: {len(self.results) - failed} passed, {failed} failed")
        return "\n".join(lines)


def monotone(values: list, ascending: bool) -> bool:
    """Non-empty values in order (numbers), empty ones only at the end."""
    seen_empty = False
    nums = []
    for v in values:
        if v is None:
            seen_empty = True
        elif seen_empty:
            return False
        else:
            nums.append(v)
    return all(a <= b if ascending else a >= b for a, b in pairwise(nums))


def check_tables(d, expected: dict[tuple, int], report: Report) -> None:
    found = {tuple(t["key"]): t for t in d.execute_script(_TABLES_JS)}
    for key, n in sorted(expected.items()):
        label = f"{key[0]} v{key[1]} {key[2]} {key[3][:8]}" + (f"/{key[4][:8]}" if key[4] else "")
        t = found.get(key)
        if t is None:
            report.add(f"table {label}", False, "not on the page")
        else:
            report.add(f"table {label}", t["rows"] == n and t["visible"] == n,
                       f"{t['visible']} visible of {t['rows']} rows, aggregate has {n} models")
    extra = sorted(set(found) - set(expected))
    report.add("no leaderboard table beyond the aggregate's", not extra, ", ".join(map(str, extra)))


def check_sorting(d, report: Report) -> None:
    tables = d.execute_script(_COLUMNS_JS)
    n_cols, bad = 0, []
    for t in tables:
        if t["rows"] < 2:
            continue
        for ci, name in t["numeric"]:
            th = d.execute_script("const c = document.querySelectorAll('table')[arguments[0]].tHead.rows[0]"
                                  ".cells[arguments[1]]; c.scrollIntoView({block: 'center'}); return c;",
                                  t["ti"], ci)
            th.click()  # WebDriver's element click: a real mouse click at the element's centre
            up = d.execute_script(_VALUES_JS, t["ti"], ci)
            th.click()
            down = d.execute_script(_VALUES_JS, t["ti"], ci)
            n_cols += 1
            if not monotone(up, True) or not monotone(down, False) or sorted(map(str, up)) != sorted(map(str, down)):
                bad.append(f"table {t['ti']} ({t['cls']}) column {name!r}: after 1st click {up}, 2nd click {down}")
    detail = f"{n_cols} column(s) in {sum(t['rows'] >= 2 for t in tables)} table(s)"
    if bad:
        detail += f"; {len(bad)} not sorted, e.g. " + "; ".join(bad[:3])
    report.add("clicking a numeric header sorts ascending, clicking again descending", n_cols > 0 and not bad,
               detail)


def check_family_filter(d, report: Report) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    families = d.execute_script(
        "return [...document.querySelectorAll('#family option')].map(o => o.value).filter(v => v)")
    if not families:
        report.add("family filter", False, "no #family selector with families")
        return
    state = f"return [...document.querySelectorAll('tr[data-family]')].map(r => [r.dataset.family, {_VISIBLE}(r)])"
    problems = []
    for fam in [*families, ""]:
        Select(d.find_element(By.ID, "family")).select_by_value(fam)  # clicks the option: fires 'change'
        rows = d.execute_script(state)
        wrong = [f for f, vis in rows if vis != (fam == "" or f == fam)]
        hidden = sum(not vis for _, vis in rows)
        if wrong:
            problems.append(f"{fam or 'all'}: {len(wrong)} row(s) wrongly shown/hidden")
        elif fam and len(families) > 1 and hidden == 0:
            problems.append(f"{fam}: nothing hidden")
    report.add("family filter shows only the chosen family, 'all' shows every row", not problems,
               f"{len(families)} families" + ("; " + "; ".join(problems) if problems else ""))


def check_images(d, report: Report) -> None:
    imgs = d.execute_script(_IMAGES_JS)
    broken = [src for src, w in imgs if not w]
    report.add("images load (naturalWidth > 0)", not broken,
               f"{len(imgs) - len(broken)} of {len(imgs)} loaded" + (f"; broken: {', '.join(broken[:5])}" if broken else ""))


def check_console_and_network(d, report: Report) -> None:
    errors = [e.get("message", "?") for e in d.get_log("browser") if e.get("level") == "SEVERE"]
    remote = []
    for entry in d.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        url = msg.get("params", {}).get("request", {}).get("url", "")
        if msg.get("method") == "Network.requestWillBeSent" and not url.startswith(("file:", "data:", "about:")):
            remote.append(url)
    report.add("no JavaScript errors or failed loads in the console", not errors, "; ".join(errors[:3]))
    report.add("no network requests (file: and data: only)", not remote, ", ".join(remote[:3]))


def screenshot(d, path: Path) -> Path:
    """The full page (not just the viewport) as PNG, through DevTools' ``Page.captureScreenshot``."""
    size = d.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = d.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": {
        "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def check_page(page: str | Path, expected: dict[tuple, int], screenshot_to: str | Path | None = None,
               chromium: str | None = None, chromedriver: str | None = None, timeout: float = 60.0) -> Report:
    """Run every check on ``page`` and return the report (raises ``BrowserError`` if the browser cannot run)."""
    report = Report()
    url = Path(page).resolve().as_uri()
    with open_browser(chromium, chromedriver, timeout) as d:
        d.get(url)
        check_images(d, report)  # first: also waits until every image has loaded or failed
        check_tables(d, expected, report)
        check_sorting(d, report)
        check_family_filter(d, report)
        check_console_and_network(d, report)
        if screenshot_to:
            d.get(url)  # fresh state (unsorted, unfiltered) for the picture
            d.execute_script(_IMAGES_JS)
            path = screenshot(d, Path(screenshot_to))
            report.add("full-page screenshot", path.stat().st_size > 1000, str(path))
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lensbench.board.htmlcheck", description=__doc__.split("\n\n")[0])
    p.add_argument("page", type=Path, help="the leaderboard HTML file")
    p.add_argument("--csv", type=Path, default=None, help="aggregate CSV (default: leaderboard.csv beside the page)")
    p.add_argument("--results", type=Path, default=None, help="recompute the aggregate from these records instead")
    p.add_argument("--screenshot", type=Path, default=None, help="save a full-page PNG here")
    p.add_argument("--chromium", default=None, help="browser executable (default: $CHROMIUM or chromium on PATH)")
    p.add_argument("--chromedriver", default=None,
                   help="ChromeDriver executable (default: $CHROMEDRIVER or chromedriver on PATH)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the page or a page script")
    args = p.parse_args(argv)
    if not args.page.is_file():
        print(f"htmlcheck: error: no such page {args.page}", file=sys.stderr)
        return 2
    csv = args.csv or args.page.with_name("leaderboard.csv")
    if args.results is None and not csv.is_file():
        print(f"htmlcheck: error: no aggregate to compare with: {csv} does not exist; pass --csv or --results",
              file=sys.stderr)
        return 2
    expected = expected_tables(csv=csv, results=args.results)
    try:
        report = check_page(args.page, expected, args.screenshot, args.chromium, args.chromedriver, args.timeout)
    except BrowserError as exc:
        print(f"htmlcheck: error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.page}:")
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
