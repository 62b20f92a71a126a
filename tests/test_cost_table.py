"""The cost section (``lensbench.board.cost``): CPU-hours from the records' own times and threads; an
evaluation-only record counts its evaluation only; GPU runs apart."""

from __future__ import annotations

import dataclasses
import math

from test_leaderboard_protocol import rec

from lensbench.board import cost
from lensbench.board.aggregate import aggregate, records_frame
from lensbench.board.markdown import render_markdown


def test_cpu_hours_per_task_and_minutes_per_run():
    base = [dataclasses.replace(rec("a", s, 0.8), train_time_s=3600.0, eval_time_s=360.0,
                                hardware={"torch_threads": 1, "device": "cpu"}) for s in range(2)]
    two_threads = [dataclasses.replace(rec("b", 0, 0.7), train_time_s=1800.0, eval_time_s=0.0,
                                       hardware={"torch_threads": 2, "device": "cpu"})]
    derived = [dataclasses.replace(r, task="domain-shift/x", source_task=r.task, eval_time_s=36.0) for r in base]
    gpu = [dataclasses.replace(rec("c", 0, 0.9), train_time_s=7200.0, eval_time_s=0.0,
                               hardware={"torch_threads": 1, "device": "cuda:0"})]
    failed = [dataclasses.replace(rec("d", 0, 0.5), status="failed", train_time_s=1e6)]
    f = cost.frame(base + two_threads + derived + gpu + failed)
    tasks = cost.by_task(f).set_index("task")
    assert math.isclose(tasks.loc["substructure/model1", "cpu_h"], 2 * 1.1 + 1.0)  # 2 x (1 h + 0.1 h) + 0.5 h x 2
    assert math.isclose(tasks.loc["substructure/model1", "gpu_h"], 2.0) and tasks.loc["substructure/model1", "runs"] == 4
    assert math.isclose(tasks.loc["domain-shift/x", "cpu_h"], 2 * 0.01)  # evaluation only
    assert math.isclose(tasks.loc["total", "cpu_h"], 3.2 + 0.02) and tasks.loc["total", "runs"] == 6
    per_run = cost.per_run(f)
    assert math.isclose(per_run.loc["a", "substructure/model1 · quick"], 66.0)
    assert math.isclose(per_run.loc["a", "domain-shift/x · quick"], 0.6)
    md = render_markdown(aggregate(records_frame(base + two_threads)), "v2", cost=cost.markdown(base + two_threads))
    assert md.index("## Cost of these runs") > md.index("## Overview")
    assert "| substructure/model1 | quick | 3 | 3.20 | 0.00 |" in md and "| total |  | 3 | 3.20 | 0.00 |" in md
    assert cost.markdown(failed) == ""
