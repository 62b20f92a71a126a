"""D4 group-equivariant layers (a hand-written p4m G-CNN in plain torch) and the D4-invariant CNN of
``d4-cnn`` (model card: ``lensbench.pinn_models.equivariant``).

Cohen & Welling 2016 ("Group equivariant convolutional networks") on D4, the 8 symmetries of the
square pixel grid. A feature map on the group has 8 orientation channels per field, laid out
field-major (channel ``8 * field + g``). The group element ``g = (r, f)`` acts on an image as "mirror
the last axis if ``f``, then rotate by ``r`` quarter turns" (``torch.flip`` then ``torch.rot90``);
on a feature map on the group it also moves orientation channel ``h`` to ``g h``
(``transform_feature``). Each layer's filter bank is expanded from its learnable weights on every
forward (nothing cached, so the state_dict is the learnable weights only, in train and eval mode).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

GROUP_ORDER = 8  # |D4|: orientation channels per field
ELEMENTS = tuple((r, f) for f in (0, 1) for r in range(4))  # index i <-> (rotation r, flip f)


# ----------------------------------------------------------------------------- the group D4
def compose(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """``a b`` (apply ``b`` first). With ``g = R^r M^f`` and ``M R M = R^-1``:
    ``R^r1 M^f1 R^r2 M^f2 = R^(r1 + (-1)^f1 r2) M^(f1 xor f2)``."""
    (r1, f1), (r2, f2) = a, b
    return ((r1 + (-r2 if f1 else r2)) % 4, f1 ^ f2)


def inverse(g: tuple[int, int]) -> tuple[int, int]:
    """``g^-1``: a rotation by ``-r``; a mirror (``f = 1``) is its own inverse."""
    r, f = g
    return (r, 1) if f else ((-r) % 4, 0)


def cayley_table() -> list[list[int]]:
    """``table[i][j]``: index of ``ELEMENTS[i] ELEMENTS[j]``."""
    return [[ELEMENTS.index(compose(a, b)) for b in ELEMENTS] for a in ELEMENTS]


def filter_permutations() -> list[list[int]]:
    """``perm[g][h]`` = index of ``g^-1 h``: the group axis of the filter transformed by ``g``
    (Cohen & Welling eq. 10: ``[L_g psi](h) = psi(g^-1 h)``), read off the Cayley table."""
    table = cayley_table()
    return [[table[ELEMENTS.index(inverse(g))][h] for h in range(GROUP_ORDER)] for g in ELEMENTS]


def transform_image(x: torch.Tensor, g: int) -> torch.Tensor:
    """Element ``ELEMENTS[g]`` acting on the last two (square) axes of ``x``."""
    r, f = ELEMENTS[g]
    x = torch.flip(x, dims=(-1,)) if f else x
    return torch.rot90(x, r, dims=(-2, -1)) if r else x


def transform_feature(x: torch.Tensor, g: int) -> torch.Tensor:
    """Element ``g`` acting on a feature map on the group ``(N, fields * 8, H, W)``: spatially, and
    orientation channel ``h`` of the result is channel ``g^-1 h`` of ``x``."""
    n, c, h, w = x.shape
    perm = torch.tensor(filter_permutations()[g], device=x.device)
    return transform_image(x.view(n, c // GROUP_ORDER, GROUP_ORDER, h, w)[:, :, perm], g).reshape(n, c, h, w)


# ----------------------------------------------------------------------------- layers
class LiftingConv(nn.Module):
    """Image (N, in, H, W) -> feature map on the group (N, out * 8, H, W): channel ``8 o + g`` is the
    correlation with filter ``o`` transformed by ``g``. Zero padding k // 2, stride 1, no bias."""

    def __init__(self, in_channels: int, out_fields: int, kernel_size: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_fields, in_channels, kernel_size, kernel_size))
        nn.init.kaiming_normal_(self.weight, nonlinearity="relu")  # fan-in: in * k * k

    def expanded_weight(self) -> torch.Tensor:
        """(out * 8, in, k, k): the 8 transformed copies of each filter."""
        w = torch.stack([transform_image(self.weight, g) for g in range(GROUP_ORDER)], dim=1)
        return w.reshape(-1, *self.weight.shape[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.expanded_weight(), padding=self.weight.shape[-1] // 2)


class GroupConv(nn.Module):
    """Feature map on the group (N, in * 8, H, W) -> (N, out * 8, H, W): output orientation ``g``
    correlates with the filter transformed by ``g`` spatially and on its group axis
    (``filter_permutations``). Zero padding k // 2, stride 1, no bias."""

    def __init__(self, in_fields: int, out_fields: int, kernel_size: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_fields, in_fields, GROUP_ORDER, kernel_size, kernel_size))
        nn.init.kaiming_normal_(self.weight, nonlinearity="relu")  # fan-in: in * 8 * k * k
        self.register_buffer("perm", torch.tensor(filter_permutations()), persistent=False)

    def expanded_weight(self) -> torch.Tensor:
        """(out * 8, in * 8, k, k)."""
        o, i, _, k, _ = self.weight.shape
        w = torch.stack([transform_image(self.weight[:, :, self.perm[g]], g) for g in range(GROUP_ORDER)], dim=1)
        return w.reshape(o * GROUP_ORDER, i * GROUP_ORDER, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.expanded_weight(), padding=self.weight.shape[-1] // 2)


class GroupBatchNorm(nn.BatchNorm3d):
    """Batch norm of a feature map on the group with one mean, variance, scale and shift per field,
    shared by its 8 orientation channels (``BatchNorm3d`` over the (N, fields, 8, H, W) view)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return super().forward(x.view(n, c // GROUP_ORDER, GROUP_ORDER, h, w)).view(n, c, h, w)


class SymmetricPool(nn.Module):
    """Average pool by 2 that maps the pixel grid onto itself under the 8 dihedral transforms: kernel
    2 / stride 2 on an even size (blocks {2i, 2i+1} go to blocks), kernel 3 / stride 2 / padding 1
    on an odd size (windows centred on the even pixels 0, 2, ..., n - 1 go to such windows). Plain
    2x2 pooling of an odd size would drop the last row and column and break the symmetry."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2 == 0:
            return F.avg_pool2d(x, 2, 2)
        return F.avg_pool2d(x, 3, 2, padding=1)


def orientation_max(x: torch.Tensor) -> torch.Tensor:
    """Invariant group pooling: (N, fields * 8, H, W) -> (N, fields, H, W), max over orientations."""
    n, c, h, w = x.shape
    return x.view(n, c // GROUP_ORDER, GROUP_ORDER, h, w).amax(dim=2)


# ----------------------------------------------------------------------------- the network
class D4CNN(nn.Module):
    """p4m G-CNN, exactly invariant on the square grid.

    A lifting convolution to ``stages[0]`` fields, then group convolutions; each followed by
    ``GroupBatchNorm`` and ReLU, with a ``SymmetricPool`` between stages; then the max over each
    field's 8 orientations, a global spatial mean and a linear head.
    """

    def __init__(self, in_channels: int, n_outputs: int, stages, kernels):
        super().__init__()
        self.blocks = nn.ModuleList()
        fields = None
        for out, k in zip(stages, kernels):
            conv = LiftingConv(in_channels, out, k) if fields is None else GroupConv(fields, out, k)
            # not in-place: ReLU in place on the batch norm's view costs a copy in the backward (~20%)
            self.blocks.append(nn.Sequential(conv, GroupBatchNorm(out), nn.ReLU()))
            fields = out
        self.pool = SymmetricPool()
        self.head = nn.Linear(stages[-1], n_outputs)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The invariant feature vector (N, fields of the last stage)."""
        for i, block in enumerate(self.blocks):
            x = block(self.pool(x) if i else x)
        return orientation_max(x).mean(dim=(-2, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def d4_param_count(in_channels: int, n_outputs: int, stages, kernels) -> int:
    """Trainable parameters of ``D4CNN``: lifting filters ``out x in x k^2``, group filters
    ``out x in x 8 x k^2``, batch-norm scale and shift per field, linear head."""
    total, prev = 0, None
    for out, k in zip(stages, kernels):
        total += out * (in_channels if prev is None else prev * GROUP_ORDER) * k * k + 2 * out
        prev = out
    return total + prev * n_outputs + n_outputs

