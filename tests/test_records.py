"""Run records: round trip, atomic writes, strict validation with file + field in every message."""

import json
import re
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from lensbench.records import (
    SCHEMA_VERSION,
    RecordError,
    RunRecord,
    existing_record,
    iter_records,
    load_records,
    read_record,
    record_path,
    schema_markdown,
    write_record,
)


def make_record(**kw) -> RunRecord:
    base = {
        "task": "substructure/model1", "task_version": 2, "preset": "quick", "model": "resnet18",
        "model_family": "baseline", "seed": 0, "status": "ok", "primary_metric": "auc_macro",
        "higher_is_better": True, "secondary_metrics": ["accuracy"],
        "metrics_val": {"auc_macro": 0.9, "accuracy": 0.8},
        "metrics_test": {"auc_macro": 0.91, "accuracy": 0.81, "confusion_matrix": [[5, 1], [2, 4]]},
        "selected_epoch": 3, "epochs_run": 5,
        "history": [{"epoch": 0, "train_loss": 1.0, "val_auc_macro": 0.7}],
        "n_params": 11_000_000, "train_time_s": 12.5, "eval_time_s": 0.5, "wall_time_s": 14.0,
        "hardware": {"cpu": "x", "cuda": None, "torch_threads": 2}, "packages": {"torch": "2.14.1"},
        "git_commit": "abc123", "lensbench_version": "0.1.0", "dataset": "model1-sim@v1",
        "dataset_fingerprint": "f" * 16, "task_config_hash": "t" * 16, "model_config_hash": "m" * 16,
    }
    base.update(kw)
    return RunRecord(**base)


def test_round_trip_and_path(tmp_path):
    rec = make_record(metrics_val={"auc_macro": np.float32(0.5), "confusion_matrix": np.eye(2, dtype=int)},
                      n_params=np.int64(7),
                      history=[{"epoch": 0, "loss": float("nan")}])
    path = write_record(rec, tmp_path)
    assert path == tmp_path / "substructure__model1" / "v2" / "quick" / "resnet18" / "seed0.json"
    assert path == record_path(tmp_path, rec)
    raw = json.loads(path.read_text())  # strict JSON: NaN became null, numpy became Python
    assert raw["history"][0]["loss"] is None and raw["metrics_val"]["auc_macro"] == 0.5
    assert raw["metrics_val"]["confusion_matrix"] == [[1, 0], [0, 1]]
    assert raw["schema_version"] == SCHEMA_VERSION and raw["n_params"] == 7
    back = read_record(path)
    assert back.to_dict() == rec.to_dict()
    assert back.metrics_test["confusion_matrix"] == [[5, 1], [2, 4]]
    assert RunRecord.from_dict(rec.to_dict()).to_dict() == rec.to_dict()


def test_atomic_write_leaves_no_temp_files(tmp_path):
    rec = make_record()
    p1 = write_record(rec, tmp_path)
    p2 = write_record(make_record(metrics_test={"auc_macro": 0.5}), tmp_path)  # overwrite same seed
    assert p1 == p2 and read_record(p2).metrics_test == {"auc_macro": 0.5}
    assert sorted(x.name for x in p1.parent.iterdir()) == ["seed0.json"]


def test_invalid_record_is_not_written(tmp_path):
    rec = make_record(metrics_test={"accuracy": 0.5})  # ok run without its primary metric
    with pytest.raises(RecordError, match="primary metric 'auc_macro'"):
        write_record(rec, tmp_path)
    assert not any(tmp_path.rglob("*"))  # nothing, not even a folder or temp file


def test_failed_run_never_replaces_ok_record(tmp_path):
    ok = write_record(make_record(), tmp_path)
    failed = make_record(status="failed", error="RuntimeError: out of memory", metrics_test={})
    p = write_record(failed, tmp_path)
    assert p.name == "seed0.failed.json" and read_record(ok).status == "ok"
    recs = load_records(tmp_path)
    assert sorted(r.status for r in recs) == ["failed", "ok"]
    # a failed run with no earlier ok record takes the normal path
    p2 = write_record(make_record(seed=1, status="failed", error="boom", metrics_test={}), tmp_path)
    assert p2.name == "seed1.json"


def _write_json(tmp_path: Path, d, name="seed0.json") -> Path:
    p = tmp_path / name
    p.write_text(d if isinstance(d, str) else json.dumps(d))
    return p


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d.pop("seed"), r"field 'seed' is missing"),
        (lambda d: d.pop("dataset_fingerprint"), r"field 'dataset_fingerprint' is missing"),
        (lambda d: d.update(seed="0"), r"field 'seed': expected an integer, got str"),
        (lambda d: d.update(seed=True), r"field 'seed': expected an integer, got bool"),
        (lambda d: d.update(higher_is_better=1), r"field 'higher_is_better': expected true/false"),
        (lambda d: d.update(metrics_val={"auc": 0.5, "f1": "high"}),
         r"field 'metrics_val' key 'f1': expected a number, null, or a JSON list/object, got str 'high'"),
        (lambda d: d.update(metrics_test={"auc_macro": 0.5, "flag": True}), r"field 'metrics_test' key 'flag'"),
        (lambda d: d.update(n_params=1.5), r"field 'n_params': expected an integer or null"),
        (lambda d: d.update(schema_version=99), r"field 'schema_version' is 99"),
        (lambda d: d.pop("schema_version"), r"field 'schema_version' is missing"),
        (lambda d: d.update(status="done"), r"field 'status': expected one of"),
        (lambda d: d.update(status="failed", error=None), r"field 'error': a failed run must say why"),
        (lambda d: d.update(created="yesterday"), r"field 'created': expected an ISO-8601"),
        (lambda d: d.update(seeed=1), r"unknown field\(s\) \['seeed'\]"),
    ],
)
def test_malformed_records_name_file_and_field(tmp_path, mutate, match):
    d = make_record().to_dict()
    mutate(d)
    p = _write_json(tmp_path, d)
    with pytest.raises(RecordError, match=match) as e:
        read_record(p)
    assert str(p) in str(e.value)


def test_bad_json_and_wrong_top_level(tmp_path):
    p = _write_json(tmp_path, '{"task": "x",', "broken.json")
    with pytest.raises(RecordError, match=re.escape(str(p)) + r": not valid JSON \(line 1"):
        read_record(p)
    p2 = _write_json(tmp_path, "[1, 2]", "list.json")
    with pytest.raises(RecordError, match="expected a JSON object"):
        read_record(p2)


def test_optional_fields_take_defaults(tmp_path):
    d = make_record().to_dict()
    for k in ("error", "mlflow_run_id", "checkpoint", "test_dataset_fingerprint", "history", "created"):
        d.pop(k)
    rec = read_record(_write_json(tmp_path, d))
    assert rec.mlflow_run_id is None and rec.history == [] and rec.created  # created filled with now


def test_iter_and_load_records(tmp_path):
    for seed in (0, 1, 2):
        write_record(make_record(seed=seed), tmp_path)
    write_record(make_record(model="vit", seed=0), tmp_path)
    assert [(r.model, r.seed) for r in iter_records(tmp_path)] == [("resnet18", 0), ("resnet18", 1),
                                                                   ("resnet18", 2), ("vit", 0)]
    bad = tmp_path / "substructure__model1" / "v2" / "quick" / "vit" / "seed1.json"
    bad.write_text("{")
    with pytest.raises(RecordError, match="seed1.json"):
        load_records(tmp_path)
    with pytest.warns(UserWarning, match="skipping bad record"):
        recs = load_records(tmp_path, strict=False)
    assert len(recs) == 4


def test_schema_markdown_lists_every_field():
    md = schema_markdown()
    for f in fields(RunRecord):
        assert f"| `{f.name}` |" in md
        assert f.metadata["doc"].split("`")[0][:20] in md
    assert f"version {SCHEMA_VERSION}" in md


def test_existing_record(tmp_path):
    args = (tmp_path, "substructure/model1", 2, "quick", "resnet18", 0)
    assert existing_record(*args) is None
    write_record(make_record(), tmp_path)
    assert existing_record(*args).metrics_test["auc_macro"] == 0.91
    record_path(tmp_path, make_record()).write_text("{")
    with pytest.warns(UserWarning, match="unreadable record"):
        assert existing_record(*args) is None


def test_the_committed_schema_page_matches_the_checks():
    """``leaderboards/SCHEMA.md`` is ``schema_markdown()``: the fields and the rules checked on read."""
    page = Path(__file__).resolve().parent.parent / "leaderboards" / "SCHEMA.md"
    assert page.read_text(encoding="utf-8").rstrip("\n") == schema_markdown().rstrip("\n"), (
        "regenerate it with the command in leaderboards/README.md")


def test_read_valid_keeps_the_good_records_and_names_each_bad_file(tmp_path):
    from lensbench.records import read_valid

    for seed in (0, 1):
        write_record(make_record(seed=seed), tmp_path)
    (tmp_path / "nan.json").write_text(json.dumps(make_record().to_dict()).replace("0.91", "NaN"))
    (tmp_path / ".seed9.json.tmp.json").write_text("{")  # a writer's temporary file: not a record
    good, bad = read_valid(tmp_path)
    assert [r.seed for r in good] == [0, 1]
    assert len(bad) == 1 and bad[0].startswith(f"{tmp_path / 'nan.json'}: ") and "NaN" in bad[0]
