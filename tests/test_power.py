"""``lensbench power``: seeds needed for a stated effect, from records or a given sd; error paths."""

from __future__ import annotations

import numpy as np
import pytest

from lensbench.board.aggregate import paired_spread, records_frame
from lensbench.board.significance import seeds_needed
from lensbench.cli import main
from lensbench.records import RunRecord, write_record

A = [0.90, 0.93, 0.88, 0.91, 0.94]
D = [0.02, -0.01, 0.03, 0.00, 0.04]  # A - B per seed


def rec(model, seed, value, task="substructure/model1") -> RunRecord:
    return RunRecord(
        task=task, task_version=1, preset="quick", model=model, model_family="baseline", seed=seed, status="ok",
        primary_metric="auc_macro", higher_is_better=True, metrics_test={"auc_macro": value}, lensbench_version="0",
        dataset="d", dataset_fingerprint="f" * 16, task_config_hash="t", model_config_hash="m")


@pytest.fixture
def results(tmp_path):
    for s, (a, d) in enumerate(zip(A, D)):
        write_record(rec("a", s, a), tmp_path)
        write_record(rec("b", s, a - d), tmp_path)
    write_record(rec("c", 7, 0.5), tmp_path)  # shares no seed with a
    return tmp_path


def test_paired_spread_and_the_power_output(results, capsys):
    table, seeds, mean, sd = paired_spread(records_frame([rec("a", s, a) for s, a in enumerate(A)]
                                                         + [rec("b", s, a - d) for s, (a, d) in enumerate(zip(A, D))]),
                                           "substructure/model1", "a", "b")
    assert seeds == (0, 1, 2, 3, 4) and table["preset"] == "quick"
    assert mean == pytest.approx(np.mean(D)) and sd == pytest.approx(np.std(D, ddof=1))
    assert main(["power", str(results), "--task", "substructure/model1", "--model", "a", "--versus", "b",
                 "--effect", "0.02"]) == 0
    out = capsys.readouterr().out
    need = seeds_needed(np.std(D, ddof=1), 0.02)
    assert "a - b on 5 common seeds [0, 1, 2, 3, 4]" in out and f"sd {np.std(D, ddof=1):.4g}" in out
    assert out.rstrip().endswith(f"power 0.8): {need}")


def test_power_from_a_given_sd_needs_no_records(capsys):
    assert main(["power", "--sd", "0.027", "--effect", "0.02"]) == 0
    assert capsys.readouterr().out.rstrip().endswith(": 17")
    assert main(["power", "--sd", "0.027", "--effect", "0.02", "--comparisons", "6"]) == 0
    assert int(capsys.readouterr().out.rsplit(":", 1)[1]) > 17


@pytest.mark.parametrize("argv, message", [
    (["--task", "nope", "--model", "a", "--versus", "b"],
     "no ok records of task 'nope'; tasks with records: ['substructure/model1']"),
    (["--task", "substructure/model1", "--model", "a", "--versus", "zz"], "no ok records of model 'zz'"),
    (["--task", "substructure/model1", "--model", "a", "--versus", "c"], "share 0 seed(s)"),
    (["--task", "substructure/model1"], "without --sd, give --model, --versus"),
])
def test_power_error_paths_exit_2(results, capsys, argv, message):
    assert main(["power", str(results), *argv, "--effect", "0.02"]) == 2
    assert message in capsys.readouterr().err


def test_power_refuses_a_zero_effect_and_a_missing_folder(tmp_path, capsys):
    assert main(["power", "--sd", "0.02", "--effect", "0"]) == 2
    assert "effect != 0" in capsys.readouterr().err
    assert main(["power", str(tmp_path / "none"), "--task", "t", "--model", "a", "--versus", "b",
                 "--effect", "0.02"]) == 2
    assert "no results folder" in capsys.readouterr().err
