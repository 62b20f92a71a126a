"""d4-cnn (D4-invariant G-CNN, hand-written p4m layers) and its ordinary-CNN twin d4-cnn-nosym."""

from __future__ import annotations

import pytest
import torch
from conftest import make_task

from lensbench import registry
from lensbench.pinn_models import equivariant, steerable
from lensbench.run.augment import apply_dihedral

ELEMENTS = [(k, flip) for flip in (False, True) for k in range(4)]


def _task(kind="classification", channels=1, size=16, **kw):
    return make_task(kind, size=size, input_shape=(channels, size, size), **kw)


def _build(name, task):
    return registry.models.get(name).factory(task)


def _settled(model, x):
    """``model`` in eval mode after a few train-mode passes, so batch-norm running statistics and
    the outputs are not the trivial ones of a fresh model."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
        model.train()
        for _ in range(3):
            model(x)
    return model.eval()


def _max_change(model, x):
    """Largest change of the output over the 8 dihedral transforms of the input, relative to its scale."""
    with torch.no_grad():
        y = model(x)
        diffs = [float((model(apply_dihedral(x, k, flip)) - y).abs().max()) for k, flip in ELEMENTS]
    return max(diffs) / float(y.abs().max())


def test_d4_composition_and_inverse_match_the_image_transforms():
    """``compose`` / ``inverse`` (closed forms) agree with applying the flips and rotations to an
    asymmetric image, and the Cayley table is a Latin square with 8 distinct transforms."""
    img = torch.arange(25.0).view(5, 5)
    images = {tuple(steerable.transform_image(img, g).flatten().tolist()) for g in range(8)}
    assert len(images) == 8
    for i, a in enumerate(steerable.ELEMENTS):
        back = steerable.transform_image(steerable.transform_image(img, i), steerable.ELEMENTS.index(steerable.inverse(a)))
        assert torch.equal(back, img)
        for j, b in enumerate(steerable.ELEMENTS):
            ab = steerable.ELEMENTS.index(steerable.compose(a, b))
            assert torch.equal(steerable.transform_image(steerable.transform_image(img, j), i),
                               steerable.transform_image(img, ab))
    table = steerable.cayley_table()
    assert all(sorted(row) == list(range(8)) for row in table)
    assert all(sorted(col) == list(range(8)) for col in zip(*table))
    assert table[1][4] != table[4][1]  # D4 is not abelian: the permutation's order matters


@pytest.mark.parametrize("size", [8, 9])
def test_lifting_and_group_convolutions_are_equivariant_for_every_element(size):
    """conv(g . x) == g . conv(x) for all 8 elements, where g acts on a feature map on the group
    spatially and by moving orientation channel h to g h; the group conv fails with the group axis
    left unpermuted (so the check can fail)."""
    torch.manual_seed(0)
    lift, conv = steerable.LiftingConv(2, 3, 5).double(), steerable.GroupConv(3, 4, 3).double()
    image = torch.randn(2, 2, size, size, dtype=torch.float64)
    feature = torch.randn(2, 3 * 8, size, size, dtype=torch.float64)
    with torch.no_grad():
        y_lift, y_conv = lift(image), conv(feature)
        for g in range(8):
            torch.testing.assert_close(lift(steerable.transform_image(image, g)), steerable.transform_feature(y_lift, g))
            torch.testing.assert_close(conv(steerable.transform_feature(feature, g)),
                                       steerable.transform_feature(y_conv, g))
        conv.perm = torch.arange(8).expand(8, 8)
        y_conv = conv(feature)
        gaps = [float((conv(steerable.transform_feature(feature, g)) - steerable.transform_feature(y_conv, g)).abs().max())
                for g in range(8)]
    assert gaps[0] < 1e-12 and min(gaps[1:]) > 1e-2


@pytest.mark.parametrize("channels, size", [(1, 64), (3, 64), (1, 33), (3, 150)])
def test_d4_cnn_output_is_invariant_to_the_8_dihedral_transforms(channels, size):
    """Exact invariance on the grid, even and odd sizes (33 -> 17 -> 9 -> 5; 150 -> 75 -> 38 -> 19)."""
    torch.manual_seed(0)
    x = torch.randn(2 if size > 64 else 4, channels, size, size)
    model = _settled(_build("d4-cnn", _task(channels=channels, size=size, classes=("a", "b", "c"))), x)
    assert _max_change(model, x) < 1e-5


def test_the_twin_is_not_invariant_and_plain_2x2_pooling_of_an_odd_size_breaks_d4():
    """The test above can fail: the twin's outputs change under the transforms, and so would d4-cnn's
    with a plain 2x2 pool on an odd size (it drops the last row and column)."""
    torch.manual_seed(0)
    x = torch.randn(4, 1, 33, 33)
    twin = _settled(_build("d4-cnn-nosym", _task(size=33)), x)
    assert _max_change(twin, x) > 1e-2
    d4 = _settled(_build("d4-cnn", _task(size=33)), x)
    d4.pool.forward = lambda t: torch.nn.functional.avg_pool2d(t, 2, 2)
    assert _max_change(d4, x) > 1e-4


@pytest.mark.parametrize("channels, n_classes", [(1, 2), (1, 3), (3, 2), (3, 4)])
def test_twin_parameter_count_is_within_one_percent(channels, n_classes):
    classes = tuple("abcd"[:n_classes])
    task = _task(channels=channels, classes=classes)
    n_d4, n_twin = (equivariant.n_trainable(_build(m, task)) for m in ("d4-cnn", "d4-cnn-nosym"))
    assert n_d4 == equivariant.d4_params(channels, n_classes)
    assert n_twin == equivariant.plain_params(channels, n_classes, equivariant.twin_widths(channels, n_classes))
    assert abs(n_twin - n_d4) <= 0.01 * n_d4
    assert 145_000 < n_d4 < 160_000


def test_registered_pair_twin_family_and_config():
    d4, twin = registry.models.get("d4-cnn"), registry.models.get("d4-cnn-nosym")
    assert (d4.family, d4.twin, twin.family, twin.twin) == ("pinn", "d4-cnn-nosym", "ablation", "d4-cnn")
    assert d4.config["symmetry"] is True and twin.config["symmetry"] is False
    assert d4.config["ablation_of"] == twin.config["ablation_of"] == "d4-cnn"
    assert d4.kinds == twin.kinds == ("classification", "regression")
    assert twin.config["widths"] == equivariant.twin_widths(1, 3)  # the fixed value in the config is the matched one
    assert d4.config["channels"] == tuple(8 * f for f in d4.config["fields"])


@pytest.mark.parametrize("name", ["d4-cnn", "d4-cnn-nosym"])
def test_only_invariant_regression_targets_and_square_images_are_accepted(name):
    with pytest.raises(ValueError, match=r"\['e1', 'gamma2'\].*invariant"):
        _build(name, _task("regression", target=("theta_E", "e1", "gamma2"), classes=("lens",)))
    with pytest.raises(ValueError, match="square"):
        _build(name, make_task(input_shape=(1, 16, 20)))
    with pytest.raises(ValueError, match="anomaly"):
        _build(name, _task("anomaly", classes=("no_sub", "cdm")))
    model = _build(name, _task("regression", target=("theta_E", "log10_m_a"), classes=("lens",)))
    assert model(torch.randn(3, 1, 16, 16)).shape == (3, 2)


@pytest.mark.parametrize("name", ["d4-cnn", "d4-cnn-nosym"])
def test_gradients_reach_every_parameter_and_a_few_steps_fit_a_tiny_batch(name):
    torch.manual_seed(0)
    task = _task(classes=("a", "b", "c"))
    model = _build(name, task).train()
    x, y = torch.randn(12, 1, 16, 16), torch.arange(12) % 3
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for step in range(15):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        if step == 0:
            dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
            assert not dead, f"no gradient reaches {dead}"
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.3 * losses[0]


def test_state_dict_has_the_same_keys_in_train_and_eval_mode():
    """The state_dict is the learnable weights and batch-norm buffers only (no expanded filter bank,
    no Cayley permutation), the same in train and eval mode, so the trainer's copy (taken after
    evaluation) and checkpoints load into freshly built models. Moving one model to another dtype (or
    device) leaves other models alone."""
    task = _task()
    model = _build("d4-cnn", task)
    keys_train = set(model.train().state_dict())
    state = model.eval().state_dict()
    assert set(state) == keys_train and not any(k.endswith(".perm") for k in state)
    assert set(state) == {n for n, _ in model.named_parameters()} | {n for n, _ in model.named_buffers()} - {
        n for n, _ in model.named_buffers() if n.endswith(".perm")}
    fresh = _build("d4-cnn", task)
    fresh.load_state_dict(state)  # strict
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(fresh.eval()(x), model(x))
        model.double()
        torch.testing.assert_close(fresh(x), model.float()(x))
        model.double()
        assert {b.dtype for b in model.buffers() if b.is_floating_point()} == {torch.float64}
        assert {b.dtype for b in fresh.buffers() if b.is_floating_point()} == {torch.float32}


def test_lensbench_run_end_to_end_and_clear_refusal(capsys, toy_bench):
    """``lensbench run`` on the toy classification task (``trainer.fit``, 2 epochs): a record that
    learnt the task, a checkpoint that loads into a fresh model; on the toy regression task (target 'radius', not a known invariant) a failed
    record that says why."""
    from lensbench import records
    from lensbench.cli import main

    common = ["--seeds", "0", "--results", str(toy_bench.results_dir), "--tracking-uri", toy_bench.tracking_uri,
              "--no-progress", "--checkpoint-dir", str(toy_bench.results_dir / "ckpt")]
    assert main(["run", "--task", "test/classification", "--model", "d4-cnn", *common]) == 0
    rec = next(records.iter_records(toy_bench.results_dir))
    assert rec.status == "ok" and rec.model_family == "pinn" and rec.metrics_test["auc_macro"] > 0.8
    assert rec.n_params == equivariant.d4_params(1, 2)
    from safetensors.torch import load_file

    fresh = _build("d4-cnn", registry.tasks.get("test/classification"))
    fresh.load_state_dict(load_file(str(toy_bench.results_dir / "ckpt" / rec.checkpoint)))
    main(["run", "--task", "test/regression", "--model", "d4-cnn", *common])
    failed = [r for r in records.iter_records(toy_bench.results_dir) if r.task == "test/regression"]
    assert failed and failed[0].status == "failed" and "['radius']" in failed[0].error
    assert "invariant" in failed[0].error and "Traceback" not in capsys.readouterr().err
