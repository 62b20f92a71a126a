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


def test_cpu_seconds_of_the_process_replace_wall_clock_times_threads():
    """A record since schema 4 is priced by its process's CPU seconds (a pause or an oversubscribed machine
    inflates only the wall clock); an older one by wall clock x threads; a GPU run by its wall clock."""
    paused = dataclasses.replace(rec("a", 0, 0.8), train_time_s=7200.0, eval_time_s=720.0, train_cpu_s=3600.0,
                                 eval_cpu_s=360.0, hardware={"torch_threads": 2, "device": "cpu"})
    old = dataclasses.replace(paused, seed=1, train_cpu_s=None, eval_cpu_s=None)
    gpu = dataclasses.replace(paused, model="c", train_time_s=1800.0, train_cpu_s=99.0, eval_time_s=0.0, eval_cpu_s=9.0,
                              hardware={"torch_threads": 1, "device": "cuda:0"})
    derived = dataclasses.replace(paused, task="domain-shift/x", source_task=paused.task)
    assert cost.seconds(paused) == (3600.0, 360.0)
    assert cost.seconds(old) == (14400.0, 1440.0)
    assert cost.seconds(gpu) == (1800.0, 0.0)
    assert cost.seconds(derived) == (0.0, 360.0)
    f = cost.frame([paused, old, gpu]).set_index(["model", "seed"])
    assert math.isclose(f.loc[("a", 0), "cpu_h"], 1.1) and math.isclose(f.loc[("a", 1), "cpu_h"], 4.4)
    assert math.isclose(f.loc[("c", 0), "gpu_h"], 0.5) and f.loc[("c", 0), "cpu_h"] == 0.0
    curve = [{"epoch": 1, "images_seen": 1800}, {"epoch": 2, "images_seen": 3600}]
    r = cost.rates([dataclasses.replace(paused, curve=curve)])
    assert math.isclose(r["train_s_per_image"].iloc[0], 1.0) and math.isclose(r["eval_s"].iloc[0], 360.0)


def test_standard_projection_scales_measured_per_image_cost_and_packs_gpus():
    """Medium on lensbench-v2: 4,000 training images per class (3 classes), test 2,000; standard: 20,000 and
    5,000, 30 epochs. 0.01 core-s per image -> 30 x 60,000 x 0.01 s = 5 h, plus 72 s of evaluation x 2.5."""
    curve = [{"epoch": 1, "images_seen": 12000}, {"epoch": 8, "images_seen": 96000}]
    cpu = [dataclasses.replace(rec("a", s, 0.8, task="substructure/lensbench-v2"), preset="medium", curve=curve,
                               train_time_s=960.0, eval_time_s=72.0, hardware={"torch_threads": 1, "device": "cpu"})
           for s in range(3)]
    b = [dataclasses.replace(r, model="b") for r in cpu]
    runs = cost.standard_runs(cpu + b, cost.registered_task)
    assert len(runs) == 6 and runs["gpu_h"].isna().all()
    assert math.isclose(runs["cpu_h"].iloc[0], 5.0 + 72 * 2.5 / 3600)
    md = cost.projection_markdown(cpu + b, cost.registered_task)
    assert "| substructure/lensbench-v2 | 6 | 30.3 | – |" in md and "No GPU record yet for 2 model(s) (a, b)" in md

    gpu = [dataclasses.replace(cpu[0], seed=9, train_time_s=96.0,  # 0.001 s per image on a GPU: 0.5 h per run
                               hardware={"torch_threads": 8, "device": "cuda:0"})]
    gpu_b = [dataclasses.replace(gpu[0], model="b", train_time_s=192.0)]  # 1 h per run
    runs = cost.standard_runs(cpu + b + gpu + gpu_b, cost.registered_task)
    assert sorted(runs["gpu_h"].round(6).unique()) == [0.5, 1.0]  # the GPU records set each model's rate
    assert len(runs) == 6  # GPU records give rates, not cells: the cells are the CPU records'
    md = cost.projection_markdown(cpu + b + gpu + gpu_b, cost.registered_task)
    # 4.5 GPU-hours; 1 GPU: 4.5 h; 4 GPUs: 1,1,1 | .5+.5+.5 -> 1.5 h; 16 GPUs: the longest run, 1 h
    assert "| 4.5 | 4.5 | 1.5 | 1.0 |" in md and "No GPU record" not in md
    assert cost.makespan([3, 3, 2, 2, 2], 2) == 7 and cost.makespan([], 4) == 0  # greedy: 3+2+2 | 3+2 (best is 6)
    assert cost.standard_runs([dataclasses.replace(cpu[0], task="not/registered")], cost.registered_task).empty


def test_standard_projection_of_a_low_data_task_counts_its_training_set_not_its_epoch():
    """lowdata/lensbench-v2-250 at medium: 750 training images, epochs of 16 passes (12,000 images,
    ``Budget.eval_every``); standard trains 30 epochs on the same 250 per class: 30 x 750 x 0.01 s."""
    curve = [{"epoch": 1, "images_seen": 12000}, {"epoch": 8, "images_seen": 96000}]
    r = dataclasses.replace(rec("a", 0, 0.6, task="lowdata/lensbench-v2-250"), preset="medium", curve=curve,
                            train_time_s=960.0, eval_time_s=0.0, hardware={"torch_threads": 1, "device": "cpu"})
    runs = cost.standard_runs([r], cost.registered_task)
    assert math.isclose(runs["cpu_h"].iloc[0], 30 * 750 * 0.01 / 3600)


def test_remaining_prices_runs_left_from_the_records():
    """sweep --status's CPU-hours left: the model's own mean at the task and preset; else its mean at the
    preset on another task; else its cost per image x the images the preset sees; an evaluation-only
    task costs nothing; a model with no trained record is listed, not priced."""
    curve = [{"epoch": 1, "images_seen": 12000}, {"epoch": 8, "images_seen": 96000}]
    main = [dataclasses.replace(rec("a", s, 0.8, task="substructure/lensbench-v2"), preset="medium", curve=curve,
                                train_time_s=3600.0 * (1 + s), eval_time_s=0.0,
                                hardware={"torch_threads": 1, "device": "cpu"}) for s in range(2)]  # 1 h, 2 h
    rows = [{"task": "substructure/lensbench-v2", "preset": "medium", "todo": {"a": 3, "z": 2}},
            {"task": "lowdata/lensbench-v2-250", "preset": "medium", "todo": {"a": 2}},  # the preset's mean
            {"task": "substructure/lensbench-v2", "preset": "quick", "todo": {"a": 1}},  # per image
            {"task": "domain-shift/euclid-to-hst-v2", "preset": "medium", "todo": {"a": 5, "z": 1}}]
    left, unpriced = cost.remaining(rows, main)
    quick = cost.registered_task("substructure/lensbench-v2").preset("quick")
    images = (quick.budget.images_seen or quick.budget.epochs * quick.train_per_class * 3)
    per_image = 1.5 * 3600 / 96000  # the median of 1 h and 2 h over 96,000 images
    assert math.isclose(left[0], 3 * 1.5) and math.isclose(left[1], 2 * 1.5)
    assert math.isclose(left[2], images * per_image / 3600) and left[3] == 0.0
    assert unpriced == {"z": 2}
    # a model with no record here is priced per image from the reference records (a frozen snapshot's),
    # a record without a learning curve (older schema) by the images its task's preset sees
    old = dataclasses.replace(rec("z", 0, 0.7, task="substructure/lensbench-v2"), preset="quick", curve=[],
                              train_time_s=images * 0.01, eval_time_s=5.0, hardware={"torch_threads": 2, "device": "cpu"})
    assert math.isclose(cost.per_image_cost([old])["z"], 0.02)
    left, unpriced = cost.remaining(rows, main, reference=[old, dataclasses.replace(old, model="a", train_time_s=1e9)])
    assert math.isclose(left[0], 3 * 1.5 + 2 * 96000 * 0.02 / 3600) and unpriced == {}
    assert math.isclose(left[2], images * per_image / 3600)  # a's own records win over the reference's
