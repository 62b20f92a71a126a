"""Leaderboards: run records -> per-seed frame -> aggregate over seeds -> Markdown / CSV / HTML.

One table per (task, task version, preset, dataset fingerprint, test dataset fingerprint):
records that differ in any of these NEVER share a table. Within a table each model gets the mean,
standard deviation (ddof=1) and 95 % t-interval of the mean of its primary test metric over seeds.

Rank rule (tie groups): ``rank = 1 + number of models whose 95 % CI lies entirely on the better
side of this model's CI`` (for higher-is-better: their CI low end > this model's CI high end).
So the leader is always rank 1, every model whose CI overlaps the leader's shares rank 1 unless
some other model's CI is strictly better than its own, and ranks that the data cannot separate
are shared. A model with a single seed has no CI; its interval is its mean (a point).

Beside the tables: ``leaderboard_curves`` (ROC curves and metric per slice bin from the records'
``curves`` / ``slices``), ``leaderboard_html`` (the static page), ``leaderboard_gallery`` (datasets'
example images) and ``htmlcheck`` (the page checked in headless Chromium).
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from lensbench.records import RunRecord, load_records

log = logging.getLogger(__name__)

TABLE_KEYS = ["task", "task_version", "preset", "dataset_fingerprint", "test_dataset_fingerprint"]
GROUP_KEYS = TABLE_KEYS + ["model"]
DEFAULT_SECONDARY = ("accuracy", "f1_macro", "mae", "r2", "tpr_at_fpr_0.1")
CI_LEVEL = 0.95
RANK_RULE = (
    "Rank = 1 + the number of models whose 95% CI of the mean lies entirely on the better side of this "
    "model's CI, so models the intervals cannot separate share a rank. A model with one seed has no CI "
    "and is compared by its mean."
)
_FRAME_COLUMNS = TABLE_KEYS + ["model", "family", "seed", "primary_metric", "higher_is_better", "primary",
                               "val_primary", "n_params", "train_time_s", "secondary_metrics",
                               "model_config_hash", "task_config_hash", "created"]


# ----------------------------------------------------------------------------- frames


def records_frame(records: Iterable[RunRecord]) -> pd.DataFrame:
    """One row per ``ok`` record; scalar test metrics flattened into ``test.<name>`` columns.

    If the same (table, model, seed) occurs twice, the most recently ``created`` one is kept
    (with a warning).
    """
    rows = []
    for r in records:
        if r.status != "ok":
            continue
        row = {
            "task": r.task, "task_version": r.task_version, "preset": r.preset,
            "dataset_fingerprint": r.dataset_fingerprint,
            "test_dataset_fingerprint": r.test_dataset_fingerprint or "",
            "model": r.model, "family": r.model_family, "seed": r.seed,
            "primary_metric": r.primary_metric, "higher_is_better": r.higher_is_better,
            "primary": float(r.metrics_test[r.primary_metric]),
            "val_primary": _num(r.metrics_val.get(r.primary_metric)),
            "n_params": r.n_params, "train_time_s": _num(r.train_time_s),
            "secondary_metrics": "|".join(r.secondary_metrics),
            "model_config_hash": r.model_config_hash, "task_config_hash": r.task_config_hash,
            "created": r.created,
        }
        for k, v in r.metrics_test.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                row[f"test.{k}"] = float(v)
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=_FRAME_COLUMNS)
    df = df.sort_values("created", kind="stable")
    dup = df.duplicated(GROUP_KEYS + ["seed"], keep="last")
    if dup.any():
        which = df.loc[dup, ["task", "model", "seed"]].to_dict("records")
        warnings.warn(f"duplicate records for {which}; keeping the most recent of each", stacklevel=2)
        df = df[~dup]
    return df.reset_index(drop=True)


def _num(v) -> float:
    return float(v) if v is not None else float("nan")


def _ci(values: np.ndarray) -> tuple[float, float, float, float]:
    """mean, std (ddof=1), CI low, CI high of the mean (t distribution); NaNs when n == 1."""
    n = len(values)
    mean = float(np.mean(values))
    if n < 2:
        return mean, float("nan"), float("nan"), float("nan")
    std = float(np.std(values, ddof=1))
    half = float(stats.t.ppf(0.5 + CI_LEVEL / 2, n - 1)) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half


def rank_with_ties(mean, lo, hi, higher_is_better: bool) -> np.ndarray:
    """``1 + #models whose interval lies entirely better``; a NaN interval is the point ``mean``."""
    mean, lo, hi = (np.asarray(a, dtype=float) for a in (mean, lo, hi))
    lo = np.where(np.isnan(lo), mean, lo)
    hi = np.where(np.isnan(hi), mean, hi)
    if higher_is_better:
        better = lo[None, :] > hi[:, None]  # [i, j]: j clearly better than i
    else:
        better = hi[None, :] < lo[:, None]
    return 1 + better.sum(axis=1)


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """Aggregate the per-seed frame over seeds and rank models within each table.

    Columns: the table keys, ``model``, ``family``, ``primary_metric``, ``higher_is_better``,
    ``mean``, ``std``, ``n``, ``seeds``, ``ci_lo``, ``ci_hi``, ``val_mean``, ``n_params``,
    ``train_time_s`` (mean), ``secondary_metrics``, ``test.<metric>`` (means), ``rank``.
    Rows are sorted by table, then rank, then mean in the metric's direction.
    """
    metric_cols = [c for c in df.columns if c.startswith("test.")]
    out_cols = GROUP_KEYS + ["family", "primary_metric", "higher_is_better", "mean", "std", "n", "seeds",
                             "ci_lo", "ci_hi", "val_mean", "n_params", "train_time_s", "secondary_metrics",
                             *metric_cols, "rank"]
    if df.empty:
        return pd.DataFrame(columns=out_cols)
    for keys, t in df.groupby(TABLE_KEYS, sort=False):
        for col in ("primary_metric", "higher_is_better"):
            if t[col].nunique() > 1:
                raise ValueError(f"table {keys}: records disagree on {col}: {sorted(map(str, t[col].unique()))}")
    rows = []
    for keys, g in df.groupby(GROUP_KEYS, sort=True):
        for col in ("model_config_hash", "task_config_hash"):
            if g[col].nunique() > 1:
                warnings.warn(f"{dict(zip(GROUP_KEYS, keys))}: seeds were run with different {col}s", stacklevel=2)
        mean, std, lo, hi = _ci(g["primary"].to_numpy(dtype=float))
        secondary = list(dict.fromkeys(s for v in g["secondary_metrics"] if v for s in v.split("|")))
        row = dict(zip(GROUP_KEYS, keys))
        row.update(
            family=g["family"].iloc[0], primary_metric=g["primary_metric"].iloc[0],
            higher_is_better=bool(g["higher_is_better"].iloc[0]), mean=mean, std=std, n=len(g),
            seeds=",".join(str(s) for s in sorted(g["seed"])), ci_lo=lo, ci_hi=hi,
            val_mean=float(g["val_primary"].mean()), n_params=g["n_params"].dropna().max(),
            train_time_s=float(g["train_time_s"].mean()), secondary_metrics="|".join(secondary),
        )
        for c in metric_cols:
            row[c] = float(g[c].mean())  # NaN-skipping mean
        rows.append(row)
    agg = pd.DataFrame(rows, columns=out_cols[:-1])
    parts = []
    for _, t in agg.groupby(TABLE_KEYS, sort=True):
        t = t.copy()
        hib = bool(t["higher_is_better"].iloc[0])
        t["rank"] = rank_with_ties(t["mean"], t["ci_lo"], t["ci_hi"], hib)
        t["_order"] = -t["mean"] if hib else t["mean"]
        parts.append(t.sort_values(["rank", "_order", "model"]).drop(columns="_order"))
    return pd.concat(parts, ignore_index=True)


# ----------------------------------------------------------------------------- formatting


def _fmt(x, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    x = float(x)
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:.{digits}f}"


def _fmt_params(n) -> str:
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "–"
    n = float(n)
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(int(n))


def _fmt_time(s) -> str:
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "–"
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def _tables(agg: pd.DataFrame):
    """Yield (keys dict, table frame) in a stable order."""
    if agg.empty:
        return
    for keys, t in agg.groupby(TABLE_KEYS, sort=True):
        yield dict(zip(TABLE_KEYS, keys)), t


def _secondaries(t: pd.DataFrame) -> list[str]:
    declared = list(dict.fromkeys(s for v in t["secondary_metrics"] if v for s in v.split("|")))
    names = declared or list(DEFAULT_SECONDARY)
    primary = t["primary_metric"].iloc[0]
    return [m for m in names if m != primary and f"test.{m}" in t and t[f"test.{m}"].notna().any()]


def _title(k: dict, suite: str | None = None) -> str:
    """Heading of one table: task, task version, preset, dataset fingerprint(s) and the suite version."""
    s = f"{k['task']} — v{k['task_version']} · preset {k['preset']} · data {k['dataset_fingerprint'][:8]}"
    if k["test_dataset_fingerprint"]:
        s += f" · test data {k['test_dataset_fingerprint'][:8]}"
    return s + (f" · suite {suite}" if suite else "")


def _key(k: dict) -> tuple:
    """A table's keys as a hashable tuple (``TABLE_KEYS`` order), as ``leaderboard_curves.table_key``."""
    return (k["task"], int(k["task_version"]), k["preset"], k["dataset_fingerprint"], k["test_dataset_fingerprint"] or "")


def _stems(agg: pd.DataFrame) -> dict[tuple, str]:
    """File stem of each table's figures: ``<task>_v<version>_<preset>_<fp[:8]>`` (plus ``_<test fp[:8]>``
    when two tables would otherwise share it)."""
    base = {_key(k): f"{k['task'].replace('/', '__')}_v{k['task_version']}_{k['preset']}_{k['dataset_fingerprint'][:8]}"
            for k, _ in _tables(agg)}
    seen = list(base.values())
    return {key: (f"{s}_{key[4][:8]}" if seen.count(s) > 1 and key[4] else s) for key, s in base.items()}


def _table_rows(t: pd.DataFrame) -> tuple[list[str], list[list[tuple[str, float | str]]]]:
    """Header and rows of one table; each cell is (text, sort key)."""
    metric = t["primary_metric"].iloc[0]
    sec = _secondaries(t)
    header = ["rank", "model", "family", "params", f"{metric} mean ± std (n)", "95% CI", *sec, "train time"]
    rows = []
    for _, r in t.iterrows():
        ci = "–" if math.isnan(r["ci_lo"]) else f"[{_fmt(r['ci_lo'])}, {_fmt(r['ci_hi'])}]"
        rows.append([
            (str(int(r["rank"])), int(r["rank"])), (r["model"], r["model"]), (r["family"], r["family"]),
            (_fmt_params(r["n_params"]), _sortable(r["n_params"])),
            (f"{_fmt(r['mean'])} ± {_fmt(r['std'])} ({int(r['n'])})", _sortable(r["mean"])),
            (ci, _sortable(r["ci_lo"])),
            *[(_fmt(r[f"test.{m}"]), _sortable(r[f"test.{m}"])) for m in sec],
            (_fmt_time(r["train_time_s"]), _sortable(r["train_time_s"])),
        ])
    return header, rows


def _sortable(x) -> float | str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(x) else float(f"{x:.6g}")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def esc(s) -> str:
        return str(s).replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return lines


def _overview(agg: pd.DataFrame) -> tuple[list[str], list[list[tuple[str, float | str]]]]:
    """Models x tables of primary means with ranks; cells are (text, sort key)."""
    tables = list(_tables(agg))
    labels = [f"{k['task']} v{k['task_version']} ({k['preset']}, {t['primary_metric'].iloc[0]})" for k, t in tables]
    dup = {lab for lab in labels if labels.count(lab) > 1}
    for i, (k, _) in enumerate(tables):  # tables that differ only by fingerprint
        if labels[i] in dup:
            labels[i] += f" @{k['dataset_fingerprint'][:8]}"
            if k["test_dataset_fingerprint"]:
                labels[i] += f"/{k['test_dataset_fingerprint'][:8]}"
    family = agg.groupby("model")["family"].first()
    rows = []
    for m in sorted(agg["model"].unique()):
        row = [(m, m), (family[m], family[m])]
        for _, t in tables:
            hit = t[t["model"] == m]
            if hit.empty:
                row.append(("–", ""))
            else:
                mean = hit["mean"].iloc[0]
                row.append((f"{_fmt(mean)} (#{int(hit['rank'].iloc[0])})", _sortable(mean)))
        rows.append(row)
    return ["model", "family", *labels], rows


# ----------------------------------------------------------------------------- renderers


def render_markdown(agg: pd.DataFrame, suite: str = "v1", curves: dict | None = None, figures: dict | None = None,
                    galleries=()) -> str:
    """The leaderboard as Markdown: an overview (models x tasks) then one table per task table.

    Optional extras per table (keyed by ``_key``): ``curves`` (``leaderboard_curves.collect``) adds a
    metric-per-bin table for each slice column; ``figures`` ({"ci"|"roc"|"slices": path relative to the
    Markdown file}) adds links to the PNGs; ``galleries`` (``leaderboard_gallery.Gallery``) adds links to
    the datasets' example images."""
    curves, figures = curves or {}, figures or {}
    out = [f"# LensBench leaderboard — suite {suite}", ""]
    if agg.empty:
        return "\n".join(out + ["No results yet.", ""])
    out += [
        "Numbers are test metrics at the checkpoint selected on validation, as mean ± standard deviation "
        "over seeds (n = number of seeds); 95% CI is the t-interval of the mean. " + RANK_RULE,
        "Tables never mix task versions, presets or dataset fingerprints.",
        "",
        "## Overview (primary metric, mean over seeds, #rank)",
        "",
    ]
    header, rows = _overview(agg)
    out += _md_table(header, [[c[0] for c in row] for row in rows]) + [""]
    for k, t in _tables(agg):
        metric = t["primary_metric"].iloc[0]
        direction = "higher is better" if t["higher_is_better"].iloc[0] else "lower is better"
        note = f"Primary metric: `{metric}` ({direction}). Dataset fingerprint `{k['dataset_fingerprint']}`."
        out += [f"## {_title(k, suite)}", "", note, ""]
        header, rows = _table_rows(t)
        out += _md_table(header, [[c[0] for c in row] for row in rows]) + [""]
        out += _md_extras(k, t, curves.get(_key(k)), figures.get(_key(k), {}), galleries)
    return "\n".join(out)


def _md_extras(k: dict, t: pd.DataFrame, tc, figs: dict, galleries) -> list[str]:
    """Figure links, metric-per-bin tables and gallery links under one table."""
    from lensbench.board.curves import select_models, slice_cells

    out = []
    names = {"ci": "95% CI plot", "roc": "ROC curves (macro one-vs-rest, mean over seeds)",
             "slices": "metric per bin"}
    links = [f"[{names[kind]}]({figs[kind]})" for kind in ("ci", "roc", "slices") if kind in figs]
    links += [f"[example images: {g.dataset}]({g.path.parent.name}/{g.path.name})" for g in galleries
              if _key(k) in g.tables and g.path is not None]
    if links:
        out += ["Figures: " + " · ".join(links), ""]
    metric = t["primary_metric"].iloc[0]
    for sc in (tc.slices.values() if tc is not None else ()):
        header, rows = slice_cells(sc, select_models(t, set(sc.values)))
        out += [(f"`{metric}` per `{sc.column}` bin (test-set quantiles; mean ± std over seeds; top models, "
                 "PINNs and their physics-off twins):"), ""]
        out += _md_table(header, [[c[0] for c in row] for row in rows]) + [""]
    return out


def render_csv(agg: pd.DataFrame, path: str | Path) -> Path:
    """The aggregate frame as CSV (full precision, one row per table and model)."""
    path = Path(path)
    _atomic_write(path, agg.to_csv(index=False))
    return path


def render_html(agg: pd.DataFrame, path: str | Path, title: str = "LensBench leaderboard", suite: str = "v1",
                **extras) -> Path:
    """A single self-contained HTML page (inline CSS/JS, no external URLs): click a column header to
    sort, pick a family to filter rows. ``extras``: see ``leaderboard_html.render_page``."""
    from lensbench.board.html import render_page

    return render_page(agg, path, title, suite=suite, **extras)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_leaderboard(results_dir: str | Path, out_dir: str | Path, formats=("md", "csv", "html"),
                      suite: str = "v1", strict: bool = True, gallery: bool = False,
                      cache: str | Path | None = None) -> dict[str, Path]:
    """Read every record under ``results_dir`` and write ``leaderboard.<fmt>`` files into ``out_dir``.

    Formats: ``md``, ``csv``, ``html``, ``json`` (the aggregate rows) and ``png``: per table, into
    ``out_dir/plots/``, the CI plot ``<stem>.png`` and, when the records carry ``curves`` / ``slices``,
    ``<stem>_roc.png`` and ``<stem>_slices.png`` (keyed ``png:<file name>`` in the result); the Markdown
    and HTML link to them. ``gallery=True`` copies each table's dataset ``gallery.png`` from the dataset
    cache (``cache``, default ``data.cache_dir()``) to ``out_dir/gallery/`` (keyed ``gallery:<file name>``)
    and logs a warning naming each dataset without one and the command that makes it.
    ``strict=False`` skips malformed records with a warning instead of failing. Returns {format: path}.
    """
    from lensbench.board import curves as leaderboard_curves

    unknown = set(formats) - {"md", "csv", "html", "json", "png"}
    if unknown:
        raise ValueError(f"formats: unknown {sorted(unknown)}; expected some of md, csv, html, json, png")
    recs = load_records(results_dir, strict=strict)
    agg = aggregate(records_frame(recs))
    curves = leaderboard_curves.collect(recs)
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    figures: dict[tuple, dict[str, str]] = {}
    if "png" in formats:  # per table, under plots/
        from lensbench.board.plots import leaderboard_ci_plot

        stems = _stems(agg)
        for k, t in _tables(agg):
            key = _key(k)
            paths = {"ci": leaderboard_ci_plot(t, out_dir / "plots" / f"{stems[key]}.png")}
            paths.update(leaderboard_curves.write_figures(t, curves.get(key), out_dir / "plots", stems[key]))
            for p in paths.values():
                written[f"png:{p.name}"] = p
            figures[key] = {kind: p.relative_to(out_dir).as_posix() for kind, p in paths.items()}
    galleries = []
    if gallery:
        from lensbench.board.gallery import copy_galleries, wanted

        dataset = {leaderboard_curves.table_key(r): r.dataset for r in recs if r.status == "ok"}
        galleries = copy_galleries(wanted((_key(k), k, dataset.get(_key(k), "")) for k, _ in _tables(agg)),
                                   out_dir, cache)
        for g in galleries:
            if g.path is not None:
                written[f"gallery:{g.path.name}"] = g.path
            else:
                log.warning("%s", g.missing)
    extras = {"curves": curves, "figures": figures, "galleries": galleries}
    if "md" in formats:
        written["md"] = out_dir / "leaderboard.md"
        _atomic_write(written["md"], render_markdown(agg, suite, **extras))
    if "csv" in formats:
        written["csv"] = render_csv(agg, out_dir / "leaderboard.csv")
    if "html" in formats:
        written["html"] = render_html(agg, out_dir / "leaderboard.html", f"LensBench leaderboard — suite {suite}",
                                      suite=suite, **extras)
    if "json" in formats:
        written["json"] = out_dir / "leaderboard.json"
        _atomic_write(written["json"], json.dumps(json.loads(agg.to_json(orient="records")), indent=1) + "\n")
    return written


def replace_section(path: str | Path, name: str, body: str) -> Path:
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in a Markdown file
    (appending a new section when the markers are absent). Used for generated README sections."""
    path = Path(path)
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n## {name}\n\n{block}\n"
    _atomic_write(path, text)
    return path


def readme_results(results_dir: str | Path, command: str, suite: str = "v1") -> str:
    """The README's results section: generated from the records, with the command that made them."""
    agg = aggregate(records_frame(load_records(results_dir)))
    body = render_markdown(agg, suite).split("\n", 1)[1].replace("\n## ", "\n### ")  # no title; demote headings
    physics = physics_table(agg)
    if physics:
        physics = ("\n### What the physics adds (each PINN vs its physics-off twin)\n\n"
                   "Same network and parameter count; the twin replaces the lens equation by the identity "
                   "and drops the physics loss terms. Higher is better for AUC, lower for MSE.\n\n" + physics)
    return (f"_Generated from the records in `{results_dir}` by `lensbench leaderboard --readme README.md`; "
            f"reproduce the records with `{command}`._\n{physics}{body}")


def physics_table(agg: pd.DataFrame) -> str:
    """Markdown: each PINN beside its physics-off twin (and the best baseline) in every table where
    both ran: what the physics adds, with whether the 95% CIs separate them."""
    from lensbench.board.curves import twin_of

    lines = ["| task | PINN | PINN mean ± std | physics-off twin mean ± std | PINN − twin | 95% CIs separate? | best baseline |",
             "|---|---|---|---|---|---|---|"]
    for _, t in _tables(agg):
        by_model = {r["model"]: r for _, r in t.iterrows()}
        base = t[t["family"] == "baseline"]
        best = None
        if not base.empty:
            best = base.loc[base["mean"].idxmax() if bool(t["higher_is_better"].iloc[0]) else base["mean"].idxmin()]
        for name, r in by_model.items():
            if r["family"] != "pinn":
                continue
            twin = twin_of(name)
            if twin not in by_model:
                continue
            w = by_model[twin]
            apart = r["ci_lo"] > w["ci_hi"] or w["ci_lo"] > r["ci_hi"]
            lines.append(
                f"| {r['task']} | {name} | {_fmt(r['mean'])} ± {_fmt(r['std'])} | {_fmt(w['mean'])} ± {_fmt(w['std'])} "
                f"| {r['mean'] - w['mean']:+.4f} | {'yes' if apart else 'no'} | "
                + (f"{best['model']} {_fmt(best['mean'])} ± {_fmt(best['std'])}" if best is not None else "–") + " |")
    return "\n".join(lines) + "\n" if len(lines) > 2 else ""
