"""validate / verify / cite: records are checked before joining the board, checkpoints re-evaluated."""

from __future__ import annotations

import json

from lensbench import records, registry
from lensbench.cli import main
from lensbench.run import runner, submission


def _sweep(opts, seeds=(0, 1, 2)):
    task, spec = registry.tasks.get("test/classification"), registry.models.get("toy-cnn")
    return list(runner.sweep([task], [spec], list(seeds), opts))


def test_validate_passes_on_a_full_seed_set_and_names_bad_fields(toy_bench, capsys):
    recs = _sweep(toy_bench)
    assert submission.validate(toy_bench.results_dir).ok
    assert main(["validate", str(toy_bench.results_dir)]) == 0
    path = records.record_path(toy_bench.results_dir, recs[0])

    def tamper(**changes):
        d = json.loads(path.read_text())
        d.update(changes)
        path.write_text(json.dumps(d))
        return submission.validate(toy_bench.results_dir)

    original = path.read_text()
    report = tamper(dataset_fingerprint="0" * 64)
    assert not report.ok and any(str(path) in p and "'dataset_fingerprint'" in p for p in report.problems)
    path.write_text(original)
    report = tamper(task_version=2)
    assert any("'task_version' is 2" in p for p in report.problems)
    path.write_text(original)
    report = tamper(schema_version=99)
    assert any(str(path) in p and "schema_version" in p for p in report.problems)
    path.write_text(original)
    report = tamper(test_dataset_fingerprint="a" * 64)  # one seed tested on other test files
    assert any("2 different test sets" in p and "aaaaaaaaaaaa" in p for p in report.problems)
    path.write_text(original)
    capsys.readouterr()
    assert main(["validate", str(toy_bench.results_dir)]) == 0


def test_validate_requires_the_full_seed_set(toy_bench):
    _sweep(toy_bench, seeds=(0, 1))
    report = submission.validate(toy_bench.results_dir)
    assert any("missing [2]" in p for p in report.problems)


def test_verify_recomputes_the_test_metric_from_the_checkpoint(toy_bench, tmp_path):
    toy_bench.checkpoint_dir = tmp_path / "ckpt"
    rec = _sweep(toy_bench, seeds=(0,))[0]
    assert rec.checkpoint and (toy_bench.checkpoint_dir / rec.checkpoint).is_file()
    path = records.record_path(toy_bench.results_dir, rec)
    ok, recorded, recomputed = submission.verify(path, toy_bench.checkpoint_dir, cache=toy_bench.cache)
    assert ok and recorded == recomputed
    assert records.read_record(path).verified is True
    # a checkpoint whose weights changed no longer matches
    from safetensors.torch import load_file, save_file

    weights = load_file(str(toy_bench.checkpoint_dir / rec.checkpoint))
    save_file({k: v * 0 if v.is_floating_point() else v for k, v in weights.items()},
              str(toy_bench.checkpoint_dir / rec.checkpoint))
    ok, _, recomputed = submission.verify(path, toy_bench.checkpoint_dir, cache=toy_bench.cache)
    assert not ok and records.read_record(path).verified is False


def test_cite_gives_bibtex(capsys):
    assert main(["cite", "substructure/model2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("@misc{lensbench-substructure-model2-v1,") and "Alexander et al. 2020" in out


def test_reproduce_reruns_one_cell_and_gets_the_same_number(toy_bench, capsys):
    rec = _sweep(toy_bench, seeds=(1,))[0]
    path = records.record_path(toy_bench.results_dir, rec)
    r = submission.reproduce(path, cache=toy_bench.cache)
    assert r.reproduced == r.recorded == rec.metrics_test["auc_macro"] and r.difference == 0
    assert r.record.seed == 1 and r.same_code
    # the CLI says so, and fails (exit 1) when the record holds another number
    assert main(["reproduce", str(path), "--cache", str(toy_bench.cache), "--no-progress"]) == 0
    assert "identical" in capsys.readouterr().out
    d = records.read_record(path).to_dict()
    d["metrics_test"]["auc_macro"] = rec.metrics_test["auc_macro"] - 0.01
    path.write_text(json.dumps(d))
    assert main(["reproduce", str(path), "--cache", str(toy_bench.cache), "--no-progress"]) == 1
    assert "DIFFERENT by 0.01" in capsys.readouterr().out
