"""The cells of the leaderboard tables, shared by the Markdown (``board.markdown``) and the HTML page
(``board.page``): numbers formatted for reading, each cell a ``(text, sort key)`` pair (the page sorts
by the key; Markdown shows the text).

- ``table_rows(t)``: one leaderboard table (rank, model, family, params, mean ± std (n), 95% CI, for
  protocol-v2 tables the comparison with the best model, the secondary metrics, train time);
- ``ci_note(t)``: which interval a table shows (None on a board without protocol-v2 tables);
- ``overview(agg)``: models x tables, each cell the model's mean primary metric and rank;
- ``title(k, suite)``: a table's heading;
- ``md_table(header, rows)``: cells as Markdown lines (the page renders the same cells as HTML).
"""

from __future__ import annotations

import math

import pandas as pd

from lensbench import registry
from lensbench.board import protocol
from lensbench.board.aggregate import iter_tables

NOT_RANKED = "not ranked"


def md_table(header: list[str], rows: list[list]) -> list[str]:
    """A Markdown table (lines); cells are text or ``(text, sort key)`` pairs; ``|`` is escaped."""
    def esc(c) -> str:
        return str(c[0] if isinstance(c, tuple) else c).replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return lines


def ranked(t: pd.DataFrame) -> bool:
    """Whether one table (its aggregate rows) is ranked: False for a protocol-v2 table (``is_v2``) of a
    registered task with ``ranked=False`` (an out-of-distribution indicator, shown without ranks);
    True otherwise, so tables of protocol-v1 records (e.g. the frozen v1 board) keep the ranks they
    were published with."""
    try:
        flag = bool(registry.tasks.get(t["task"].iloc[0]).ranked)
    except KeyError:
        flag = True
    return flag or not is_v2(t)


def rank_cell(r, is_ranked: bool) -> tuple[str, int]:
    """The rank column's cell of one aggregate row: its rank, or "–" in an unranked table."""
    return (str(int(r["rank"])), int(r["rank"])) if is_ranked else ("–", 0)

DEFAULT_SECONDARY = ("accuracy", "f1_macro", "mae", "r2", "tpr_at_fpr_0.1")

Cell = tuple[str, float | str]


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt(x, digits: int = 4) -> str:
    """A metric value: ``digits`` decimals, or 3 significant digits when very large or small; "–" if missing."""
    if _missing(x):
        return "–"
    x = float(x)
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:.{digits}f}"


def fmt_params(n) -> str:
    """A parameter count as ``1.5M`` / ``12.0k`` / ``300``."""
    if _missing(n):
        return "–"
    n = float(n)
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(int(n))


def fmt_time(s) -> str:
    """Seconds as ``12.3 s`` or, from two minutes on, ``4.2 min``."""
    if _missing(s):
        return "–"
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def sortable(x) -> float | str:
    """The sort key of a numeric cell: the number to 6 significant digits, "" when missing."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(x) else float(f"{x:.6g}")


def secondaries(t: pd.DataFrame) -> list[str]:
    """The secondary metrics shown for one table: those its records declare (else ``DEFAULT_SECONDARY``)
    that some model has a value for, never the primary metric."""
    declared = list(dict.fromkeys(s for v in t["secondary_metrics"] if v for s in v.split("|")))
    names = declared or list(DEFAULT_SECONDARY)
    primary = t["primary_metric"].iloc[0]
    return [m for m in names if m != primary and f"test.{m}" in t and t[f"test.{m}"].notna().any()]


def title(k: dict, suite: str | None = None) -> str:
    """Heading of one table: task, task version, preset, dataset fingerprint(s) and the suite version."""
    s = f"{k['task']} — v{k['task_version']} · preset {k['preset']} · data {k['dataset_fingerprint'][:8]}"
    if k["test_dataset_fingerprint"]:
        s += f" · test data {k['test_dataset_fingerprint'][:8]}"
    return s + (f" · suite {suite}" if suite else "")


def is_v2(t: pd.DataFrame) -> bool:
    """True for a table with protocol-v2 intervals and comparisons (``board.protocol``)."""
    return "ci_method" in t and bool((t["ci_method"] == protocol.CI_SEEDS_ITEMS).any())


def ci_note(t: pd.DataFrame) -> str | None:
    """The caption sentence on the table's interval and ranks; None on a board of records without
    replicates (which renders as it always did)."""
    if "ci_method" not in t:
        return None
    return protocol.PROTOCOL_NOTE if is_v2(t) else protocol.SEED_ONLY_NOTE


def vs_best(r) -> Cell:
    """``Δ, p (Holm), separated`` of one row of a protocol-v2 table: "best" for the best model, "–"
    for a model without a paired test."""
    if r["vs_best_diff"] == 0 and _missing(r["vs_best_p"]):
        return "best", 0.0
    if _missing(r["vs_best_p"]):
        return "–", ""
    return (f"{r['vs_best_diff']:+.4f}, p={r['vs_best_p']:.2g}, {'yes' if r['separated'] else 'no'}",
            sortable(r["vs_best_diff"]))


def table_rows(t: pd.DataFrame) -> tuple[list[str], list[list[Cell]]]:
    """Header and rows of one leaderboard table (the ``aggregate`` rows of one table, in rank order)."""
    metric = t["primary_metric"].iloc[0]
    sec = secondaries(t)
    v2 = is_v2(t)
    hid = "hidden_test" in t and bool((t["hidden_test"] != "").any())  # board.verification marks
    header = ["rank", "model", "family", "params", f"{metric} mean ± std (n)", "95% CI",
              *(["vs best: Δ, p (Holm), separated"] if v2 else []), *(["hidden test"] if hid else []), *sec,
              "train time"]
    rows, is_ranked = [], ranked(t)
    for _, r in t.iterrows():
        ci = "–" if math.isnan(r["ci_lo"]) else f"[{fmt(r['ci_lo'])}, {fmt(r['ci_hi'])}]"
        rows.append([
            rank_cell(r, is_ranked), (r["model"], r["model"]), (r["family"], r["family"]),
            (fmt_params(r["n_params"]), sortable(r["n_params"])),
            (f"{fmt(r['mean'])} ± {fmt(r['std'])} ({int(r['n'])})", sortable(r["mean"])),
            (ci, sortable(r["ci_lo"])),
            *([vs_best(r)] if v2 else []),
            *([(r["hidden_test"] or "–", r["hidden_test"])] if hid else []),
            *[(fmt(r[f"test.{m}"]), sortable(r[f"test.{m}"])) for m in sec],
            (fmt_time(r["train_time_s"]), sortable(r["train_time_s"])),
        ])
    return header, rows


def overview(agg: pd.DataFrame) -> tuple[list[str], list[list[Cell]]]:
    """Models x tables of primary means with ranks (``0.9300 (#1)``); "–" where a model did not run."""
    tables = list(iter_tables(agg))
    labels = [f"{k['task']} v{k['task_version']} ({k['preset']}, {t['primary_metric'].iloc[0]})" for k, t in tables]
    dup = {lab for lab in labels if labels.count(lab) > 1}
    ranks = [ranked(t) for _, t in tables]
    for i, (k, _) in enumerate(tables):  # tables that differ only by fingerprint
        if labels[i] in dup:
            labels[i] += f" @{k['dataset_fingerprint'][:8]}"
            if k["test_dataset_fingerprint"]:
                labels[i] += f"/{k['test_dataset_fingerprint'][:8]}"
    family = agg.groupby("model")["family"].first()
    rows = []
    for m in sorted(agg["model"].unique()):
        row = [(m, m), (family[m], family[m])]
        for (_, t), is_ranked in zip(tables, ranks):
            hit = t[t["model"] == m]
            if hit.empty:
                row.append(("–", ""))
            else:
                mean = hit["mean"].iloc[0]
                rank = f"#{int(hit['rank'].iloc[0])}" if is_ranked else NOT_RANKED
                row.append((f"{fmt(mean)} ({rank})", sortable(mean)))
        rows.append(row)
    return ["model", "family", *labels], rows


def slice_cells(sc, models: list[str]) -> tuple[list[str], list[list[Cell]]]:
    """Header and rows (bin, n, one ``mean ± std`` cell per model) of a metric-per-bin table of one
    ``curves.SliceColumn``."""
    header = [f"{sc.column} bin", "n", *models]
    stats = {m: sc.mean_std(m) for m in models}
    rows = []
    for b, label in enumerate(sc.bin_labels()):
        n = (str(sc.n[b]), sc.n[b]) if b < len(sc.n) else ("–", "")
        row: list[Cell] = [(label, sc.edges[b]), n]
        for m in models:
            mean, std = stats[m][0][b], stats[m][1][b]
            text = f"{mean:.3f}" if math.isnan(std) else f"{mean:.3f} ± {std:.3f}"
            row.append(("–", "") if math.isnan(mean) else (text, sortable(mean)))
        rows.append(row)
    return header, rows
