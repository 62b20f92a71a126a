"""The verdict on the physics, generated from the records: per task family, the best model, whether a
PINN beats both its physics-off variants and the best baseline (separated or not, and by how much),
and how much of each task a global shortcut explains.

Only ranked protocol-v2 tables count (``cells.ranked``, ``cells.is_v2``: paired seeds and shared test
resamples). For each such table:

* the best model by mean, with its two-level interval, and the best baseline (``family == "baseline"``);
* for each PINN group of the table (``ablation.by_table``), its full model against its two physics-off
  variants (``physics (aux on)``: the same supervision without the lens equation; ``physics and
  supervision``: neither) and against the best baseline, each a seed-paired difference Holm-adjusted
  within the group. A PINN *wins* a table when all three are separated in its favour;
* the ``global-stats`` probe (the image-statistics classifier registered on every classification
  task) as a share of the best model's distance from chance, ``(probe - 0.5) / (best - 0.5)`` on AUC
  metrics: near 0, global statistics explain nothing the best model finds; near 1, nearly all.

``markdown(agg, ablations)`` writes the section (a table per family and sentences); ``table(...)``
gives the rows for tests and the HTML page.
"""

from __future__ import annotations

import math

import pandas as pd

from lensbench.board.aggregate import iter_tables, table_key
from lensbench.board.cells import fmt, is_v2, md_table, ranked

HEADING = "Verdict: does the physics help, and where?"
PROBE = "global-stats"
CHANCE = {"auc_macro": 0.5, "auc": 0.5}  # metrics with a chance level the probe share is measured from
PHYSICS_OFF = ("physics (aux on)", "physics and supervision")
COLUMNS = ["family", "task", "preset", "metric", "higher_is_better", "n_models", "best", "best_mean", "best_lo",
           "best_hi", "best_baseline", "baseline_mean", "winners", "closest", "closest_diff", "closest_lo",
           "closest_hi", "closest_separated", "closest_against", "probe_mean", "probe_share"]


def family(task_id: str) -> str:
    """A task's family: its id up to the first slash (``lowdata/lensbench-v2-250`` -> ``lowdata``)."""
    return task_id.split("/", 1)[0]


def _group_result(rows: pd.DataFrame) -> dict:
    """One PINN group's comparisons that the verdict reads: {comparison label: row} of the full model."""
    full = rows["a"].iloc[0]
    out = {}
    for r in rows.to_dict("records"):
        if r["a"] != full:
            continue
        what = "baseline" if r["comparison"].startswith("vs best baseline") else r["comparison"]
        out[what] = r
    return out


def _wins(result: dict) -> bool:
    needed = [*PHYSICS_OFF, "baseline"]
    return all(k in result and result[k]["separated"] and result[k]["diff"] > 0 for k in needed)


def table(agg: pd.DataFrame, ablations: dict) -> pd.DataFrame:
    """``COLUMNS``, one row per ranked protocol-v2 table of the aggregate ``agg``; ``ablations``:
    ``ablation.by_table`` of the same records."""
    rows = []
    for k, t in iter_tables(agg):
        if not (is_v2(t) and ranked(t)):
            continue
        hib = bool(t["higher_is_better"].iloc[0])
        order = t.sort_values(["mean", "model"], ascending=[not hib, True])
        best = order.iloc[0]
        base = order[order["family"] == "baseline"]
        metric = t["primary_metric"].iloc[0]
        row = {"family": family(k["task"]), "task": k["task"], "preset": k["preset"], "metric": metric,
               "higher_is_better": hib, "n_models": len(t), "best": best["model"], "best_mean": best["mean"],
               "best_lo": best["ci_lo"], "best_hi": best["ci_hi"],
               "best_baseline": base["model"].iloc[0] if len(base) else None,
               "baseline_mean": base["mean"].iloc[0] if len(base) else math.nan,
               "winners": [], "closest": None, "closest_diff": math.nan, "closest_lo": math.nan,
               "closest_hi": math.nan, "closest_separated": None, "closest_against": None,
               "probe_mean": math.nan, "probe_share": math.nan}
        abl = ablations.get(table_key(k))
        if abl is not None and not abl.empty:
            results = {g: _group_result(rows_) for g, rows_ in abl.groupby("group", sort=True)}
            row["winners"] = sorted(results[g]["baseline"]["a"] for g in results if _wins(results[g]))
            scored = [(r["baseline"]["diff"], g) for g, r in results.items()
                      if "baseline" in r and not math.isnan(r["baseline"]["diff"])]
            if scored:
                _, g = max(scored)
                c = results[g]["baseline"]
                row.update(closest=c["a"], closest_diff=c["diff"], closest_lo=c["ci_lo"], closest_hi=c["ci_hi"],
                           closest_separated=c["separated"], closest_against=c["b"])
        probe = t[t["model"] == PROBE]
        if len(probe) and metric in CHANCE:
            p, chance = float(probe["mean"].iloc[0]), CHANCE[metric]
            row["probe_mean"] = p
            lift = float(best["mean"]) - chance
            row["probe_share"] = (p - chance) / lift if lift > 0 else math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _named(value) -> bool:
    """Whether a name column holds a name (pandas turns a missing one into NaN once another row has one)."""
    return isinstance(value, str)


def _pinn_cell(r) -> str:
    if r["winners"]:
        return "yes: " + ", ".join(f"`{w}`" for w in r["winners"])
    if not _named(r["closest"]):
        return "no PINN ablation on this table"
    return "no"


def _closest_cell(r) -> str:
    if not _named(r["closest"]):
        return "–"
    sep = "separated" if r["closest_separated"] else "not separated"
    return (f"`{r['closest']}` {r['closest_diff']:+.4f} [{r['closest_lo']:+.4f}, {r['closest_hi']:+.4f}] "
            f"vs `{r['closest_against']}`, {sep}")


def _probe_cell(r) -> str:
    if math.isnan(r["probe_mean"]):
        return "–"
    share = "" if math.isnan(r["probe_share"]) else f" ({max(r['probe_share'], 0):.0%} of the best model's lift)"
    return f"{fmt(r['probe_mean'])}{share}"


def sentence(r) -> str:
    """Plain words for one table's row."""
    out = (f"**{r['task']}** ({r['preset']}): best `{r['best']}` {fmt(r['best_mean'])} "
           f"[{fmt(r['best_lo'])}, {fmt(r['best_hi'])}]")
    if _named(r["best_baseline"]) and r["best_baseline"] != r["best"]:
        out += f"; best baseline `{r['best_baseline']}` {fmt(r['baseline_mean'])}"
    out += ". "
    if r["winners"]:
        out += (", ".join(f"`{w}`" for w in r["winners"]) + " beats both its physics-off variants and the best "
                "baseline, each separated (paired by seed, Holm-adjusted). ")
    elif _named(r["closest"]):
        out += ("No PINN beats both its physics-off variants and the best baseline with separation; the closest "
                f"to the best baseline is {_closest_cell(r)}. ")
    if not math.isnan(r["probe_mean"]):
        out += f"The global-statistics probe scores {_probe_cell(r)}."
    if not _named(r["closest"]) and not r["winners"]:
        out += " No PINN's 2x2 ablation is on this table yet."
    return out.strip()


INTRO = ("Generated from the protocol-v2 tables: paired seeds, two-level bootstrap intervals, Holm-adjusted paired "
         "tests (a difference is *separated* when the adjusted p < 0.05, the p-value being the larger of a paired "
         "t-test over seeds and the bootstrap's over seeds and test items). A PINN counts only where it beats its "
         "variant without the lens equation (same supervision), its variant with neither, and the best baseline, "
         "all three separated.")
HEADER = ["family", "task · preset", "best model (95% CI)",
          "a PINN beats its physics-off variants and the best baseline?",
          "PINN closest to the best baseline: difference [95% CI]", "global-stats probe"]


def cells(rows: pd.DataFrame) -> tuple[list[str], list[list[tuple[str, object]]]]:
    """Header and (text, sort key) cells of the verdict rows ``rows`` (``table``), for Markdown and HTML."""
    out = []
    for r in rows.to_dict("records"):
        out.append([(r["family"], r["family"]), (f"{r['task']} · {r['preset']}", r["task"]),
                    (f"{r['best']} {fmt(r['best_mean'])} [{fmt(r['best_lo'])}, {fmt(r['best_hi'])}]", r["best_mean"]),
                    (_pinn_cell(r).replace("`", ""), len(r["winners"])),
                    (_closest_cell(r).replace("`", ""), -1e9 if math.isnan(r["closest_diff"]) else r["closest_diff"]),
                    (_probe_cell(r), -1e9 if math.isnan(r["probe_mean"]) else r["probe_mean"])])
    return HEADER, out


def summary(rows: pd.DataFrame) -> str:
    """The one-line count: on how many task families a PINN wins a table."""
    fams = rows.groupby("family", sort=False)
    won = [f for f, g in fams if any(len(w) for w in g["winners"])]
    return f"A PINN wins on {len(won)} of {len(fams)} task families" + (f" ({', '.join(won)})." if won else ".")


def markdown(agg: pd.DataFrame, ablations: dict) -> str:
    """The verdict section (no heading) as Markdown; "" when the board has no ranked protocol-v2 table."""
    rows = table(agg, ablations)
    if rows.empty:
        return ""
    lines = [INTRO, ""] + md_table(*cells(rows)) + ["", summary(rows), ""]
    lines += [f"- {sentence(r)}" for r in rows.to_dict("records")]
    return "\n".join(lines) + "\n"
