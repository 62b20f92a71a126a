"""Hostile and broken inputs, one table: record files a stranger could hand us, each refused by
``lensbench validate`` (exit 2, the file named, no traceback) and ``lensbench show``, and skipped with
a report by ``lensbench leaderboard``, which still draws the good records beside them and never
writes outside ``--out``. Then the command line itself (names that are not UTF-8, a missing results
folder, ``--device cuda`` without a GPU) and a user's model with lazy modules, or one that raises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from lensbench import records
from lensbench.cli import main
from lensbench.record_checks import MAX_DEPTH, MAX_RECORD_BYTES

GOOD_MODELS = ("good-a", "good-b")


def good(model="good-a", seed=0, auc=0.8) -> dict:
    return records.RunRecord(
        task="hostile/board", task_version=1, preset="quick", model=model, model_family="baseline", seed=seed,
        status="ok", primary_metric="auc_macro", higher_is_better=True, secondary_metrics=["accuracy"],
        metrics_val={"auc_macro": auc}, metrics_test={"auc_macro": auc, "accuracy": 0.7,
                                                      "confusion_matrix": [[3, 1], [1, 3]]},
        lensbench_version="0.1.0", dataset="toy@v1", dataset_fingerprint="ab" * 8, task_config_hash="c" * 16,
        model_config_hash="d" * 16, created="2026-01-01T00:00:00+00:00").to_dict()


def text(**changes) -> str:
    return json.dumps(good() | changes)


def metric(value) -> str:
    return json.dumps(good() | {"metrics_test": {"auc_macro": value, "accuracy": 0.7}}, allow_nan=True)


def nested(depth: int) -> str:
    return text(hardware={"x": "@"}).replace('"@"', "[" * depth + "]" * depth)


# case name -> file content (str or bytes), or a function making the file at a path; the message must
# hold the file's name and each of the words given
CASES = {
    "nan-auc": (metric(float("nan")), "NaN"),
    "infinity-auc": (metric(float("inf")), "Infinity"),
    "minus-infinity-auc": (metric(float("-inf")), "Infinity"),
    "huge-float-auc": (metric(1e308), "outside the range"),
    "float-overflow": (metric(1).replace('"auc_macro": 1', '"auc_macro": 1e400'), "not finite"),
    "negative-auc": (metric(-5), "outside the range"),
    "auc-above-one-in-bootstrap": (text(bootstrap={"seed": 0, "n": 2, "metrics": {"auc_macro": [0.5, 2.0]}}),
                                   "outside the range"),
    "negative-mse-val": (text(metrics_val={"mse": -1.0}), "outside the range"),
    "r2-above-one": (text(metrics_test={"auc_macro": 0.8, "r2": 5.0}), "outside the range"),
    "tpr-out-of-range": (text(curves={"roc": {"fpr": [0, 1], "tpr": {"cdm": [0, 3]}}}), "outside the range"),
    "script-model": (text(model="<script>alert(1)</script>"), "model"),
    "newline-model": (text(model="good-a\n# Injected heading"), "model"),
    "dotdot-model": (text(model="../../etc"), "model"),
    "dotdot-preset": (text(preset="../../etc"), "preset"),
    "slash-task": (text(task="a/b/../../c"), "task"),
    "mathtext-model": (text(model="$\\frac{$"), "model"),
    "mathtext-metric-key": (text(metrics_test={"auc_macro": 0.8, "$\\frac{$": 0.5}), "metric name"),
    "mathtext-slice-column": (text(slices={"$x^{$": {"edges": [0, 1], "n": [3], "auc_macro": [0.5]}}),
                              "column name"),
    "html-family": (text(model_family="<b>pinn</b>"), "model_family"),
    "dotdot-dataset": (text(dataset="../../gallery"), "dataset"),
    "dotdot-checkpoint": (text(checkpoint="../../etc/passwd.safetensors"), "checkpoint"),
    "escape-sequence": (text(hardware={"cpu": "\x1b[2J\x1b[31mred"}), "control character"),
    "big-int": (text(n_params=10**400), "outside 64 bits"),
    "big-int-5000-digits": (text(seed=1).replace('"seed": 1', '"seed": ' + "9" * 5000), "outside 64 bits"),
    "depth-900": (nested(900), "nested more deeply"),
    "depth-100000": (nested(100_000), "nested more deeply"),
    "just-too-deep": (nested(MAX_DEPTH - 1), "nested more deeply"),
    "non-utf8": (text(model_source="x").replace('"x"', '"\udcff"').encode("utf-8", "surrogateescape"),
                 "not UTF-8"),
    "utf8-bom": (b"\xef\xbb\xbf" + text().encode(), "not valid JSON"),
    "truncated": (text()[:200], "not valid JSON"),
    "empty": ("", "not valid JSON"),
    "top-level-list": ("[1, 2]", "JSON object"),
    "wrong-schema-version": (text(schema_version=99), "schema_version"),
    "bool-schema-version": (text(schema_version=True), "schema_version"),
    "unknown-field": (text(evil="x"), "unknown field"),
    "fingerprint-not-hex": (text(dataset_fingerprint="zz" * 8), "dataset_fingerprint"),
    "fingerprint-path": (text(dataset_fingerprint="../../../etc"), "dataset_fingerprint"),
    "config-hash-with-space": (text(model_config_hash="a b"), "model_config_hash"),
    "wrong-direction": (text(higher_is_better=False), "higher_is_better"),
    "unknown-primary-metric": (text(primary_metric="bogus", metrics_test={"bogus": 1.0}), "primary_metric"),
    "ok-without-primary": (text(metrics_test={"accuracy": 0.7}), "primary metric"),
    "failed-without-error": (text(status="failed", error=None), "error"),
    "string-metric": (text(metrics_test={"auc_macro": "0.99"}), "metrics_test"),
    "too-big-67MB": (lambda p: _sparse(p, 67 * 2**20), "larger than"),
    "just-too-big": (lambda p: _sparse(p, MAX_RECORD_BYTES + 1), "larger than"),
    "directory": (lambda p: p.mkdir(), "not a regular file"),
    "fifo": (lambda p: os.mkfifo(p), "not a regular file"),
    "link-to-dev-zero": (lambda p: p.symlink_to("/dev/zero"), "not a regular file"),
}


def _sparse(path: Path, size: int) -> None:
    """A file of ``size`` bytes that starts like a record, made without writing them (sparse)."""
    with path.open("wb") as fh:
        fh.write(b'{"schema_version": 3, "model": "')
        fh.truncate(size)


def make(path: Path, content) -> Path:
    if callable(content):
        content(path)
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.fixture
def results(tmp_path) -> Path:
    """A results folder with four good records (two models, two seeds each)."""
    for model in GOOD_MODELS:
        for seed in (0, 1):
            rec = records.RunRecord(**good(model, seed, auc=0.8 if model == "good-a" else 0.6) | {"seed": seed})
            records.write_record(rec, tmp_path / "results")
    return tmp_path / "results"


def _run(capsys, *argv) -> tuple[int, str]:
    code = main([*argv])
    out, err = capsys.readouterr()
    return code, out + err


def test_the_good_record_is_valid_and_every_case_differs_from_it():
    records.validate_dict(good(), "good")
    records.validate_dict(json.loads(nested(MAX_DEPTH - 2)), "deepest allowed")
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_and_show_refuse_each_hostile_record(case, results, capsys):
    content, words = CASES[case]
    bad = make(results / f"{case}.json", content)
    code, out = _run(capsys, "validate", str(results))
    assert code == 2, out
    assert f"{bad}:" in out and words in out and "Traceback" not in out
    code, out = _run(capsys, "show", str(bad))
    assert code == 2 and bad.name in out and words in " ".join(out.split()) and "Traceback" not in out


def test_a_huge_record_is_refused_before_it_is_read(tmp_path):
    path = make(tmp_path / "huge.json", CASES["too-big-67MB"][0])
    tracemalloc.start()
    try:
        with pytest.raises(records.RecordError, match="huge.json.*larger than"):
            records.read_record(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # nothing of the 67 MB was read


def test_the_board_skips_and_reports_each_bad_record_and_draws_the_good_ones(results, tmp_path):
    """Through the real command line (a subprocess), every case at once."""
    for case, (content, _) in CASES.items():
        make(results / f"{case}.json", content)
    out_dir = tmp_path / "out"
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(out_dir)}
    cmd = [sys.executable, "-m", "lensbench.cli", "leaderboard", "--results", str(results), "--out", str(out_dir),
           "--format", "md", "csv", "html", "json", "png"]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert "Traceback" not in log
    for case in CASES:
        assert log.count(f"{results / case}.json:") == 1, case  # each bad file reported once
    assert f"{len(CASES)} bad record(s) skipped" in log
    md = (out_dir / "leaderboard.md").read_text()
    page = (out_dir / "leaderboard.html").read_text()
    for model in GOOD_MODELS:
        assert model in md and model in page
    assert md.index("good-a") < md.index("good-b")  # ranked by the good numbers only
    for poison in ("<script>alert", "Injected heading", "frac", "../", "<b>pinn"):
        assert poison not in md and poison not in page
    assert list((out_dir / "plots").glob("*.png"))
    after = {p for p in tmp_path.rglob("*") if not p.is_relative_to(out_dir)}
    assert after == before  # nothing written outside --out



def test_a_board_of_only_bad_records_or_a_missing_folder_writes_nothing(tmp_path, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "leaderboard.md").write_text("the published tables\n")
    for results in (tmp_path / "typo", tmp_path / "bad"):
        if results.name == "bad":
            results.mkdir()
            make(results / "nan.json", CASES["nan-auc"][0])
        code, out = _run(capsys, "leaderboard", "--results", str(results), "--out", str(out_dir))
        assert code == 2 and str(results) in out and "Traceback" not in out
        assert (out_dir / "leaderboard.md").read_text() == "the published tables\n"
        assert sorted(p.name for p in out_dir.iterdir()) == ["leaderboard.md"]
    code, out = _run(capsys, "validate", str(tmp_path / "typo"))
    assert code == 2 and "typo" in out and "Traceback" not in out


def test_command_line_names_that_are_not_utf8_are_refused(tmp_path, capsys):
    name = os.fsdecode(b"results-\xff")  # what Python makes of a non-UTF-8 file name (PEP 383)
    for argv in (["validate", str(tmp_path / name)], ["show", str(tmp_path / name / "seed0.json")],
                 ["leaderboard", "--results", str(tmp_path / name)],
                 ["run", "--task", "test/classification", "--model", f"{tmp_path / name}.py:build"],
                 ["data", "import", str(tmp_path / name), "--format", "deeplense", "--as", "x"]):
        code, out = _run(capsys, *argv)
        assert code == 2 and "not valid UTF-8" in out and "results-\\xff" in out and "Traceback" not in out


def test_a_non_utf8_file_inside_the_results_folder_is_named_not_a_crash(results, capsys):
    bad = results / os.fsdecode(b"seed-\xff.json")
    make(bad, CASES["truncated"][0])
    code, out = _run(capsys, "validate", str(results))
    assert code == 2 and "seed-\\udcff.json" in out and "Traceback" not in out


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_device_cuda_without_a_gpu_is_a_clear_error(toy_bench, capsys):
    code, out = _run(capsys, "run", "--task", "test/classification", "--model", "toy-cnn", "--device", "cuda",
                     "--results", str(toy_bench.results_dir), "--no-progress")
    assert code == 2 and "no CUDA device" in out and "Traceback" not in out
    assert not toy_bench.results_dir.exists()


USER_MODELS = {
    "lazy": ("ok", """
        def build(task):
            '''A CNN of lazy modules: shapes are found on the first forward pass.'''
            return nn.Sequential(nn.LazyConv2d(4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(task.n_outputs))
    """),
    "raises": ("failed", """
        def build(task):
            raise RuntimeError("no weights file\\nsecond line of the message")
    """),
    "forward-raises": ("failed", """
        class Broken(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.LazyLinear(2)
            def forward(self, x):
                return self.fc(x).view(-1, 7)  # wrong shape: fails on the dummy batch
        def build(task):
            return Broken()
    """),
    "not-a-module": ("failed", """
        def build(task):
            return "a string"
    """),
}


def test_a_user_model_is_initialised_with_a_dummy_batch_or_fails_in_one_paragraph(toy_bench, tmp_path, capsys):
    for name, (status, code_text) in USER_MODELS.items():
        path = tmp_path / f"{name.replace('-', '_')}.py"
        path.write_text("import torch.nn as nn\n" + textwrap.dedent(code_text))
        results = toy_bench.results_dir / name
        code, out = _run(capsys, "run", "--task", "test/classification", "--model", f"{path}:build", "--seeds", "0",
                         "--results", str(results), "--tracking-uri", toy_bench.tracking_uri, "--no-progress")
        assert "Traceback" not in out
        (rec,) = records.iter_records(results)
        assert rec.status == status, (name, rec.error)
        if status == "ok":
            assert code == 0 and rec.n_params == 4 * 9 + 4 + (4 * 14 * 14 + 1) * 2
            assert 0 <= rec.metrics_test["auc_macro"] <= 1
        else:
            assert code == 1 and rec.n_params is None and "ModelBuildError" in rec.error, name
            assert "test/classification" in rec.error and "\n" not in rec.error
            failed_line = next(line for line in out.splitlines() if line.startswith("FAILED"))
            assert rec.model in failed_line
