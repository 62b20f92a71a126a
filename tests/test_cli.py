"""The lensbench CLI: listing, runs, user models, plugins through entry points, user errors -> exit 2."""

from __future__ import annotations

import sys
import textwrap

import pytest
from conftest import REPO

from lensbench import records, registry
from lensbench.cli import main
from lensbench.registry import Registry
from lensbench.specs import ModelSpec

PLUGIN = REPO / "examples" / "lensbench-example-plugin"


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_shows_registered_things(capsys):
    code, out, _ = _run(capsys, "list", "tasks")
    assert code == 0 and "substructure/lensbench-v1" in out and "auc_macro (higher is better)" in out
    code, out, _ = _run(capsys, "list", "models")
    assert code == 0 and "resnet18" in out and "lens-inversion-nophys" in out


@pytest.mark.parametrize("argv, needle", [
    (["run", "--task", "substructure/lensbench_v1", "--model", "resnet18"], "Did you mean 'substructure/lensbench-v1'"),
    (["run", "--task", "substructure/lensbench-v1", "--model", "resnet-18"], "Did you mean 'resnet18'"),
    (["run", "--task", "substructure/lensbench-v1", "--model", "conv-ae"], "supports anomaly"),
    (["run", "--task", "substructure/lensbench-v1", "--model", "nowhere.py:f"], "does not exist"),
    (["run", "--task", "substructure/lensbench-v1", "--model", "resnet18", "--preset", "huge"], "no preset 'huge'"),
    (["show", "missing.json"], "missing.json"),
    (["data", "import", "nowhere", "--format", "cutouts", "--as", "x"], "nowhere"),
])
def test_user_errors_exit_2_without_traceback(capsys, argv, needle):
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert needle in " ".join(err.split()) and "Traceback" not in err


def test_bad_flag_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--task"])
    assert exc.value.code == 2


def test_run_with_a_user_file_model(capsys, toy_bench, tmp_path):
    model_file = tmp_path / "mymodel.py"
    model_file.write_text(textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(PLUGIN)!r})
        from lensbench_example import TinyCNN
        def build(task):
            '''My tiny CNN.'''
            return TinyCNN(task.input_shape[0], task.n_outputs, width=4)
    """))
    code, out, _ = _run(capsys, "run", "--task", "test/classification", "--model", f"{model_file}:build",
                        "--seeds", "0", "--results", str(toy_bench.results_dir), "--tracking-uri",
                        toy_bench.tracking_uri, "--no-progress")
    assert code == 0, out
    assert "test/classification v1 [quick] mymodel-build seed 0: test auc_macro" in out
    rec = next(records.iter_records(toy_bench.results_dir))
    assert rec.model == "mymodel-build" and rec.model_family == "user"
    code, out, _ = _run(capsys, "show", str(records.record_path(toy_bench.results_dir, rec)))
    assert code == 0 and '"model": "mymodel-build"' in out


def test_example_plugin_registers_through_entry_point(tmp_path, monkeypatch, toy_bench):
    """Install the example plugin's metadata (as pip would) and find its model through the entry point."""
    dist = tmp_path / "site" / "lensbench_example_plugin-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: lensbench-example-plugin\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[lensbench.models]\nexample = lensbench_example:specs\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.syspath_prepend(str(PLUGIN))
    models = Registry("model", "lensbench.models", ModelSpec, lambda s: s.name)
    assert "example-tiny-cnn" in models and models.get("example-tiny-cnn").family == "user"
    from lensbench.run import runner

    rec = runner.run(registry.tasks.get("test/classification"), models.get("example-tiny-cnn"), 0, toy_bench)
    assert rec.status == "ok" and rec.metrics_test["auc_macro"] > 0.7
    sys.modules.pop("lensbench_example", None)


def test_sweep_then_leaderboard_writes_tables_and_readme_section(capsys, toy_bench, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\n<!-- results:begin -->\nold\n<!-- results:end -->\n\nafter\n")
    common = ["--results", str(toy_bench.results_dir)]
    code, out, _ = _run(capsys, "sweep", "--tasks", "test/classification", "--models", "toy-cnn", "--seeds", "0",
                        "1", *common, "--tracking-uri", toy_bench.tracking_uri, "--no-progress")
    assert code == 0 and "| toy-cnn" in out  # the sweep ends by printing the leaderboard
    code, out, _ = _run(capsys, "leaderboard", *common, "--out", str(tmp_path / "lb"), "--readme", str(readme))
    assert code == 0
    text = readme.read_text()
    assert text.startswith("# Title") and text.rstrip().endswith("after") and "old" not in text
    assert "toy-cnn" in text and "### Overview" in text and "(#1)" in text  # the overview, with ranks
    assert "[../lb/leaderboard.md](../lb/leaderboard.md)" not in text and "(lb/leaderboard.md)" in text
    assert (tmp_path / "lb" / "leaderboard.html").is_file() and (tmp_path / "lb" / "leaderboard.csv").is_file()
