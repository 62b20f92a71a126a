"""Open the leaderboard page in headless Chromium and check that it works; save a screenshot.

    python -m benchmark.htmlcheck leaderboards/leaderboard.html --screenshot leaderboards/leaderboard.png

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

Why no new dependency: Chromium's ``--headless --dump-dom`` cannot click, and Selenium or a WebSocket
client would add packages. Chromium speaks the DevTools protocol over a pipe
(``--remote-debugging-pipe``: JSON messages separated by NUL bytes, commands on the browser's fd 3,
replies and events on its fd 4), which needs only ``os.pipe`` and ``subprocess``. The browser is
Debian's ``chromium`` (``apt-get install chromium``), found as ``--chromium``, ``$CHROMIUM`` or on PATH.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Self

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--mute-audio"]
VIEWPORT = (1400, 1000)


class BrowserError(RuntimeError):
    """Chromium could not be started or stopped answering."""


def find_chromium(explicit: str | None = None) -> str | None:
    """``explicit``, else ``$CHROMIUM``, else ``chromium`` / ``chromium-browser`` / ``google-chrome`` on PATH."""
    for cand in (explicit, os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if cand and (shutil.which(cand) or Path(cand).is_file()):
            return shutil.which(cand) or cand
    return None


# ----------------------------------------------------------------------------- DevTools over a pipe


class Browser:
    """Headless Chromium driven through the DevTools protocol on ``--remote-debugging-pipe``."""

    def __init__(self, chromium: str, timeout: float = 60.0):
        self.timeout = timeout
        self._tmp = tempfile.TemporaryDirectory(prefix="lensbench-chromium-")
        # our ends and the child's ends; moved above fd 10 so the dup2 onto 3 and 4 cannot clobber them
        cmd_r, cmd_w = os.pipe()  # we write commands -> browser reads fd 3
        ev_r, ev_w = os.pipe()  # browser writes fd 4 -> we read
        child_r, child_w = (_high_fd(cmd_r), _high_fd(ev_w))

        def setup_fds():  # runs in the child before exec
            os.dup2(child_r, 3)
            os.dup2(child_w, 4)

        self._log = open(Path(self._tmp.name) / "chromium.log", "w+b")  # noqa: SIM115 - closed in close()
        args = [chromium, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={self._tmp.name}/profile",
                f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", "about:blank"]
        try:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                                         close_fds=False, preexec_fn=setup_fds)  # noqa: PLW1509
        finally:
            for fd in (child_r, child_w):
                os.close(fd)
        self._w, self._r = cmd_w, ev_r
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self._events: queue.Queue = queue.Queue()
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        self.session: str | None = None

    def _read_loop(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._r, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._replies[-1] = {"error": {"message": "browser closed the pipe"}}
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._cond:
                        self._replies[msg["id"]] = msg
                        self._cond.notify_all()
                else:
                    self._events.put(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = "default") -> dict:
        """Send one command (to the page session unless ``session=None``) and wait for its reply."""
        self._next_id += 1
        mid = self._next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        sid = self.session if session == "default" else session
        if sid:
            msg["sessionId"] = sid
        data = json.dumps(msg).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._w, data):]
        except OSError as exc:
            raise BrowserError(f"cannot talk to Chromium ({exc}); its log:\n{self.log_tail()}") from None
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while mid not in self._replies:
                if -1 in self._replies:
                    raise BrowserError(f"Chromium exited during {method}; its log:\n{self.log_tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"no reply to {method} within {self.timeout:.0f} s")
                self._cond.wait(left)
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def events(self) -> list[dict]:
        out = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    def wait_event(self, method: str, timeout: float | None = None) -> dict:
        """Wait for the next event ``method``; other events are kept for ``events()``."""
        deadline = time.monotonic() + (timeout or self.timeout)
        kept = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"no {method} event within {timeout or self.timeout:.0f} s")
                try:
                    ev = self._events.get(timeout=left)
                except queue.Empty:
                    continue
                if ev.get("method") == method:
                    return ev
                kept.append(ev)
        finally:
            for ev in kept:
                self._events.put(ev)

    def open_page(self) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=None)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=None)["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", {"width": VIEWPORT[0], "height": VIEWPORT[1],
                                                         "deviceScaleFactor": 1, "mobile": False})

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def js(self, expression: str):
        """Evaluate ``expression`` in the page (promises awaited) and return its JSON value."""
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True})
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            raise BrowserError(f"page script failed: {d.get('exception', {}).get('description') or d.get('text')}")
        return res.get("result", {}).get("value")

    def click(self, selector_js: str) -> None:
        """A real left click at the centre of the element ``selector_js`` evaluates to (scrolled into view)."""
        box = self.js(f"(() => {{const el = {selector_js}; el.scrollIntoView({{block: 'center'}}); "
                      "const r = el.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];})()")
        x, y = box
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                                   "clickCount": 0 if kind == "mouseMoved" else 1})

    def screenshot(self, path: Path) -> Path:
        """The full page (not just the viewport) as PNG."""
        w, h = VIEWPORT
        for _ in range(3):  # resizing the viewport can reflow the page: repeat until the size holds
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            new = max(math.ceil(size["width"]), VIEWPORT[0]), math.ceil(size["height"])
            if new == (w, h):
                break
            w, h = new
            self.send("Emulation.setDeviceMetricsOverride", {"width": w, "height": h, "deviceScaleFactor": 1,
                                                             "mobile": False})
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                    "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}})
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def log_tail(self, n: int = 2000) -> str:
        try:
            self._log.flush()
            self._log.seek(0)
            return self._log.read().decode(errors="replace")[-n:]
        except (OSError, ValueError):
            return ""

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close", session=None)
                except BrowserError:
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
        finally:
            for fd in (self._w, self._r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()
            self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _high_fd(fd: int) -> int:
    import fcntl

    new = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return new


# ----------------------------------------------------------------------------- expectations


def expected_tables(csv: Path | None = None, results: Path | None = None) -> dict[tuple, int]:
    """Models per leaderboard table, {(task, task version, preset, fp, test fp): n}, from the aggregate."""
    import pandas as pd

    from benchmark.leaderboard import TABLE_KEYS, aggregate, records_frame
    from benchmark.records import load_records

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

_TABLES_JS = """[...document.querySelectorAll('table.board')].map((t, i) => ({
  i, key: [t.dataset.task, +t.dataset.taskVersion, t.dataset.preset, t.dataset.fp, t.dataset.testFp],
  rows: t.tBodies[0].rows.length,
  visible: [...t.tBodies[0].rows].filter(r => r.getClientRects().length > 0 && r.offsetHeight > 0).length}))"""

_COLUMNS_JS = """[...document.querySelectorAll('table')].map((t, ti) => {
  const rows = [...t.tBodies[0].rows];
  const cols = [...t.tHead.rows[0].cells].map((th, ci) => {
    const vs = rows.map(r => r.cells[ci].dataset.v).filter(v => v !== '' && v !== undefined);
    return {ci, name: th.textContent, numeric: vs.length >= 2 && vs.every(v => !isNaN(parseFloat(v)) && isFinite(v))};
  });
  return {ti, cls: t.className, rows: rows.length, numeric: cols.filter(c => c.numeric).map(c => [c.ci, c.name])};
})"""


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


def _monotone(values: list, ascending: bool) -> bool:
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


def _column_values(b: Browser, ti: int, ci: int) -> list:
    return b.js(f"""[...document.querySelectorAll('table')[{ti}].tBodies[0].rows].map(r => {{
      const v = r.cells[{ci}].dataset.v; return v === '' ? null : parseFloat(v);}})""")


def check_tables(b: Browser, expected: dict[tuple, int], report: Report) -> None:
    found = {tuple(t["key"]): t for t in b.js(_TABLES_JS)}
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


def check_sorting(b: Browser, report: Report) -> None:
    tables = b.js(_COLUMNS_JS)
    n_cols = 0
    bad = []
    for t in tables:
        if t["rows"] < 2:
            continue
        for ci, name in t["numeric"]:
            th = f"document.querySelectorAll('table')[{t['ti']}].tHead.rows[0].cells[{ci}]"
            b.click(th)
            up = _column_values(b, t["ti"], ci)
            b.click(th)
            down = _column_values(b, t["ti"], ci)
            n_cols += 1
            if not _monotone(up, True) or not _monotone(down, False) or sorted(map(str, up)) != sorted(map(str, down)):
                bad.append(f"table {t['ti']} ({t['cls']}) column {name!r}: after 1st click {up}, 2nd click {down}")
    detail = f"{n_cols} column(s) in {sum(t['rows'] >= 2 for t in tables)} table(s)"
    if bad:
        detail += f"; {len(bad)} not sorted, e.g. " + "; ".join(bad[:3])
    report.add("clicking a numeric header sorts ascending, clicking again descending", n_cols > 0 and not bad,
               detail)


def check_family_filter(b: Browser, report: Report) -> None:
    families = b.js("[...document.querySelectorAll('#family option')].map(o => o.value).filter(v => v)")
    if not families:
        report.add("family filter", False, "no #family selector with families")
        return
    state = """(() => [...document.querySelectorAll('tr[data-family]')].map(r =>
        [r.dataset.family, r.getClientRects().length > 0 && r.offsetHeight > 0]))()"""
    problems = []
    for fam in [*families, ""]:
        b.js(f"(() => {{const s = document.getElementById('family'); s.value = {json.dumps(fam)}; "
             "s.dispatchEvent(new Event('change')); return s.value;})()")
        rows = b.js(state)
        wrong = [f for f, vis in rows if vis != (fam == "" or f == fam)]
        hidden = sum(not vis for _, vis in rows)
        if wrong:
            problems.append(f"{fam or 'all'}: {len(wrong)} row(s) wrongly shown/hidden")
        elif fam and len(families) > 1 and hidden == 0:
            problems.append(f"{fam}: nothing hidden")
    report.add("family filter shows only the chosen family, 'all' shows every row", not problems,
               f"{len(families)} families" + ("; " + "; ".join(problems) if problems else ""))


def check_images(b: Browser, report: Report) -> None:
    imgs = b.js("""Promise.all([...document.images].map(i => i.complete ? null :
        new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); })))
        .then(() => [...document.images].map(i => [i.getAttribute('src'), i.naturalWidth]))""")
    broken = [src for src, w in imgs if not w]
    report.add("images load (naturalWidth > 0)", not broken,
               f"{len(imgs) - len(broken)} of {len(imgs)} loaded" + (f"; broken: {', '.join(broken[:5])}" if broken else ""))


def check_console_and_network(events: list[dict], report: Report) -> None:
    errors, remote = [], []
    for ev in events:
        m, p = ev.get("method"), ev.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            errors.append(d.get("exception", {}).get("description") or d.get("text", "?"))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            errors.append(p["entry"].get("text", "?"))
        elif m == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith(("file:", "data:", "about:")):
                remote.append(url)
    report.add("no JavaScript errors or failed loads in the console", not errors, "; ".join(errors[:3]))
    report.add("no network requests (file: and data: only)", not remote, ", ".join(remote[:3]))


def check_page(page: str | Path, expected: dict[tuple, int], screenshot: str | Path | None = None,
               chromium: str | None = None, timeout: float = 60.0) -> Report:
    """Run every check on ``page`` and return the report (raises ``BrowserError`` if Chromium fails)."""
    exe = find_chromium(chromium)
    if exe is None:
        raise BrowserError("no Chromium found: install it (apt-get install chromium) or pass --chromium PATH")
    report = Report()
    url = Path(page).resolve().as_uri()
    with Browser(exe, timeout=timeout) as b:
        b.open_page()
        b.navigate(url)
        check_images(b, report)  # first: also waits until every image has loaded or failed
        check_tables(b, expected, report)
        check_sorting(b, report)
        check_family_filter(b, report)
        check_console_and_network(b.events(), report)
        if screenshot:
            b.navigate(url)  # fresh state (unsorted, unfiltered) for the picture
            b.js("Promise.all([...document.images].map(i => i.complete ? null : new Promise(r => "
                 "{ i.onload = i.onerror = r; })))")
            path = b.screenshot(Path(screenshot))
            report.add("full-page screenshot", path.stat().st_size > 1000, str(path))
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmark.htmlcheck", description=__doc__.split("\n\n")[0])
    p.add_argument("page", type=Path, help="the leaderboard HTML file")
    p.add_argument("--csv", type=Path, default=None, help="aggregate CSV (default: leaderboard.csv beside the page)")
    p.add_argument("--results", type=Path, default=None, help="recompute the aggregate from these records instead")
    p.add_argument("--screenshot", type=Path, default=None, help="save a full-page PNG here")
    p.add_argument("--chromium", default=None, help="browser executable (default: $CHROMIUM or chromium on PATH)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for any one browser reply")
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
        report = check_page(args.page, expected, args.screenshot, args.chromium, args.timeout)
    except BrowserError as exc:
        print(f"htmlcheck: error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.page}:")
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
