"""A D4-invariant group-equivariant CNN (``d4-cnn``) and its ordinary-CNN twin of equal parameter count
(``d4-cnn-nosym``), entry point ``lensbench.pinn_models.equivariant:specs``.

Model card
----------
**Physics used: the symmetry of the sky.** Lensing commutes with rotations and reflections: rotating
(mirroring) every mass and source rotates (mirrors) the lensed image (``lensbench.run.augment``).
D4, the 8 rotations by multiples of 90 degrees with or without a mirror, is the part of that symmetry
that maps a square pixel grid onto itself exactly, pixel centre to pixel centre, so it needs no
interpolation. ``d4-cnn`` is a group-equivariant CNN on D4 (the p4m G-CNN of Cohen & Welling 2016,
hand-written in plain torch in ``lensbench.pinn_models.steerable``): a lifting convolution turns the
image into a feature map on the group (8 orientation channels per field: the correlation with each
filter turned and mirrored by each group element), and group convolutions map such feature maps to
feature maps, each filter transformed spatially and on its group axis (permuted through the D4
Cayley table, derived in code from the composition rule), so every layer is exactly equivariant on
the grid (``tests/test_equivariant.py`` checks each layer for all 8 elements). Orientation pooling
(max over each field's 8 channels) and a global spatial average make an invariant feature vector; a
linear head maps it to logits (classification) or standardised predictions (regression). The output
is therefore exactly invariant (to float rounding) under the 8 transforms of the input.

*Why hand-written, not a library.* ``e2cnn`` (Weiler & Cesa 2019) 0.2.3, its last release, fails on
numpy 2 (``ndarray.tostring``, ``np.array(copy=False)``) and would need its internals patched;
its successor ``escnn`` needs a Fortran compiler to install. For D4 on the pixel grid with regular
fields both libraries build the same kind of layer as here; the G-CNN needs only ``torch.rot90``,
``torch.flip`` and one ``F.conv2d`` per layer, about 150 lines. (e2cnn's band-limited ring basis had
fewer free parameters per filter: 102k at the same widths against 152k here.)

Architecture (``STAGES`` = 4, 16, 32, 48 regular fields, i.e. 32, 128, 256, 384 channels;
``lensbench.pinn_models.steerable``): a 5x5 lifting convolution, then 3x3 group convolutions (zero
padding k // 2, stride 1, no bias), each followed by ``GroupBatchNorm`` (one mean, variance, scale and
shift per field, shared by its 8 orientation channels) and ReLU; between stages an average pool
that maps the grid onto itself (``SymmetricPool``: kernel 2 / stride 2 on an even size, kernel 3 /
stride 2 / padding 1 on an odd size; plain 2x2 pooling of an odd size drops the last row and column
and breaks the symmetry). Any square size works (64 px -> 32 -> 16 -> 8; 150 px -> 75 -> 38 -> 19).
152,511 trainable parameters for 1 channel and 3 classes (``d4_params``, closed form): weights
(out, in, k, k) for the lifting and (out, in, 8, k, k) for the group convolutions, He-initialised
with the group axis in the fan-in. The 8x larger filter bank is expanded from them on every forward
(never stored), so the state_dict holds only learnable weights and batch-norm buffers, the same in
train and eval mode.

**The twin** ``d4-cnn-nosym`` is the same network with ``nn.Conv2d`` / ``BatchNorm2d`` and no group
pooling: same depth, kernels, pooling and head, widths scaled by one factor (``twin_widths``,
computed per task) so that its trainable parameter count is within 1% of ``d4-cnn``'s. It can learn
the symmetry only from data (and from the budget's dihedral augmentation, when a task turns it on).

**When the symmetry is valid.** Simulated LensBench images are exactly D4-symmetric in distribution:
round Gaussian PSF, square pixels, isotropic lens and source orientations, subhalo positions and
noise. It holds only approximately for real images whose PSF is elongated or asymmetric, with
non-square pixels, a preferred direction (CCD bleed trails, diffraction spikes, a fixed read-out
direction) or an anisotropic selection; there the invariance is a prior that may cost accuracy.
An invariant network cannot predict anything that changes under the group: regression targets must
all be invariant (``augment.INVARIANT``: Einstein radius, axion mass, subhalo mass fraction...);
ellipticities, shear and positions (``regression/macro-lens``) are refused at build time.

**Where gradients flow.** Task loss (the kind's default: cross-entropy or MSE) -> linear head ->
orientation pooling (to the maximal channel of each field) -> each layer's weights through all 8
of their transformed copies (rotations, mirrors and group-axis permutations are linear maps, so the
gradient of a weight sums those of its copies) and the batch-norm affine parameters. No physics loss term, no auxiliary targets.

**Cost per step** (``perf/equivariant_step.py``: batch 64 x 1 x 64 x 64, 3 classes, AdamW, 1 CPU
thread; figures in the ``equivariant`` section of ``perf/README.md``): best step 1.07 s against
0.58 s for ``resnet10t`` (1.8x) and 0.18 s for the twin (5.9x), measured on a loaded 2-core machine
(the e2cnn version measured 2.3x with convolutions of the same size; step times on this shared
machine vary by tens of percent between runs). At
equal parameter count the twin is far cheaper, not the other way round: a regular field is 8
channels sharing one filter up to the group action, so ``d4-cnn`` convolves about sqrt(8) times the
twin's channels at each stage (8x the multiply-adds for the same parameters). The goal "step <= 2x
the twin's" of the PINN protocol cannot hold for a weight-shared equivariant network at equal
parameters; an equal-compute twin would instead have about 8x the parameters. Expanding the filter
banks on every forward (and its backward) costs about 20 ms of the step.

**Known failure cases.** (1) Symmetry-breaking signal: a task whose answer depends on orientation (a
non-round PSF that differs between classes, a fixed-direction artefact) is invisible to it. (2)
Non-square images are refused (D4 does not map a rectangle onto itself). (3) Invariance to only 90
degree steps: rotations by other angles are learnt from data, as in any CNN. (4) The global average
after the last stage (receptive field about 40 px at 64 px) treats larger configurations as a bag of
local features; an arc much wider than that is seen piecewise. (5) Orientation pooling keeps, per field,
only its strongest orientation response. (6) bf16 autocast rounds the features; invariance is then
to bf16 precision only.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from lensbench import kinds
from lensbench.pinn_models.steerable import D4CNN, SymmetricPool, d4_param_count
from lensbench.run.augment import INVARIANT
from lensbench.specs import ModelSpec, TaskSpec

STAGES = (4, 16, 32, 48)      # regular D4 fields per stage of d4-cnn (8 channels each)
KERNELS = (5, 3, 3, 3)        # kernel size per stage
PARAM_TOLERANCE = 0.01        # the twin's trainable parameter count is within 1% of d4-cnn's
KINDS = ("classification", "regression")
# The twin's widths for a 1-channel, 3-class task (``twin_widths(1, 3)``, checked by the tests);
# other tasks get their own, matched the same way.
TWIN_WIDTHS_1CH_3CLASS = (11, 45, 90, 136)


def check_task(task: TaskSpec, model: str) -> tuple[int, int]:
    """``(channels, n_outputs)`` of ``task``; ``ValueError`` for an unsupported kind, a non-square
    image or a regression target that is not invariant under the 8 dihedral transforms."""
    kinds.require(task, model, *KINDS)
    c, h, w = (int(s) for s in task.input_shape)
    if h != w:
        raise ValueError(f"{model}: task {task.id!r} has {h}x{w} images; the D4 symmetry needs square images")
    if task.kind == "regression":
        variant = [t for t in task.target if t not in INVARIANT]
        if variant:
            raise ValueError(f"{model}: task {task.id!r} regresses {variant}, which change under rotations or "
                             f"mirrors of the image; a D4-invariant network can only predict invariant targets "
                             f"({', '.join(sorted(INVARIANT - {'label'}))})")
    return c, task.n_outputs


def n_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ----------------------------------------------------------------------------- the twin
class PlainCNN(nn.Module):
    """The twin: the same stages with ``nn.Conv2d`` (no bias) + ``BatchNorm2d`` + ReLU, the same
    pooling between stages, a global average and a linear head; no symmetry built in."""

    def __init__(self, in_channels: int, n_outputs: int, widths, kernels=KERNELS):
        super().__init__()
        layers, c = [], in_channels
        for i, (w, k) in enumerate(zip(widths, kernels)):
            if i:
                layers.append(SymmetricPool())
            layers += [nn.Conv2d(c, w, k, padding=k // 2, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            c = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean(dim=(-2, -1)))


def plain_params(in_channels: int, n_outputs: int, widths, kernels=KERNELS) -> int:
    """Trainable parameters of ``PlainCNN`` (convolutions, batch-norm affine, linear head)."""
    total, c = 0, in_channels
    for w, k in zip(widths, kernels):
        total += c * w * k * k + 2 * w
        c = w
    return total + c * n_outputs + n_outputs


def d4_params(in_channels: int, n_outputs: int, stages=STAGES, kernels=KERNELS) -> int:
    """Trainable parameters of ``d4-cnn`` (closed form, ``steerable.d4_param_count``)."""
    return d4_param_count(in_channels, n_outputs, stages, kernels)


@functools.lru_cache(maxsize=32)
def twin_widths(in_channels: int, n_outputs: int, stages=STAGES, kernels=KERNELS) -> tuple[int, ...]:
    """Widths of the twin: ``stages`` times one common factor (each rounded), the factor (a multiple
    of 1/200) chosen so that the twin's parameter count is closest to ``d4_params``; ``ValueError``
    if that is not within ``PARAM_TOLERANCE``."""
    target = d4_params(in_channels, n_outputs, stages, kernels)
    candidates = {tuple(max(1, round(s * step / 200)) for s in stages) for step in range(1, 4001)}
    widths = min(sorted(candidates), key=lambda w: abs(plain_params(in_channels, n_outputs, w, kernels) - target))
    gap = abs(plain_params(in_channels, n_outputs, widths, kernels) - target)
    if gap > PARAM_TOLERANCE * target:
        raise ValueError(f"d4-cnn-nosym: no widths within {PARAM_TOLERANCE:.0%} of d4-cnn's {target} parameters "
                         f"(closest {widths}, off by {gap})")
    return widths


# ----------------------------------------------------------------------------- factories
def build_d4(task: TaskSpec, *, stages=STAGES, kernels=KERNELS, **_config) -> nn.Module:
    """``d4-cnn`` for ``task`` (the ``D4CNN`` of ``lensbench.pinn_models.steerable``)."""
    c, n_out = check_task(task, "d4-cnn")
    return D4CNN(c, n_out, tuple(stages), tuple(kernels))


def build_twin(task: TaskSpec, *, stages=STAGES, kernels=KERNELS, **_config) -> PlainCNN:
    """``d4-cnn-nosym``; it refuses exactly what ``d4-cnn`` refuses, so the pair runs on the same tasks."""
    c, n_out = check_task(task, "d4-cnn-nosym")
    return PlainCNN(c, n_out, twin_widths(c, n_out, tuple(stages), tuple(kernels)), tuple(kernels))


# The medium learning-rate factor (``ModelSpec.lr_scales``), one for the pair so the twin trains as d4-cnn
# does, picked on validation by ``perf/lr_sweep.py`` (``perf/README.md``, section lr-sweep): factor 1 is best
# for both (val 0.796 / 0.768 at seed 0, against 0.790 / 0.745 at 0.5 and 0.786 / 0.760 at 2).
LR_SCALES: dict[str, float] = {"medium": 1.0}


def specs() -> list[ModelSpec]:
    common = {"stages": STAGES, "kernels": KERNELS, "pool": "avg 2/2 (even size), 3/2 pad 1 (odd size)",
              "ablation_of": "d4-cnn"}
    return [
        ModelSpec(
            name="d4-cnn", factory=build_d4, family="pinn", kinds=KINDS, twin="d4-cnn-nosym",
            description=("D4-invariant group-equivariant CNN (p4m G-CNN: lifting and group convolutions over "
                         "the 8 rotations by 90 degrees and mirrors; orientation max-pooling, global average, "
                         "linear head); regression on invariant targets only"),
            source=f"{__name__}:build_d4",
            config={**common, "symmetry": True, "group": "D4 (p4m G-CNN, Cohen & Welling 2016)",
                    "fields": STAGES, "channels": tuple(8 * s for s in STAGES)}, lr_scales=LR_SCALES),
        ModelSpec(
            name="d4-cnn-nosym", factory=build_twin, family="ablation", kinds=KINDS, twin="d4-cnn",
            description=("symmetry-off twin of d4-cnn: the same stages with ordinary convolutions, widths "
                         "matched to d4-cnn's parameter count (within 1%)"),
            source=f"{__name__}:build_twin",
            config={**common, "symmetry": False, "widths": TWIN_WIDTHS_1CH_3CLASS,
                    "widths_rule": "stages x one factor, matched per task to d4-cnn's trainable parameter "
                                   "count (within 1%); 'widths' is the 1-channel, 3-class case"}, lr_scales=LR_SCALES),
    ]
