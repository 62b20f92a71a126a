"""The leaderboard as Markdown: an overview (models x tables), then one table per leaderboard table
with its figure links and metric-per-bin tables; and the physics table (each PINN beside its
physics-off twin). Pure functions of the aggregate: ``board.render`` writes the files.
"""

from __future__ import annotations

import pandas as pd

from lensbench.board import ablation, learning, verdict
from lensbench.board.aggregate import RANK_RULE, iter_tables, table_key
from lensbench.board.cells import (
    ci_note,
    fmt,
    is_v2,
    md_table,
    overview,
    ranked,
    slice_cells,
    table_rows,
    title,
)
from lensbench.board.curves import select_models, twin_of

FIGURE_NAMES = {"ci": "95% CI plot", "roc": "ROC curves (macro one-vs-rest, mean over seeds)",
                "slices": "metric per bin", "learning": "validation curves against images seen"}


def render_markdown(agg: pd.DataFrame, suite: str = "v1", curves: dict | None = None, figures: dict | None = None,
                    galleries=(), ablations: dict | None = None, learning_curves: dict | None = None,
                    cost: str = "") -> str:
    """The leaderboard as Markdown: an overview (models x tasks) then one table per task table.

    Optional extras per table (keyed by ``aggregate.table_key``): ``curves`` (``curves.collect``) adds
    a metric-per-bin table for each slice column; ``figures`` ({"ci"|"roc"|"slices": path relative to
    the Markdown file}) adds links to the PNGs; ``galleries`` (``gallery.Gallery`` items) adds links to
    the datasets' example images; ``ablations`` (``ablation.by_table``: rows per table) adds each
    table's 2x2 ablation verdicts; ``learning_curves`` (``learning.collect``) the convergence table of the
    validation curves under each protocol-v2 table; ``cost`` (``cost.markdown``) a closing section. Protocol-v2 tables of unranked tasks (``TaskSpec.ranked`` False:
    an out-of-distribution indicator; ``cells.ranked``) come last, under their own heading, without ranks."""
    curves, figures, ablations, curves_val = curves or {}, figures or {}, ablations or {}, learning_curves or {}
    out = [f"# LensBench leaderboard — suite {suite}", ""]
    if agg.empty:
        return "\n".join(out + ["No results yet.", ""])
    out += [
        "Numbers are test metrics at the checkpoint selected on validation, as mean ± standard deviation "
        "over seeds (n = number of seeds); 95% CI is the t-interval of the mean. " + RANK_RULE,
        "Tables never mix task versions, presets or dataset fingerprints."
        + (" Tables whose records carry test-item replicates (protocol v2) say so in their caption: their CI "
           "and ranks come from the two-level bootstrap and paired tests with the best model instead."
           if "ci_method" in agg else ""),
        "",
    ]
    said = verdict.markdown(agg, ablations)
    if said:
        out += [f"## {verdict.HEADING}", "", said]
    out += ["## Overview (primary metric, mean over seeds, #rank)", ""]
    out += md_table(*overview(agg)) + [""]
    tables = sorted(iter_tables(agg), key=lambda kt: not ranked(kt[1]))  # stable: ranked tables first
    indicators = False
    for k, t in tables:
        if not ranked(t) and not indicators:
            indicators = True
            out += ["## Out-of-distribution indicators (not ranked)", "",
                    ("These test sets differ from the training data in ways the task does not control (e.g. "
                     "display images framed differently per class); their numbers indicate behaviour out of "
                     "distribution and are not ranked."), ""]
        metric = t["primary_metric"].iloc[0]
        direction = "higher is better" if t["higher_is_better"].iloc[0] else "lower is better"
        note = f"Primary metric: `{metric}` ({direction}). Dataset fingerprint `{k['dataset_fingerprint']}`."
        note += f" {ci_note(t)}" if ci_note(t) else ""
        out += [f"## {title(k, suite)}", "", note, ""]
        out += md_table(*table_rows(t)) + [""]
        key = table_key(k)
        if key in ablations:
            out += [ablation.CAPTION, "", ablation.markdown(ablations[key]), ""]
        if key in curves_val and is_v2(t) and curves_val[key].seeds:
            out += [learning.CAPTION, ""] + md_table(*learning.cells(t, curves_val[key])) + [""]
        out += _extras(key, t, curves.get(key), figures.get(key, {}), galleries)
    if cost:
        out += ["## Cost of these runs", "", cost]
    return "\n".join(out)


def _extras(key: tuple, t: pd.DataFrame, tc, figs: dict, galleries) -> list[str]:
    """Figure links, gallery links and metric-per-bin tables under one table."""
    out = []
    links = [f"[{FIGURE_NAMES[kind]}]({figs[kind]})" for kind in FIGURE_NAMES if kind in figs]
    links += [f"[example images: {g.dataset}]({g.path.parent.name}/{g.path.name})" for g in galleries
              if key in g.tables and g.path is not None]
    if links:
        out += ["Figures: " + " · ".join(links), ""]
    metric = t["primary_metric"].iloc[0]
    for sc in (tc.slices.values() if tc is not None else ()):
        out += [(f"`{metric}` per `{sc.column}` bin (test-set quantiles; mean ± std over seeds; top models, "
                 "PINNs and their physics-off twins):"), ""]
        out += md_table(*slice_cells(sc, select_models(t, set(sc.values)))) + [""]
    return out


def physics_table(agg: pd.DataFrame) -> str:
    """Markdown: each PINN beside its physics-off twin (and the best baseline) in every table where
    both ran: what the physics adds, with whether the 95% CIs separate them. "" when there is no pair."""
    lines = ["| task | PINN | PINN mean ± std | physics-off twin mean ± std | PINN − twin | 95% CIs separate? | best baseline |",
             "|---|---|---|---|---|---|---|"]
    for _, t in iter_tables(agg):
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
                f"| {r['task']} | {name} | {fmt(r['mean'])} ± {fmt(r['std'])} | {fmt(w['mean'])} ± {fmt(w['std'])} "
                f"| {r['mean'] - w['mean']:+.4f} | {'yes' if apart else 'no'} | "
                + (f"{best['model']} {fmt(best['mean'])} ± {fmt(best['std'])}" if best is not None else "–") + " |")
    return "\n".join(lines) + "\n" if len(lines) > 2 else ""


def results_section(agg: pd.DataFrame, source: str, command: str, suite: str = "v1",
                    ablations: dict | None = None, board: str | None = None) -> str:
    """A results section for a Markdown document such as the README (``lensbench leaderboard --readme
    FILE``): the verdict (protocol-v2 tables), else the physics table (each PINN beside its twin), then
    the overview and a link to the full ``board`` (the leaderboard Markdown, relative to the document),
    saying which records (``source``) and which ``command`` made it."""
    said = verdict.markdown(agg, ablations or {}) if not agg.empty else ""
    physics = "" if said else physics_table(agg)
    out = [(f"_Generated from the records in `{source}` (suite {suite}) by `lensbench leaderboard --readme`; "
           f"reproduce the records with `{command}`._"), ""]
    if said:
        out += [f"### {verdict.HEADING}", "", said.rstrip("\n"), ""]
    elif physics:
        out += ["### What the physics adds (each PINN vs its physics-off twin)", "",
                ("Same network and parameter count; the twin replaces the lens equation by the identity and drops "
                "the physics loss terms. Higher is better for AUC, lower for MSE."), "", physics]
    if not agg.empty:
        out += ["### Overview (primary metric, mean over seeds, #rank)", ""] + md_table(*overview(agg)) + [""]
    if board:
        out += [(f"Every table with its intervals, paired tests, ablations, learning curves, slices and cost: "
                f"[{board}]({board})."), ""]
    return "\n".join(out)
