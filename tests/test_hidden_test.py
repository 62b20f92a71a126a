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
    fitted = trainer.fit(task, spec.factory(task), Budget(epochs=40, batch_size=16, lr=3e-3, weight_decay=0.0),
                         test, test, seed=seed, device=torch.device("cpu"), progress=False)
    save_file({k: v.detach().contiguous() for k, v in fitted.model.state_dict().items()},
              str(opts.checkpoint_dir / rec.checkpoint))
    ev = submission.public_evaluation(rec, task, fitted.model, cache=opts.cache).result
    rec.metrics_test, rec.bootstrap = ev.metrics, ev.bootstrap
    return records.write_record(rec, opts.results_dir)


def test_honest_model_is_verified_and_test_set_training_is_flagged(faint, capsys):
    task, spec, opts = faint
    honest = records.record_path(opts.results_dir, runner.run(task, spec, 0, opts))
    v = hidden.verify_hidden(honest, opts.checkpoint_dir, SECRET, cache=opts.cache, progress=False)
    assert v["verdict"] == hidden.VERIFIED and v["matches_record"]
    assert v["public"]["n_items"] == v["hidden"]["n_items"] == 64  # same size as the public test split
    assert v["hidden"]["fingerprint"] != v["public"]["fingerprint"]
    print(v["public"], v["hidden"])

    tuned = cheat(honest, task, spec, opts, 1)
    f = hidden.verify_hidden(tuned, opts.checkpoint_dir, SECRET, cache=opts.cache, progress=False)
    print(f["public"], f["hidden"])
    assert f["matches_record"] and f["verdict"] == hidden.FLAGGED
    assert f["public"]["value"] > 0.95 and f["hidden"]["value"] < f["public"]["ci"][0]
    assert f["hidden"]["fingerprint"] == v["hidden"]["fingerprint"]  # one hidden set per task and preset
