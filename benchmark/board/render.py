"""Records -> the leaderboard's files: ``write_leaderboard`` reads the run records of a results folder,
aggregates them (``board.aggregate``) and writes ``leaderboard.md`` (``board.markdown``),
``leaderboard.csv``, ``leaderboard.json``, ``leaderboard.html`` (``board.page``), the figures under
``plots/`` (``board.figures``) and the dataset galleries under ``gallery/`` (``board.gallery``).

Every file is written atomically (a temporary file in the same folder, then a rename), so a reader
never sees half a table. ``replace_section`` updates a marked section of a Markdown file the same way
(``lensbench leaderboard --readme FILE``, ``perf/perf_readme.py``).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import pandas as pd

from lensbench.board import ablation, verification
from lensbench.board import cost as board_cost
from lensbench.board import curves as board_curves
from lensbench.board import learning as board_learning
from lensbench.board.aggregate import aggregate, figure_stems, iter_tables, records_frame, table_key
from lensbench.board.markdown import render_markdown, results_section
from lensbench.board.page import render_page
from lensbench.records import RunRecord, load_records, read_valid

log = logging.getLogger(__name__)

FORMATS = ("md", "csv", "html", "json", "png")


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating parent folders; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def render_csv(agg: pd.DataFrame, path: str | Path) -> Path:
    """The aggregate frame as CSV (full precision, one row per table and model)."""
    return write_text(path, agg.to_csv(index=False))


def read_results(results_dir: str | Path, strict: bool = True) -> list[RunRecord]:
    """The records under ``results_dir``; ``FileNotFoundError`` naming the folder when it does not exist."""
    check_results_dir(results_dir)
    return load_records(results_dir, strict=strict)


def check_results_dir(results_dir: str | Path) -> None:
    """``FileNotFoundError`` naming ``results_dir`` unless it is a folder."""
    if not Path(results_dir).is_dir():
        raise FileNotFoundError(f"no results folder {results_dir} (expected a folder of run records, "
                                "as written by 'lensbench run' / 'lensbench sweep')")


def read_board_records(results_dir: str | Path) -> tuple[list[RunRecord], list[str]]:
    """(valid records, one message per bad file naming it) under ``results_dir``: the board is drawn
    from the valid ones only, and one bad record never stops it (``records.read_valid``)."""
    check_results_dir(results_dir)
    return read_valid(results_dir)


def inside(out_dir: Path, path: Path) -> Path:
    """``path``, after checking that it lies under ``out_dir`` (names come from validated records, so
    this never fails; it is the last guard against a name that would write elsewhere)."""
    if not path.resolve().is_relative_to(out_dir.resolve()):
        raise ValueError(f"refusing to write {path}: outside the output folder {out_dir}")
    return path


def write_leaderboard(results_dir: str | Path, out_dir: str | Path, formats=("md", "csv", "html"),
                      suite: str = "v1", strict: bool = True, gallery: bool = False,
                      cache: str | Path | None = None, records: list[RunRecord] | None = None) -> dict[str, Path]:
    """Read every record under ``results_dir`` and write ``leaderboard.<fmt>`` files into ``out_dir``.

    Formats: ``md``, ``csv``, ``html``, ``json`` (the aggregate rows) and ``png``: per table, into
    ``out_dir/plots/``, the CI plot ``<stem>.png`` and, when the records carry ``curves`` / ``slices``,
    ``<stem>_roc.png`` and ``<stem>_slices.png`` (keyed ``png:<file name>`` in the result); the Markdown
    and HTML link to them. ``gallery=True`` copies each table's dataset ``gallery.png`` from the dataset
    cache (``cache``, default ``lensbench.data.paths.cache_dir()``) to ``out_dir/gallery/`` (keyed
    ``gallery:<file name>``) and logs a warning naming each dataset without one and the command that
    makes it. ``strict=False`` skips malformed records with a warning instead of failing. ``records``:
    the (validated) records to draw, instead of reading ``results_dir`` (``read_board_records``).

    Returns {format: path}; an empty dict, with nothing written, when ``results_dir`` holds no record.
    A ``results_dir`` that does not exist is a ``FileNotFoundError`` naming it.
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"formats: unknown {sorted(unknown)}; expected some of {', '.join(FORMATS)}")
    recs = read_results(results_dir, strict=strict) if records is None else records
    if not recs:
        return {}
    frame = records_frame(recs)
    agg = verification.mark(aggregate(frame), results_dir)  # hidden-test marks, if any
    curves = board_curves.collect(recs)
    learning = board_learning.collect(recs)
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    figures: dict[tuple, dict[str, str]] = {}
    if "png" in formats:  # per table, under plots/
        from lensbench.board.figures import write_table_figures  # matplotlib only when drawing

        stems = figure_stems(agg)
        for k, t in iter_tables(agg):
            key = table_key(k)
            paths = write_table_figures(t, curves.get(key), inside(out_dir, out_dir / "plots" / stems[key]).parent,
                                        stems[key], learning.get(key))
            for p in paths.values():
                written[f"png:{p.name}"] = p
            figures[key] = {kind: p.relative_to(out_dir).as_posix() for kind, p in paths.items()}
    galleries = []
    if gallery:
        from lensbench.board.gallery import copy_galleries, wanted

        dataset = {board_curves.table_key(r): r.dataset for r in recs if r.status == "ok"}
        galleries = copy_galleries(wanted((table_key(k), k, dataset.get(table_key(k), ""))
                                          for k, _ in iter_tables(agg)), out_dir, cache)
        for g in galleries:
            if g.path is not None:
                written[f"gallery:{g.path.name}"] = g.path
            else:
                log.warning("%s", g.missing)
    extras = {"curves": curves, "figures": figures, "galleries": galleries, "ablations": ablation.by_table(frame),
              "learning_curves": learning}
    if "md" in formats:
        written["md"] = write_text(out_dir / "leaderboard.md",
                                   render_markdown(agg, suite, cost=board_cost.markdown(recs), **extras))
    if "csv" in formats:
        written["csv"] = render_csv(agg, out_dir / "leaderboard.csv")
    if "html" in formats:
        page = render_page(agg, f"LensBench leaderboard — suite {suite}", suite=suite, **extras)
        written["html"] = write_text(out_dir / "leaderboard.html", page)
    if "json" in formats:
        rows = json.dumps(json.loads(agg.to_json(orient="records")), indent=1) + "\n"
        written["json"] = write_text(out_dir / "leaderboard.json", rows)
    return written


def readme_results(results_dir: str | Path, command: str, suite: str = "v1",
                   records: list[RunRecord] | None = None, board: str | None = None) -> str:
    """A Markdown results section (``markdown.results_section``) from the records in ``results_dir``
    (or ``records``, when given); ``board``: the link to the full leaderboard Markdown."""
    frame = records_frame(read_results(results_dir) if records is None else records)
    return results_section(aggregate(frame), str(results_dir), command, suite, ablation.by_table(frame), board)


def replace_section(path: str | Path, name: str, body: str) -> Path:
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in a Markdown file
    (appending a new ``## name`` section with the markers when they are absent)."""
    path = Path(path)
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n## {name}\n\n{block}\n"
    return write_text(path, text)
