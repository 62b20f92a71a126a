"""The hidden test: a checkpoint re-scored on a test set drawn from a secret seed. An honestly trained
model agrees with its public score; one trained on the public test images is flagged."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from conftest import REPO, make_task, toy_images

from lensbench import records, registry
from lensbench.cli import main
from lensbench.data import taskdata
from lensbench.run import hidden, runner, submission, trainer
from lensbench.specs import Budget

SECRET = "throwaway-test-secret"  # a test key; the real one is never committed


class FaintRecipe:
    """Blob vs ring at low contrast under unit noise: a tiny CNN learns a weak signal, and can
    memorise a small set of such images, so a model trained on the test images scores far better
    on them than on fresh ones."""

    name, version, classes, image_shape, pixel_scale = "faint", 1, ("no_sub", "cdm"), (1, 16, 16), 0.1
    columns = ("radius",)
    description = "faint blobs and rings"

    def generate(self, class_name, n, seed, *, data_root=None, device=None):
        imgs, _, radii = toy_images(2 * n, 16, seed)
        rng = np.random.default_rng(seed + 1)
        imgs = 0.5 * imgs + rng.normal(size=imgs.shape).astype(np.float32)
        pick = slice(0, None, 2) if class_name == "no_sub" else slice(1, None, 2)
        return imgs[pick], {"radius": radii[pick]}


@pytest.fixture
def faint(tmp_path, monkeypatch):
    from lensbench.data import simulated
    from lensbench.specs import DatasetSpec, ModelSpec

    sys.path.insert(0, str(REPO / "examples" / "lensbench-example-plugin"))
    from lensbench_example import tiny_cnn

    monkeypatch.setattr(simulated, "get_recipe", lambda name: FaintRecipe())
    monkeypatch.setenv("LENSBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(hidden.SECRET_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    task = make_task(id="test/faint", dataset="faint", epochs=6)
    entries = [(registry.datasets, DatasetSpec("faint", 1, "faint", ("no_sub", "cdm"), (1, 16, 16), 0.1,
                                               recipe="faint", columns=("radius",))),
               (registry.tasks, task),
               (registry.models, ModelSpec("faint-cnn", tiny_cnn, "user", ("classification",), "tiny"))]
    for reg, spec in entries:
        reg.register(spec, "test")
    opts = runner.RunOptions(results_dir=tmp_path / "results", tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
                             cache=tmp_path / "cache", checkpoint_dir=tmp_path / "ckpt", progress=False)
    yield task, registry.models.get("faint-cnn"), opts
    for reg, spec in entries:
        reg.unregister(getattr(spec, "id", None) or spec.name)


def cheat(honest, task, spec, opts, seed):
    """A run whose checkpoint was trained on the public TEST split (train = val = test), with a record
    of that checkpoint's public score, as a submitter tuning on the test set would hand in."""
    from dataclasses import replace

    from safetensors.torch import save_file

    rec = replace(records.read_record(honest), seed=seed)
    rec.checkpoint = records.record_path(".", rec).with_suffix(".safetensors").as_posix()
    _, ds = taskdata.materialise(task, "quick", cache=opts.cache, progress=False)
    test = taskdata.build_split(task, ds, "test")
    fitted = trainer.fit(task, spec.factory(task), Budget(epochs=25, batch_size=16, lr=3e-3, weight_decay=0.0),
                         test, test, seed=seed, device=torch.device("cpu"), progress=False)
    save_file({k: v.detach().contiguous() for k, v in fitted.model.state_dict().items()},
              str(opts.checkpoint_dir / rec.checkpoint))
    ev = submission.public_evaluation(rec, task, fitted.model, cache=opts.cache).result
    rec.metrics_test, rec.bootstrap = ev.metrics, ev.bootstrap
    return records.write_record(rec, opts.results_dir)


def test_honest_model_is_verified_and_test_set_training_is_flagged(faint, capsys, monkeypatch, tmp_path):
    task, spec, opts = faint
    honest = records.record_path(opts.results_dir, runner.run(task, spec, 0, opts))
    v = hidden.verify_hidden(honest, opts.checkpoint_dir, SECRET, cache=opts.cache, progress=False)
    assert v["verdict"] == hidden.VERIFIED and v["matches_record"]
    assert v["public"]["n_items"] == v["hidden"]["n_items"] == 64  # same size as the public test split
    assert v["hidden"]["fingerprint"] != v["public"]["fingerprint"]
    assert (opts.cache / "hidden" / "datasets" / "faint-hidden").is_dir()  # cached apart from the public data
    assert hidden.read_verification(hidden.verification_path(honest))["verdict"] == hidden.VERIFIED

    # without the secret the command refuses, naming what to set (exit 2, no traceback)
    tuned = cheat(honest, task, spec, opts, 1)
    argv = ["verify", "--hidden", str(tuned), "--checkpoint-dir", str(opts.checkpoint_dir), "--cache", str(opts.cache)]
    assert main(argv) == 2
    assert hidden.SECRET_ENV in capsys.readouterr().err
    monkeypatch.setenv(hidden.SECRET_ENV, SECRET)
    assert main(argv) == 1  # flagged
    assert "-> flagged" in capsys.readouterr().out
    f = hidden.read_verification(hidden.verification_path(tuned), records.read_record(tuned))
    assert f["matches_record"] and f["verdict"] == hidden.FLAGGED
    # near-perfect on the public test items it was trained on, clearly worse on fresh ones
    assert f["public"]["value"] > 0.95 and f["hidden"]["value"] < f["public"]["ci"][0]
    assert f["hidden"]["fingerprint"] == v["hidden"]["fingerprint"]  # one hidden set per task and preset
    assert f["key_id"] == hidden.key_id(SECRET) and SECRET not in hidden.verification_path(tuned).read_text()

    # the board marks both entries
    from lensbench.board import render

    render.write_leaderboard(opts.results_dir, tmp_path / "board", formats=("md", "json"))
    rows = {r["model"]: r for r in json.loads((tmp_path / "board" / "leaderboard.json").read_text())}
    assert rows["faint-cnn"]["hidden_test"] == hidden.FLAGGED  # seed 1 is flagged, so the entry is
    assert "| hidden test |" in (tmp_path / "board" / "leaderboard.md").read_text()


def test_hidden_seed_comes_from_the_secret_and_verifications_are_checked_on_reading(faint, tmp_path):
    spec = registry.datasets.get("faint")
    a, b = hidden.hidden_spec(spec, "one"), hidden.hidden_spec(spec, "two")
    assert a.seed != b.seed and a.seed != spec.seed and a == hidden.hidden_spec(spec, "one")
    key = tmp_path / "key"
    key.write_text("  one\n")
    assert hidden.read_secret(key) == "one"
    key.write_text("")
    with pytest.raises(hidden.HiddenTestError, match="empty"):
        hidden.read_secret(key)
    with pytest.raises(hidden.HiddenTestError, match=hidden.SECRET_ENV):
        hidden.read_secret()
    # a hand-written "verified" that its own numbers contradict is refused, naming the file
    good = {"lensbench_hidden_verification": 1, "task": "test/faint", "task_version": 1, "preset": "quick",
            "model": "m", "seed": 0, "dataset_fingerprint": "f", "primary_metric": "auc_macro", "key_id": "k",
            "matches_record": True, "public": {"value": 1.0, "ci": [1.0, 1.0]},
            "hidden": {"value": 0.6, "ci": [0.5, 0.7]}, "verdict": hidden.FLAGGED}
    path = tmp_path / "seed0.hidden.verification"
    path.write_text(json.dumps(good))
    assert hidden.read_verification(path)["verdict"] == hidden.FLAGGED
    for change in ({"verdict": hidden.VERIFIED}, {"seed": "0"}, {"hidden": {"value": 0.6, "ci": [0.7, 0.5]}}):
        path.write_text(json.dumps({**good, **change}))
        with pytest.raises(hidden.HiddenTestError, match=str(path)):
            hidden.read_verification(path)
    path.write_text("{not json")
    with pytest.raises(hidden.HiddenTestError, match="JSON"):
        hidden.read_verification(path)
