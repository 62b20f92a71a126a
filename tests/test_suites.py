"""Suites (``lensbench sweep --suite``, registered through ``lensbench.suites``) and sharded sweeps."""

from __future__ import annotations

import dataclasses

import pytest

from lensbench import records, registry
from lensbench.cli import main
from lensbench.run import grid
from lensbench.run.grid import parse_shard
from lensbench.specs import SpecError
from lensbench.suite_specs import SuiteSpec


def test_v1_suite_names_only_registered_tasks_and_models_and_covers_all_of_them():
    v1 = registry.suites.get("v1")
    assert v1.preset == "quick"
    for t in v1.tasks:
        registry.tasks.get(t)
    for m in v1.models:
        registry.models.get(m)
    later = {t for name in ("shortcut-free", "v2") for t in registry.suites.get(name).tasks}
    assert set(v1.tasks) | later == {t.id for t in registry.tasks.all()}  # every task is in a suite
    assert set(v1.tasks) & later == {"lens-finding/hsc", "lens-finding/cfhtls"}  # the real data, in both
    added_after_v1 = {"global-stats"} | {f"{p}-{v}" for p in ("lens-inversion", "lensiformer", "lens-synthesis")
                                         for v in ("noaux", "nophys-aux")}  # the probe and the 2x2 ablations
    added_after_v1 |= {f"{p}{v}" for p in ("grav-imaging", "grav-resnet")
                       for v in ("", "-noaux", "-nophys-aux", "-nophys")}  # v2 PINNs
    added_after_v1 |= {"d4-cnn", "d4-cnn-nosym"}  # the D4-equivariant network and its twin
    assert {m.name for m in registry.models.all() if m.family != "user"} <= set(v1.models) | added_after_v1
    for m in v1.models:  # every PINN comes with its physics-off twin
        spec = registry.models.get(m)
        if spec.family == "pinn":
            assert spec.twin in v1.models
    n_runs = sum(len(registry.tasks.get(t).seeds) for t in v1.tasks for m in v1.models
                 if registry.models.get(m).supports(registry.tasks.get(t)))
    assert n_runs == 456  # the number leaderboards/README.md quotes


def test_shortcut_free_suite_runs_the_v2_tasks_with_every_v1_model_and_the_probe():
    v1, later = registry.suites.get("v1"), registry.suites.get("shortcut-free")
    assert later.preset == "quick" and set(later.models) == set(v1.models) | {"global-stats"}
    assert not set(later.tasks) & set(v1.tasks)
    for t in later.tasks:
        task = registry.tasks.get(t)
        assert "lensbench-v2" in (task.dataset, task.test_dataset) and task.version == 1
        if task.kind == "classification":
            assert "global-stats" in task.default_models


def test_v2_suite_allocates_seeds_and_presets_where_the_comparisons_need_them():
    from lensbench.tasks.suites import V2_CLASSIFIERS, V2_PINNS

    v2 = registry.suites.get("v2")
    main_parts = [p for p in v2.grid_parts() if "substructure/lensbench-v2" in p.tasks]
    assert [p.preset for p in main_parts] == ["medium"] * 4 + ["quick", "medium"] and all(p.why for p in main_parts)
    assert all(p.seeds == tuple(range(10)) for p in main_parts)
    pilot, with_aux, without_aux, medium, quick, vit = main_parts
    rest = dataclasses.replace(medium, models=medium.models + quick.models)
    assert vit.models == ("vit-tiny-p8",) and v2.grid_parts()[-1] is vit  # the costliest row, last
    assert v2.grid_parts()[:3] == (pilot, with_aux, without_aux)  # the pilot, then the contender's 2x2
    assert with_aux.models == ("grav-resnet", "grav-resnet-nophys-aux")  # the physics pair, aux on
    assert without_aux.models == ("grav-resnet-noaux", "grav-resnet-nophys")
    assert sum(registry.models.get(m).family == "baseline" for m in pilot.models) == 2
    assert sorted(m for m in pilot.models if m.startswith("grav-imaging")) == sorted(
        m for m in V2_PINNS if registry.models.get(m).config.get("ablation_of") == "grav-imaging")
    assert sorted(pilot.models + with_aux.models + without_aux.models + rest.models) == sorted(
        V2_CLASSIFIERS)  # every classifier once, 10 seeds
    assert "vit-tiny-p8" not in V2_CLASSIFIERS
    core = rest
    for t in ("lowdata/lensbench-v2-250", "lowdata/lensbench-v2-1000", "lens-finding/hsc"):
        parts = [p for p in v2.grid_parts() if t in p.tasks]
        assert all(len(p.seeds) == 10 for p in parts), t
        assert sorted(m for p in parts for m in p.models) == sorted(V2_CLASSIFIERS), t  # every classifier once
    low_medium = [p for p in v2.grid_parts() if "lowdata/lensbench-v2-250" in p.tasks and p.preset == "medium"]
    assert {"resnet10t", "grav-resnet", "grav-resnet-nophys-aux"} <= {m for p in low_medium for m in p.models}
    assert v2.grid_parts().index(low_medium[0]) == 3  # right after the main task's contenders
    assert all(len(p.seeds) >= 5 for p in v2.grid_parts())
    assert v2.preset == "medium" and v2.tasks[0] == "substructure/lensbench-v2"
    for t in v2.tasks:
        task = registry.tasks.get(t)
        assert task.preset("medium") and task.preset("quick")
        if task.test_dataset is None and task.kind != "anomaly" and task.dataset.startswith("lensbench"):
            assert task.preset("quick").sizes["test"] >= 2000, t  # protocol v2: >= 2,000 test images per class
    for m in v2.models:
        registry.models.get(m)
    groups = {}
    for m in V2_PINNS:
        groups.setdefault(registry.models.get(m).config["ablation_of"], []).append(m)
    assert {g: len(v) for g, v in groups.items()} == {"grav-imaging": 4, "grav-resnet": 4, "lens-inversion": 4, "lens-synthesis": 4,
                                                       "lensiformer": 4, "d4-cnn": 2}
    assert set(V2_PINNS) <= set(pilot.models + with_aux.models + without_aux.models + core.models)
    with pytest.raises(SpecError, match="parts"):
        SuiteSpec("x", "x", "quick", ("a",), ("m",), parts=core and (core,))


def test_list_suites_shows_the_parts_and_why(capsys):
    assert main(["list", "suites"]) == 0
    out = capsys.readouterr().out
    assert "| v2 " in out and "per part" in out
    assert "| lowdata/lensbench-v2-250, lowdata/lensbench-v2-1000 " in out and "| lens-finding/hsc " in out
    assert "where physics should pay off" in out


def test_unknown_suite_bad_shard_and_bad_spec_are_user_errors(capsys):
    with pytest.raises(KeyError, match="Did you mean .*'v1'"):
        registry.suites.get("v0")
    assert parse_shard("1/3") == (1, 3)
    for bad in ("3/3", "x", "1/0", "-1/2"):
        with pytest.raises(SpecError, match="--shard"):
            parse_shard(bad)
    assert main(["sweep", "--suite", "v0"]) == 2
    assert "unknown suite" in capsys.readouterr().err
    with pytest.raises(SpecError, match="distinct"):
        SuiteSpec("x", "x", "quick", ("a", "a"), ("m",))
    assert main(["list", "suites"]) == 0 and "| v1" in capsys.readouterr().out


def test_shards_split_the_suite_grid_disjointly(toy_bench, capsys):
    toy = SuiteSpec("toy", "toy grid", "quick", ("test/classification", "test/regression", "test/anomaly"),
                    ("toy-cnn",))
    registry.suites.register(toy, "test")
    try:
        common = ["--suite", "toy", "--seeds", "0", "--results", str(toy_bench.results_dir), "--tracking-uri",
                  toy_bench.tracking_uri, "--no-progress"]
        assert main(["sweep", *common, "--shard", "0/2"]) == 0
        first = {(r.task, r.model) for r in records.iter_records(toy_bench.results_dir)}
        assert first == {("test/classification", "toy-cnn")}   # toy-cnn does not do anomaly: 2 cells
        capsys.readouterr()
        assert main(["sweep", *common, "--status"]) == 0   # runs nothing, reports what is done
        out = capsys.readouterr().out
        assert "1 of 2 runs done" in out and "| test/regression" in out and "toy-cnn" in out
        assert main(["sweep", *common, "--shard", "1/2"]) == 0
        both = {(r.task, r.model) for r in records.iter_records(toy_bench.results_dir)}
        assert both == {("test/classification", "toy-cnn"), ("test/regression", "toy-cnn")}
    finally:
        registry.suites.unregister("toy")
    capsys.readouterr()


def test_the_library_builds_the_same_grid_the_cli_runs():
    """``grid.build`` is what ``lensbench sweep`` runs: a program (or another executor) gets the same cells."""
    full = grid.build(suite="v1")
    assert full.preset == "quick" and len(full) == 456  # as the suite test counts
    assert all(c.model.supports(c.task) for c in full.cells)
    assert [c.seed for c in full.cells[:3]] == [0, 1, 2] and len({c.task.id for c in full.cells[:3]}) == 1
    pairs = {(c.task.id, c.model.name) for c in full.cells}
    shards = [grid.build(suite="v1", shard=f"{i}/3") for i in range(3)]
    parts = [{(c.task.id, c.model.name) for c in s.cells} for s in shards]
    assert set().union(*parts) == pairs and sum(len(p) for p in parts) == len(pairs)  # disjoint, complete
    one = grid.build(tasks=["regression/axion-mass"], models=["all"], seeds=[7], preset="standard")
    assert one.preset == "standard" and {c.seed for c in one.cells} == {7}
    assert {c.model.name for c in one.cells} == {m.name for m in registry.models.all()
                                                 if "regression" in m.kinds}
    defaults = grid.build(tasks=["anomaly/lensbench-v1"])
    want = registry.tasks.get("anomaly/lensbench-v1").default_models
    assert [c.model.name for c in defaults.cells[::3]] == list(want)
    with pytest.raises(SpecError, match="no preset 'huge'"):
        grid.build(tasks=["regression/axion-mass"], preset="huge")


def test_cells_pair_only_supported_kinds():
    task = registry.tasks.get("anomaly/lensbench-v1")
    cells = grid.cells([task], [registry.models.get("resnet18"), registry.models.get("conv-ae")], [0, 1])
    assert [(c.model.name, c.seed) for c in cells] == [("conv-ae", 0), ("conv-ae", 1)]


def test_a_suite_in_parts_runs_each_part_at_its_preset_and_seeds(toy_bench, capsys):
    """SuitePart: per-part preset and seeds reach the records; --tasks restricts, --status counts all."""
    import dataclasses

    from lensbench.suite_specs import SuitePart

    reg = registry.tasks.get("test/regression")  # the same task, its quick preset also under "standard"
    registry.tasks.unregister("test/regression")
    registry.tasks.register(dataclasses.replace(reg, presets={**reg.presets, "standard": reg.presets["quick"]}), "test")
    parted = SuiteSpec("toy-parts", "toy grid in parts", parts=(
        SuitePart(("test/classification",), ("toy-cnn",), "quick", (0, 1), why="two seeds"),
        SuitePart(("test/regression",), ("toy-cnn",), "standard", (3,), why="one seed, other preset"),
    ))
    registry.suites.register(parted, "test")
    try:
        g = grid.build(suite="toy-parts")
        assert [(c.task.id, c.seed, c.preset) for c in g.cells] == [
            ("test/classification", 0, "quick"), ("test/classification", 1, "quick"), ("test/regression", 3, "standard")]
        assert [(c.task.id, c.preset) for c in grid.build(suite="toy-parts", tasks=["test/regression"]).cells] == [
            ("test/regression", "standard")]
        with pytest.raises(SpecError, match="no task"):
            grid.build(suite="toy-parts", tasks=["test/anomaly"])
        common = ["--suite", "toy-parts", "--results", str(toy_bench.results_dir), "--tracking-uri",
                  toy_bench.tracking_uri, "--no-progress"]
        assert main(["sweep", *common]) == 0
        got = sorted((r.task, r.preset, r.seed) for r in records.iter_records(toy_bench.results_dir))
        assert got == [("test/classification", "quick", 0), ("test/classification", "quick", 1),
                       ("test/regression", "standard", 3)]
        capsys.readouterr()
        assert main(["sweep", *common, "--status"]) == 0
        assert "3 of 3 runs done" in capsys.readouterr().out
    finally:
        registry.suites.unregister("toy-parts")
        registry.tasks.unregister("test/regression")
        registry.tasks.register(reg, "test")
    capsys.readouterr()


def test_status_warns_when_real_data_is_not_given(tmp_path, monkeypatch, capsys):
    """A real-data task's records cannot be checked against its files without them: the count says 0 done
    and a warning names the task and the fix, instead of a silent 0."""
    monkeypatch.delenv("LENSBENCH_REAL_DATA", raising=False)
    assert main(["sweep", "--tasks", "lens-finding/hsc", "--models", "class-prior", "--seeds", "0", "1",
                 "--results", str(tmp_path), "--status"]) == 0
    out, err = capsys.readouterr()
    assert "0 of 2 runs done" in out
    assert "warning: lens-finding/hsc [quick] counted as not done" in err and "--data-root" in err


def test_status_prices_unrecorded_models_from_the_folders_given(tmp_path, capsys):
    """--price-from: models with no record in --results are priced per image seen from another folder's
    records (a frozen snapshot's); a folder that does not exist is exit 2, naming it."""
    import dataclasses

    from test_leaderboard_protocol import rec

    from lensbench import records

    ref = tmp_path / "snapshot"
    old = dataclasses.replace(rec("resnet10t", 0, 0.7, task="substructure/lensbench-v2"), preset="quick",
                              train_time_s=360.0, eval_time_s=1.0, hardware={"torch_threads": 1, "device": "cpu"})
    records.write_record(old, ref)
    common = ["sweep", "--tasks", "substructure/lensbench-v2", "--models", "resnet10t", "--seeds", "0", "1",
              "--preset", "quick", "--results", str(tmp_path / "results"), "--status"]
    assert main(common) == 0
    assert "not priced: 2 run(s)" in capsys.readouterr().out
    assert main([*common, "--price-from", str(ref)]) == 0
    out = capsys.readouterr().out
    assert "not priced" not in out and "CPU-hours left: about 0.2 for 2 run(s)" in out
    assert main([*common, "--price-from", str(tmp_path / "nowhere")]) == 2
    assert "--price-from" in capsys.readouterr().err
