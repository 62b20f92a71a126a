"""perf/lr_sweep.py as a user runs it: fits land in lr_sweep.json one by one, a second run with the same
--out keeps them and fits only what is new, and a folder made under other settings (or unreadable) is
refused with exit 2 naming the file."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SMOKE = ["--task", "substructure/lensbench-v1", "--models", "resnet10t", "--train-per-class", "8",
         "--val-per-class", "4", "--threads", "1"]


def _sweep(out: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LENSBENCH_CACHE": str(cache)}
    return subprocess.run([sys.executable, str(REPO / "perf" / "lr_sweep.py"), *SMOKE, "--out", str(out), *extra],
                          check=False, capture_output=True, text=True, env=env, timeout=900)


def test_lr_sweep_resumes_and_refuses_other_settings(tmp_path):
    out, cache = tmp_path / "sweep", tmp_path / "cache"
    first = _sweep(out, cache, "--scales", "0.5", "--images-seen", "48")
    assert first.returncode == 0, first.stderr
    runs = json.loads((out / "lr_sweep.json").read_text())["runs"]
    assert [(r["model"], r["lr_scale"], r["seed"]) for r in runs] == [("resnet10t", 0.5, 0)]
    assert 0.0 <= runs[0]["val"] <= 1.0 and runs[0]["curve"]

    again = _sweep(out, cache, "--scales", "0.5", "2", "--images-seen", "48")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("lr_scale=") == 1  # only the new scale was fitted
    rows = json.loads((out / "lr_sweep.json").read_text())["runs"]
    assert rows[0] == runs[0] and [r["lr_scale"] for r in rows] == [0.5, 2.0]
    md = (out / "lr_sweep.md").read_text()
    assert md.count("| resnet10t |") == 2 and md.count("**best**") == 1

    saved = json.loads((out / "lr_sweep.json").read_text())
    assert "eval_every" not in saved["budget"]  # an unset field is left out, as in the task hash
    saved["budget"]["eval_every"] = None  # a folder written while it was stored as null still resumes
    (out / "lr_sweep.json").write_text(json.dumps(saved))
    same = _sweep(out, cache, "--scales", "0.5", "2", "--images-seen", "48")
    assert same.returncode == 0 and same.stdout.count("lr_scale=") == 0, same.stderr

    other = _sweep(out, cache, "--scales", "1", "--images-seen", "96")
    assert other.returncode == 2 and "lr_sweep.json" in other.stderr and "budget" in other.stderr
    assert "Traceback" not in other.stderr
    assert json.loads((out / "lr_sweep.json").read_text())["runs"] == rows  # nothing stored was lost

    (out / "lr_sweep.json").write_text("{not json")
    bad = _sweep(out, cache, "--scales", "1", "--images-seen", "48")
    assert bad.returncode == 2 and "not a readable lr sweep" in bad.stderr and "Traceback" not in bad.stderr


def test_set_overrides_a_registered_hyper_parameter_and_is_part_of_the_settings(tmp_path):
    """``--set KEY=VALUE``: the models are built with the registered hyper-parameter changed, the folder
    records it, a resume with another value is refused, and a key the model does not have is exit 2."""
    out, cache = tmp_path / "sweep", tmp_path / "cache"
    smoke = ["--models", "grav-imaging", "--scales", "1", "--images-seen", "48"]
    first = _sweep(out, cache, *smoke, "--set", "width=8", "--set", "aux_weight=0.5")
    assert first.returncode == 0, first.stderr
    saved = json.loads((out / "lr_sweep.json").read_text())
    assert saved["overrides"] == {"width": 8, "aux_weight": 0.5} and len(saved["runs"]) == 1
    other = _sweep(out, cache, *smoke, "--set", "width=16", "--set", "aux_weight=0.5")
    assert other.returncode == 2 and "overrides" in other.stderr and "Traceback" not in other.stderr
    unknown = _sweep(tmp_path / "x", cache, "--scales", "1", "--set", "head_lr=8")  # resnet10t has no head_lr
    assert unknown.returncode == 2 and "not a hyper-parameter of resnet10t" in unknown.stderr
    malformed = _sweep(tmp_path / "y", cache, "--scales", "1", "--set", "timm_name")
    assert malformed.returncode == 2 and "expected KEY=VALUE" in malformed.stderr
