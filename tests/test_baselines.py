"""Baseline and reference models: registration, shapes at 64 and 150 px, no pretrained weights,
the anomaly-model hooks, and short learning checks on an easy synthetic blob-vs-ring dataset."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import timm.models._builder as timm_builder
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from lensbench.baselines import catalog
from lensbench.baselines.autoencoders import AdversarialAutoencoder
from lensbench.baselines.deep_svdd import DeepSVDD
from lensbench.baselines.timm_models import build_timm
from lensbench.data.taskdata import TargetScaler, TaskSplit
from lensbench.run import trainer
from lensbench.specs import Budget, ModelSpec, Preset, TaskSpec


@pytest.fixture(autouse=True, scope="module")
def _two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

SPECS = {s.name: s for s in catalog.specs()}
TIMM = ["resnet18", "resnet10t", "efficientnet-b0", "convnext-atto", "vit-tiny-p8"]
ANOMALY = ["conv-ae", "vae", "aae", "deep-svdd", "iforest-pca"]
REFERENCE = ["class-prior", "mean-predictor", "random-score", "global-stats"]
_PRESETS = {"quick": Preset({"train": 8, "val": 8, "test": 8}, Budget(epochs=1, batch_size=8))}


def make_task(kind: str, size: int = 64, channels: int = 1, n_classes: int = 3,
              n_targets: int = 1) -> TaskSpec:
    common = {"id": "test/synthetic", "version": 1, "kind": kind, "dataset": "synthetic",
              "description": "test task", "presets": _PRESETS, "input_shape": (channels, size, size)}
    if kind == "classification":
        return TaskSpec(classes=tuple(f"c{i}" for i in range(n_classes)), target=("label",),
                        primary_metric="auc_macro", higher_is_better=True, **common)
    if kind == "regression":
        return TaskSpec(classes=("lens",), target=tuple(f"t{i}" for i in range(n_targets)),
                        primary_metric="mse", higher_is_better=False, **common)
    return TaskSpec(classes=("normal", "odd"), target=("label",), normal_classes=("normal",),
                    primary_metric="auc", higher_is_better=True, **common)


def n_trainable(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def blobs_and_rings(n: int, size: int = 32, seed: int = 0):
    """Class 0: a Gaussian blob (width sigma); class 1: a thin ring. Noise added, then each image
    standardised (zero mean, unit std) like the real preprocessing. Returns images, labels, sigma."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    labels = torch.arange(2 * n) % 2
    centre = size / 2 + (torch.rand(2 * n, 2, generator=g) - 0.5) * size / 8
    r = ((yy - centre[:, 0, None, None]) ** 2 + (xx - centre[:, 1, None, None]) ** 2).sqrt()
    sigma = size / 32 * (1.5 + 3.0 * torch.rand(2 * n, generator=g))
    radius = size / 32 * (5.0 + 5.0 * torch.rand(2 * n, generator=g))
    blob = torch.exp(-0.5 * (r / sigma[:, None, None]) ** 2)
    ring = torch.exp(-0.5 * ((r - radius[:, None, None]) / 1.0) ** 2)
    noise = 0.1 * torch.randn(2 * n, size, size, generator=g)
    img = torch.where(labels[:, None, None] == 0, blob, ring) + noise
    img = img[:, None]
    img = (img - img.mean((1, 2, 3), keepdim=True)) / img.std((1, 2, 3), keepdim=True)
    return img, labels, sigma


def train(model, task: TaskSpec, x, y, steps: int = 20, lr: float = 1e-3, batch: int = 32, seed: int = 0):
    """A minimal stand-in for the trainer: AdamW, the model's loss hook or the default loss."""
    if hasattr(model, "fit_classical") and n_trainable(model) == 0:
        model.fit_classical(x.numpy(), y.numpy())
        return model.eval()
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=g)
        b = {"image": x[idx], "target": y[idx]}
        out = model(b["image"])
        if hasattr(model, "loss"):
            loss = model.loss(b, out)["loss"]
        elif task.kind == "classification":
            loss = F.cross_entropy(out, b["target"])
        else:
            loss = F.mse_loss(out, b["target"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


# --- registration ------------------------------------------------------------------------------

def test_registered_names_families_and_sources():
    assert set(SPECS) == set(TIMM + ANOMALY + REFERENCE)
    assert len(SPECS) == len(catalog.specs())  # no duplicate names
    for name, spec in SPECS.items():
        assert isinstance(spec, ModelSpec)
        assert spec.family == ("reference" if name in REFERENCE else "baseline"), name
        assert spec.description and "\n" not in spec.description
        module, attr = spec.source.split(":")
        assert callable(getattr(importlib.import_module(module), attr)), spec.source
        assert isinstance(dict(spec.config), dict)
    for name in TIMM:
        assert SPECS[name].kinds == ("classification", "regression")
        assert SPECS[name].config["pretrained"] is False
    for name in ANOMALY:
        assert SPECS[name].kinds == ("anomaly",)
    assert [SPECS[n].kinds for n in REFERENCE] == [("classification",), ("regression",), ("anomaly",),
                                                   ("classification",)]


def test_entry_point_returns_these_specs():
    from importlib.metadata import entry_points

    eps = [ep for ep in entry_points(group="lensbench.models") if ep.value == "lensbench.baselines.catalog:specs"]
    assert len(eps) == 1, "pyproject.toml must declare baselines.catalog:specs under lensbench.models"
    assert [s.name for s in eps[0].load()()] == list(SPECS)


# --- shapes at 64 and 150 px --------------------------------------------------------------------

CASES = [(name, kind) for name, spec in SPECS.items() for kind in spec.kinds]


@pytest.mark.parametrize("size", [64, 150])
@pytest.mark.parametrize(("name", "kind"), CASES)
def test_builds_and_forwards(name, kind, size):
    torch.manual_seed(0)
    task = make_task(kind, size=size, n_classes=3, n_targets=2)
    model = SPECS[name].factory(task)
    x = torch.randn(3, 1, size, size)
    if hasattr(model, "fit_classical"):
        y = np.arange(24) % 3 if kind == "classification" else np.zeros((3, 2), np.float32)
        model.fit_classical(torch.randn(24, 1, size, size).numpy(), y if kind != "anomaly" else np.zeros(24))
    model.eval()
    with torch.no_grad():
        out = model(x)
        if kind == "classification":
            assert out.shape == (3, 3)
        elif kind == "regression":
            assert out.shape == (3, 2)
        else:
            score = model.anomaly_score(x)
            assert score.shape == (3,) and score.dtype == torch.float32
            assert torch.isfinite(score).all()


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_rectangular_three_channel_inputs(name, kind):
    """3 x 50 x 70: neither side a multiple of 8 or 16 (padding paths of the ViT and the autoencoders)."""
    torch.manual_seed(0)
    task = TaskSpec(**{**make_task(kind, n_classes=2).to_dict(), "input_shape": (3, 50, 70),
                       "presets": _PRESETS})
    model = SPECS[name].factory(task)
    x = torch.randn(2, 3, 50, 70)
    if hasattr(model, "fit_classical"):
        y = np.zeros((8, 1), np.float32) if kind == "regression" else np.array([0, 1] * 4)
        model.fit_classical(torch.randn(8, 3, 50, 70).numpy(), y)
    with torch.no_grad():
        model.eval()
        if kind == "anomaly":
            assert model.anomaly_score(x).shape == (2,)
            out = model(x)
            recon = out["recon"] if isinstance(out, dict) else out
            if recon.ndim == 4:  # the autoencoders reconstruct at the input size
                assert recon.shape == x.shape
        else:
            assert model(x).shape == (2, task.n_outputs)


# --- weights and parameter counts ---------------------------------------------------------------

def test_no_model_loads_pretrained_weights(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a baseline tried to load pretrained weights")

    monkeypatch.setattr(timm_builder, "load_pretrained", refuse)
    monkeypatch.setattr(timm_builder, "load_custom_pretrained", refuse)
    for name in TIMM:
        SPECS[name].factory(make_task("classification"))
    with pytest.raises(ValueError, match="pretrained"):
        build_timm(make_task("classification"), timm_name="resnet18", pretrained=True)


# Parameter counts at 1x64x64, 3 classes (timm's published sizes, adjusted for 1 channel / 3 classes).
EXPECTED_PARAMS = {
    "resnet18": (11.0e6, 11.4e6), "resnet10t": (4.7e6, 5.1e6), "efficientnet-b0": (3.8e6, 4.2e6),
    "convnext-atto": (3.2e6, 3.5e6), "vit-tiny-p8": (5.2e6, 5.5e6),
    "conv-ae": (0.5e6, 2e6), "vae": (0.5e6, 2.5e6), "aae": (0.5e6, 2.5e6), "deep-svdd": (0.1e6, 1e6),
}


@pytest.mark.parametrize("name", list(SPECS))
def test_parameter_counts(name):
    spec = SPECS[name]
    model = spec.factory(make_task(spec.kinds[0], n_classes=3))
    n = n_trainable(model)
    if name in EXPECTED_PARAMS:
        lo, hi = EXPECTED_PARAMS[name]
        assert lo <= n <= hi, f"{name}: {n} parameters"
    else:  # classical and reference rows train nothing
        assert n == 0, f"{name}: {n} trainable parameters"


# --- anomaly hooks ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n in ANOMALY if n != "iforest-pca"])
def test_anomaly_loss_dict_is_finite_and_backpropagates(name):
    torch.manual_seed(0)
    model = SPECS[name].factory(make_task("anomaly"))
    x = torch.randn(4, 1, 64, 64)
    model.train()
    parts = model.loss({"image": x, "target": torch.zeros(4, dtype=torch.long), "aux": {}}, model(x))
    assert "loss" in parts and parts["loss"].ndim == 0
    assert all(torch.isfinite(v) and v.ndim == 0 for v in parts.values())
    parts["loss"].backward()
    assert sum(p.grad is not None for p in model.parameters()) == len(list(model.parameters()))
    model.eval()
    with torch.no_grad():  # the trainer's val loss: eval mode, no "aux"
        val = model.loss({"image": x, "target": torch.zeros(4, dtype=torch.long)}, model(x))
    assert all(torch.isfinite(v) for v in val.values())


def test_vae_logs_recon_and_kl_separately():
    model = SPECS["vae"].factory(make_task("anomaly")).train()
    x = torch.randn(4, 1, 64, 64)
    parts = {k: v.detach() for k, v in model.loss({"image": x}, model(x)).items()}
    assert {"loss", "recon", "kl"} <= set(parts) and float(parts["kl"]) > 0
    expected = float(parts["recon"]) + float(parts["kl"]) / (64 * 64)
    assert float(parts["loss"]) == pytest.approx(expected, rel=1e-5)


def test_aae_single_backward_routes_each_term_to_its_player():
    """One backward of the total equals: encoder <- recon + adv_weight * gen (discriminator frozen),
    decoder <- recon, discriminator <- disc on prior vs detached codes (never the gen term)."""
    torch.manual_seed(0)
    model: AdversarialAutoencoder = SPECS["aae"].factory(make_task("anomaly")).train()
    x = torch.randn(6, 1, 64, 64)

    def grads(loss_fn):
        model.zero_grad(set_to_none=True)
        loss_fn(model(x)).backward()
        return {n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
                for n, p in model.named_parameters()}

    def total(out):
        torch.manual_seed(1)  # the prior draw inside loss()
        return model.loss({"image": x}, out)["loss"]

    def by_hand(out):
        z, d = out["z"], model.discriminator
        ones, zeros = torch.ones(len(x)), torch.zeros(len(x))
        recon = (out["recon"] - x).pow(2).flatten(1).mean(1).mean()
        torch.manual_seed(1)
        prior = torch.randn(z.shape)
        disc = (F.binary_cross_entropy_with_logits(d(prior).squeeze(1), ones)
                + F.binary_cross_entropy_with_logits(d(z.detach()).squeeze(1), zeros))
        gen_enc = F.binary_cross_entropy_with_logits(d(z).squeeze(1), ones)  # reaches D too...
        return recon + disc + model.adv_weight * gen_enc

    g_total, g_hand = grads(total), grads(by_hand)
    assert all(v.abs().sum() > 0 for v in g_total.values())  # every player learns from one backward
    for n in g_total:
        if n.startswith("discriminator."):  # ...so D's gradients must differ: only disc reaches D
            assert not torch.allclose(g_total[n], g_hand[n], atol=1e-7), n
        else:  # encoder and decoder: identical to recon + adv_weight * gen
            torch.testing.assert_close(g_total[n], g_hand[n], rtol=1e-4, atol=1e-7)

    def disc_only(out):
        torch.manual_seed(1)
        prior = torch.randn(out["z"].shape)
        d = model.discriminator
        return (F.binary_cross_entropy_with_logits(d(prior).squeeze(1), torch.ones(len(x)))
                + F.binary_cross_entropy_with_logits(d(out["z"].detach()).squeeze(1), torch.zeros(len(x))))

    g_disc = grads(disc_only)
    for n in g_total:
        if n.startswith("discriminator."):
            torch.testing.assert_close(g_total[n], g_disc[n], rtol=1e-4, atol=1e-7)


def test_aae_eval_loss_is_reconstruction_and_deterministic():
    model = SPECS["aae"].factory(make_task("anomaly")).eval()
    x = torch.randn(4, 1, 64, 64)
    with torch.no_grad():
        a, b = model.loss({"image": x}, model(x)), model.loss({"image": x}, model(x))
    assert float(a["loss"]) == pytest.approx(float(a["recon"]))
    assert all(float(a[k]) == float(b[k]) for k in a)


def test_deep_svdd_centre_fixed_from_first_training_batch():
    torch.manual_seed(0)
    model: DeepSVDD = SPECS["deep-svdd"].factory(make_task("anomaly"))
    assert all(not isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert all("bias" not in n for n, _ in model.named_parameters())
    x, _, _ = blobs_and_rings(16, size=64)
    model.train()
    z0 = model(x).detach()
    model.loss({"image": x}, model(x))
    expected = z0.mean(0)
    small = expected.abs() < model.eps
    expected[small] = torch.where(expected[small] < 0, -model.eps, model.eps)
    torch.testing.assert_close(model.c, expected)
    c = model.c.clone()
    train(model, make_task("anomaly"), x, torch.zeros(len(x), dtype=torch.long), steps=3)
    torch.testing.assert_close(model.c, c)  # never moves afterwards
    restored = SPECS["deep-svdd"].factory(make_task("anomaly"))
    restored.load_state_dict(model.state_dict())  # the centre travels with the checkpoint
    torch.testing.assert_close(restored.c, c)
    assert bool(restored.c_ready)


def test_iforest_is_deterministic_and_survives_state_dict():
    task = make_task("anomaly", size=32)
    x, _, _ = blobs_and_rings(40, size=32)
    torch.manual_seed(3)
    a = SPECS["iforest-pca"].factory(task)
    with pytest.raises(RuntimeError, match="fit_classical"):
        a.anomaly_score(x)
    a.fit_classical(x.numpy(), np.zeros(len(x)))
    torch.manual_seed(3)
    b = SPECS["iforest-pca"].factory(task)
    b.fit_classical(x.numpy(), np.zeros(len(x)))
    torch.testing.assert_close(a.anomaly_score(x), b.anomaly_score(x))
    c = SPECS["iforest-pca"].factory(task)
    c.load_state_dict(a.state_dict())
    torch.testing.assert_close(c.anomaly_score(x), a.anomaly_score(x))


# --- reference rows -----------------------------------------------------------------------------

def test_class_prior_predicts_training_frequencies():
    model = SPECS["class-prior"].factory(make_task("classification", n_classes=3))
    model.fit_classical(np.zeros((10, 1, 64, 64)), np.array([0] * 5 + [1] * 3 + [2] * 2))
    p = model(torch.randn(4, 1, 64, 64)).softmax(1)
    torch.testing.assert_close(p, torch.tensor([[0.5, 0.3, 0.2]] * 4))
    y = np.array([0, 1, 2, 0])
    assert roc_auc_score(y, p.numpy(), multi_class="ovr", average="macro") == 0.5
    with pytest.raises(ValueError, match="class-prior"):
        model.fit_classical(np.zeros((2, 1, 64, 64)), np.array([0, 3]))


def test_mean_predictor_predicts_training_mean():
    model = SPECS["mean-predictor"].factory(make_task("regression", n_targets=2))
    model.fit_classical(np.zeros((3, 1, 64, 64)), np.array([[1.0, -1.0], [2.0, 0.0], [3.0, 4.0]]))
    torch.testing.assert_close(model(torch.randn(2, 1, 64, 64)), torch.tensor([[2.0, 1.0]] * 2))


def test_random_score_is_uninformative_and_batch_independent():
    x, labels, _ = blobs_and_rings(200, size=32)
    model = SPECS["random-score"].factory(make_task("anomaly", size=32))
    model.fit_classical(x.numpy(), np.zeros(len(x)))
    s = model.anomaly_score(x)
    torch.testing.assert_close(torch.cat([model.anomaly_score(x[:7]), model.anomaly_score(x[7:])]), s)
    assert ((s >= 0) & (s < 1)).all() and s.unique().numel() == len(s)
    assert 0.4 < roc_auc_score(labels.numpy(), s.numpy()) < 0.6


# --- learning sanity on an easy synthetic problem -------------------------------------------------

@pytest.fixture(scope="module")
def synthetic():
    x_train, y_train, s_train = blobs_and_rings(64, size=32, seed=0)
    x_test, y_test, s_test = blobs_and_rings(64, size=32, seed=1)
    return x_train, y_train, s_train, x_test, y_test, s_test


# (model, steps, lr, min AUC, min accuracy). The ViT learns from scratch more slowly: it gets more
# steps, a lower lr, and is held to a clearly-above-chance AUC (chance: 0.5 +- 0.05 on 128 images).
CLASSIFIERS = [("resnet10t", 20, 1e-3, 0.95, 0.85), ("convnext-atto", 20, 1e-3, 0.95, 0.85),
               ("vit-tiny-p8", 40, 5e-4, 0.8, 0.0)]


@pytest.mark.parametrize(("name", "steps", "lr", "min_auc", "min_acc"), CLASSIFIERS)
def test_classification_learns_blob_vs_ring(name, steps, lr, min_auc, min_acc, synthetic):
    x, y, _, xt, yt, _ = synthetic
    torch.manual_seed(0)
    task = make_task("classification", size=32, n_classes=2)
    model = train(SPECS[name].factory(task), task, x, y, steps=steps, lr=lr)
    with torch.no_grad():
        p = model(xt).softmax(1)[:, 1].numpy()
    auc, acc = roc_auc_score(yt.numpy(), p), float(((p > 0.5) == yt.numpy()).mean())
    assert auc > min_auc and acc >= min_acc, (name, auc, acc)


def test_regression_learns_blob_width(synthetic):
    """Blob width (standardised, variance 1 on train) from blob images: MSE far below the 1.0 of
    the mean predictor."""
    x, y, s, xt, yt, st = synthetic
    keep, keep_t = y == 0, yt == 0
    mean, std = s[keep].mean(), s[keep].std()
    target, target_t = ((s[keep] - mean) / std)[:, None], ((st[keep_t] - mean) / std)[:, None]
    torch.manual_seed(0)
    task = make_task("regression", size=32)
    model = train(SPECS["resnet10t"].factory(task), task, x[keep], target, steps=60)
    with torch.no_grad():
        mse = float(F.mse_loss(model(xt[keep_t]), target_t))
    assert mse < 0.3, mse


@pytest.mark.parametrize("name", ANOMALY)
def test_anomaly_model_separates_rings_from_blobs(name, synthetic):
    x, y, _, xt, yt, _ = synthetic
    torch.manual_seed(0)
    task = make_task("anomaly", size=32)
    normal = x[y == 0]
    zeros = torch.zeros(len(normal), dtype=torch.long)
    model = train(SPECS[name].factory(task), task, normal, zeros, steps=30)
    with torch.no_grad():
        score = model.anomaly_score(xt)
    assert score.shape == (len(xt),) and torch.isfinite(score).all()
    auc = roc_auc_score(yt.numpy(), score.numpy())
    assert auc > 0.9, (name, auc)


# --- through the project's trainer ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["aae", "vae", "deep-svdd", "iforest-pca", "random-score",
                                  "class-prior", "mean-predictor", "global-stats", "resnet10t"])
def test_runs_through_the_trainer(name):
    """One epoch of benchmark.trainer.fit: the hooks match the trainer's contract (dict outputs,
    eval-mode val loss without "aux", state_dict copy and reload of the selected epoch)."""
    kind = SPECS[name].kinds[0]
    x, labels, sigma = blobs_and_rings(24, size=32)
    task = make_task(kind, size=32, n_classes=2)
    budget = Budget(epochs=1, batch_size=16)
    if kind == "anomaly":
        keep = labels == 0
        x, target = x[keep], torch.zeros(int(keep.sum()), dtype=torch.long)
        names, scaler = np.array(["normal"] * len(x)), None
    elif kind == "regression":
        target = ((sigma - sigma.mean()) / sigma.std())[:, None]
        names, scaler = np.array(["lens"] * len(x)), TargetScaler(None, np.zeros(1), np.ones(1))
    else:
        target, names, scaler = labels, np.array(["c0", "c1"])[labels.numpy()], None
    split = TaskSplit(x, target, names, {"theta_E": sigma.numpy()}, scaler)
    torch.manual_seed(0)
    res = trainer.fit(task, SPECS[name].factory(task), budget, split, split, seed=0,
                      device=torch.device("cpu"), progress=False)
    finite = [v for v in res.metrics_val.values() if isinstance(v, float)]
    assert finite and all(np.isfinite(finite))
    if kind == "anomaly":
        score = res.model.eval().anomaly_score(x)
        assert score.shape == (len(x),) and torch.isfinite(score).all()


def test_iforest_gets_no_checkpoint_rather_than_a_pickle(tmp_path, caplog):
    """safetensors holds tensors only; iforest-pca's fitted estimators are pickled objects, so the
    runner keeps no checkpoint for it (verify would otherwise have to unpickle)."""
    from lensbench import records
    from lensbench.run import runner

    task = make_task("anomaly", size=32)
    model = SPECS["iforest-pca"].factory(task)
    x, _, _ = blobs_and_rings(20, size=32)
    model.fit_classical(x.numpy(), np.zeros(len(x)))
    rec = records.RunRecord(task=task.id, task_version=1, preset="quick", model="iforest-pca", model_family="baseline",
                            seed=0, status="ok", primary_metric="auc", higher_is_better=True,
                            lensbench_version="0", dataset="toy", dataset_fingerprint="f", task_config_hash="t",
                            model_config_hash="m")
    assert runner.save_checkpoint(model, tmp_path, rec) is None
    assert "non-tensor entries" in caplog.text and not list(tmp_path.rglob("*.safetensors"))
    conv = SPECS["conv-ae"].factory(task)
    rel = runner.save_checkpoint(conv, tmp_path, rec)
    assert rel and (tmp_path / rel).is_file()
