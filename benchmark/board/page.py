"""The leaderboard as one static HTML page that works opened from disk (no network, inline CSS/JS).
``render_page`` returns the page's text (``board.render`` writes it as ``leaderboard.html``).

Sections: an overview (models x tables), then per leaderboard table its sortable table, its figures
(95% CI plot, macro ROC, metric per slice bin; PNGs referenced relatively, e.g. ``plots/…``) and its
metric-per-bin tables, and at the end the datasets' example-image galleries (``gallery/…``).
A family selector hides the rows of other families in every table.

Markup the browser check (``lensbench.board.htmlcheck``) relies on: each leaderboard table is
``<table class="board">`` with ``data-task``, ``data-task-version``, ``data-preset``, ``data-fp`` and
``data-test-fp``; model rows carry ``data-family``; each cell's sort key is its ``data-v``.
"""

from __future__ import annotations

import html

import pandas as pd

from lensbench.board import ablation, cells, learning, verdict
from lensbench.board.aggregate import RANK_RULE, iter_tables, table_key
from lensbench.board.curves import select_models

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:1400px}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:2.5rem;border-top:1px solid #ddd;padding-top:1rem}
h3{font-size:.95rem;margin:1rem 0 .3rem 0}
table{border-collapse:collapse;margin:.5rem 0 1rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}td{white-space:nowrap}
th{background:#f0f0f0;cursor:pointer;user-select:none}th:hover{background:#e0e0ff}
th[data-dir=asc]::after{content:" \\25B2"}th[data-dir=desc]::after{content:" \\25BC"}
table.board td:nth-child(2),table.board td:nth-child(3),table.overview td:nth-child(1),
table.overview td:nth-child(2),table.slices td:nth-child(1){text-align:left}
tr.rank1 td{background:#f3fbf3}.note{color:#555;font-size:.85rem;max-width:60rem}
.figs{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}
figure{margin:0}figure img{max-width:100%;border:1px solid #eee}
.figs figure{max-width:560px}.figs figure.wide{max-width:1100px}
figcaption{font-size:.8rem;color:#555;max-width:560px}
.toc{font-size:.85rem;columns:2}.missing{color:#a33;font-size:.85rem}.scroll{overflow-x:auto}
"""

_JS = """
function sortTable(th){
  const table=th.closest('table'), idx=[...th.parentNode.children].indexOf(th);
  const body=table.tBodies[0], rows=[...body.rows];
  const asc=th.dataset.dir!=='asc'; th.parentNode.querySelectorAll('th').forEach(h=>delete h.dataset.dir);
  th.dataset.dir=asc?'asc':'desc';
  const key=r=>{const v=r.cells[idx].dataset.v; const n=parseFloat(v); return v===''?null:(isNaN(n)?v:n);};
  rows.sort((a,b)=>{const x=key(a),y=key(b); if(x===null&&y===null) return 0; if(x===null) return 1;
    if(y===null) return -1;
    const c=(typeof x==='number'&&typeof y==='number')?x-y:String(x).localeCompare(String(y));
    return asc?c:-c;});
  rows.forEach(r=>body.appendChild(r));
}
function filterFamily(sel){
  document.querySelectorAll('tr[data-family]').forEach(r=>{
    r.style.display=(sel.value===''||r.dataset.family===sel.value)?'':'none';});
}
document.querySelectorAll('th').forEach(th=>th.addEventListener('click',()=>sortTable(th)));
"""

e = html.escape


def table_anchor(k: dict) -> str:
    s = f"t-{k['task']}-v{k['task_version']}-{k['preset']}-{k['dataset_fingerprint'][:8]}"
    if k["test_dataset_fingerprint"]:
        s += f"-{k['test_dataset_fingerprint'][:8]}"
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in s)


def _html_table(header: list[str], rows: list[list[tuple[str, float | str]]], family_col: int | None,
                highlight_rank1: bool = False, attrs: str = "") -> str:
    parts = [f"<table{attrs}><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead><tbody>"]
    for row in rows:
        fam = f' data-family="{e(str(row[family_col][1]))}"' if family_col is not None else ""
        cls = ' class="rank1"' if highlight_rank1 and row[0][1] == 1 else ""
        cells = "".join(f'<td data-v="{e(str(v))}">{e(str(text))}</td>' for text, v in row)
        parts.append(f"<tr{fam}{cls}>{cells}</tr>")
    parts.append("</tbody></table>")
    return "\n".join(parts)


def _figure(src: str, alt: str, caption: str, wide: bool = False) -> str:
    cls = ' class="wide"' if wide else ""
    return (f'<figure{cls}><img src="{e(src)}" alt="{e(alt)}"><figcaption>{e(caption)}</figcaption></figure>')


def _board_attrs(k: dict) -> str:
    return (f' class="board" data-task="{e(k["task"])}" data-task-version="{int(k["task_version"])}" '
            f'data-preset="{e(k["preset"])}" data-fp="{e(k["dataset_fingerprint"])}" '
            f'data-test-fp="{e(k["test_dataset_fingerprint"] or "")}"')


def _section(k: dict, t: pd.DataFrame, suite: str, tc, figs: dict[str, str], galleries, abl=None,
             lc=None) -> list[str]:
    metric = t["primary_metric"].iloc[0]
    direction = "higher is better" if t["higher_is_better"].iloc[0] else "lower is better"
    out = [f'<h2 id="{table_anchor(k)}">{e(cells.title(k, suite))}</h2>',
           f'<p class="note">Suite {e(suite)}; task version {int(k["task_version"])}; primary metric '
           f"<code>{e(metric)}</code> ({direction}); dataset fingerprint <code>{e(k['dataset_fingerprint'])}</code>"
           + (f"; test dataset fingerprint <code>{e(k['test_dataset_fingerprint'])}</code>"
              if k["test_dataset_fingerprint"] else "") + "." + (f" {e(cells.ci_note(t))}" if cells.ci_note(t) else "")
           + "</p>"]
    header, rows = cells.table_rows(t)
    out.append(_html_table(header, rows, family_col=2, highlight_rank1=True, attrs=_board_attrs(k)))
    if abl is not None:  # each PINN's 2x2 (``board.ablation``)
        out += [f'<p class="note">{e(ablation.CAPTION)}</p>',
                _html_table(*ablation.cells(abl), family_col=None, attrs=' class="ablation"')]
    if lc is not None and lc.seeds and cells.is_v2(t):  # convergence of the validation curves
        out += [f'<p class="note">{e(learning.CAPTION)}</p>',
                _html_table(*learning.cells(t, lc), family_col=None, attrs=' class="learning"')]
    fig_html = []
    if "ci" in figs:
        fig_html.append(_figure(figs["ci"], f"{k['task']} CI plot", f"{metric}: mean and 95% CI over seeds, "
                                "coloured by family."))
    if "roc" in figs:
        fig_html.append(_figure(figs["roc"], f"{k['task']} ROC", "Macro-average one-vs-rest ROC (test set), mean "
                                "over seeds with ± std band; the leaders plus every PINN and its physics-off twin "
                                "(dashed, same colour)."))
    if "slices" in figs:
        fig_html.append(_figure(figs["slices"], f"{k['task']} slices", f"{metric} per test-set quantile bin of a "
                                "dataset column; error bars = std over seeds.", wide=True))
    if "learning" in figs:
        fig_html.append(_figure(figs["learning"], f"{k['task']} validation curves", "Validation selection metric "
                                "against training images seen, mean over seeds with ± std band."))
    if fig_html:
        out.append('<div class="figs">' + "\n".join(fig_html) + "</div>")
    if tc is not None:
        for sc in tc.slices.values():
            models = select_models(t, set(sc.values))
            header, rows = cells.slice_cells(sc, models)
            out.append(f"<h3>{e(metric)} per <code>{e(sc.column)}</code> bin (mean ± std over seeds)</h3>")
            out.append(_html_table(header, rows, family_col=None, attrs=' class="slices"'))
    mine = [g for g in galleries if table_key(k) in g.tables]
    if mine:
        out.append('<p class="note">Example images: ' + ", ".join(
            f'<a href="#{e(g.anchor)}">{e(g.dataset)}</a>' for g in mine) + "</p>")
    return out


def _gallery_section(galleries) -> list[str]:
    if not galleries:
        return []
    out = ['<h2 id="gallery">Datasets: example images</h2>',
           ('<p class="note">One row per class (first examples of the split), as written by '
            "<code>lensbench data show NAME</code>.</p>"), '<div class="figs">']
    for g in galleries:
        if g.path is not None:
            caption = f"{g.dataset}, fingerprint {g.fingerprint[:12]}; used by {len(g.tables)} table(s)"
            out.append(f'<div id="{e(g.anchor)}">'
                       + _figure(f"gallery/{g.path.name}", f"{g.dataset} examples", caption) + "</div>")
    out.append("</div>")
    missing = [g for g in galleries if g.path is None]
    if missing:  # no cache paths here: the page is committed
        out.append('<ul class="missing">' + "".join(
            f'<li id="{e(g.anchor)}">{e(g.dataset)} (fingerprint {e(g.fingerprint[:12])}): no example images '
            f"in the dataset cache; make them with <code>{e(g.command)}</code>, then rerun "
            "<code>lensbench leaderboard --gallery</code></li>" for g in missing) + "</ul>")
    return out


def _verdict_section(agg: pd.DataFrame, ablations: dict) -> list[str]:
    """The verdict (``board.verdict``) as a table and sentences; nothing without protocol-v2 tables."""
    rows = verdict.table(agg, ablations)
    if rows.empty:
        return []
    header, body = verdict.cells(rows)
    items = "".join(f"<li>{e(verdict.sentence(r).replace('**', '').replace('`', ''))}</li>"
                    for r in rows.to_dict("records"))
    return [f'<h2 id="verdict">{e(verdict.HEADING)}</h2>', f'<p class="note">{e(verdict.INTRO)}</p>',
            '<div class="scroll">' + _html_table(header, body, family_col=None, attrs=' class="verdict"') + "</div>",
            f"<p>{e(verdict.summary(rows))}</p>", f"<ul>{items}</ul>"]


def render_page(agg: pd.DataFrame, title: str = "LensBench leaderboard", suite: str = "v1",
                curves: dict | None = None, figures: dict | None = None, galleries=(),
                ablations: dict | None = None, learning_curves: dict | None = None) -> str:
    """The page's HTML (sortable tables, a family filter). ``curves``: table key -> ``curves.TableCurves``
    (slice tables); ``figures``: table key -> {"ci"|"roc"|"slices": path relative to the page};
    ``galleries``: ``gallery.Gallery`` items; ``ablations``: table key -> ``ablation.table`` rows."""
    curves, figures, ablations, curves_val = curves or {}, figures or {}, ablations or {}, learning_curves or {}
    body = [f"<h1>{e(title)}</h1>"]
    if agg.empty:
        body.append("<p>No results yet.</p>")
    else:
        families = sorted(agg["family"].unique())
        opts = '<option value="">all</option>' + "".join(f'<option value="{e(f)}">{e(f)}</option>' for f in families)
        tables = list(iter_tables(agg))
        toc = "".join(f'<li><a href="#{table_anchor(k)}">{e(cells.title(k, suite))}</a></li>' for k, _ in tables)
        if galleries:
            toc += '<li><a href="#gallery">Datasets: example images</a></li>'
        body += [
            (f'<p class="note">Mean ± std over seeds (n); 95% CI is the t-interval of the mean. {e(RANK_RULE)} '
             "Tables never mix task versions, presets or dataset fingerprints. Click a column header to sort.</p>"),
            f'<ul class="toc">{toc}</ul>',
            f'<label>Family: <select id="family" onchange="filterFamily(this)">{opts}</select></label>',
        ]
        body += _verdict_section(agg, ablations)
        body.append("<h2>Overview (primary metric, mean over seeds, #rank)</h2>")
        header, rows = cells.overview(agg)
        body.append('<div class="scroll">' + _html_table(header, rows, family_col=1, attrs=' class="overview"')
                    + "</div>")
        for k, t in tables:
            body += _section(k, t, suite, curves.get(table_key(k)), figures.get(table_key(k), {}), galleries,
                             ablations.get(table_key(k)), curves_val.get(table_key(k)))
        body += _gallery_section(galleries)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + f"\n<script>{_JS}</script></body></html>\n")
