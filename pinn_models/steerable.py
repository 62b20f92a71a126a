"""D4 steerable layers (``e2cnn``) and the D4-invariant CNN of ``d4-cnn`` (model card:
``lensbench.pinn_models.equivariant``).

Kept apart from the registration module so that listing models does not import ``e2cnn`` (about
2 s); ``equivariant`` imports this module when it builds a model. ``e2cnn`` (Weiler & Cesa 2019) is
used rather than its successor ``escnn``, which needs a Fortran compiler to install.
"""

from __future__ import annotations

import copy
import types

import numpy as np
import torch
import torch.nn.functional as F
from e2cnn import gspaces
from e2cnn import nn as enn
from e2cnn.kernels import irreps_basis
from e2cnn.kernels import utils as kernel_utils
from e2cnn.nn import init as e2cnn_init
from torch import nn

GROUP_ORDER = 8  # |D4|: channels per regular field
HE_SCALES: dict[tuple, torch.Tensor] = {}  # layer shape -> e2cnn's He-initialisation scale per weight


# ----------------------------------------------------------------------------- e2cnn on numpy 2
# e2cnn 0.2.3 (the last release) predates numpy 2 in two places on the D4 path: its kernel bases hash
# ``ndarray.tostring()`` (removed) and ``e2cnn.kernels.utils`` calls ``np.array(x, copy=False)`` (an
# error in numpy 2 when a copy is needed). Both get their numpy-1 behaviour here, nothing else.
def kernel_basis_hash(self) -> int:
    """e2cnn's ``__hash__`` of its kernel bases with ``tobytes`` for ``tostring`` (the same bytes)."""
    gamma = self.gamma.tobytes() if isinstance(self.gamma, np.ndarray) else self.gamma
    return hash(self.in_irrep) + hash(self.out_irrep) + hash(self.mu.tobytes()) + hash(gamma)


class NumpyCopyIfNeeded(types.ModuleType):
    """numpy for ``e2cnn.kernels.utils``, where ``np.array(x, copy=False)`` means numpy 1's "copy only
    if needed" (numpy 2: ``np.asarray``)."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def array(obj, *args, copy=True, **kwargs):
        return np.asarray(obj, *args, **kwargs) if copy is False else np.array(obj, *args, copy=copy, **kwargs)


if not hasattr(np.ndarray, "tostring"):  # numpy >= 2
    for solution in ("R2FlipsSolution", "R2ContinuousRotationsSolution", "R2FlipsDiscreteRotationsSolution",
                     "R2FlipsContinuousRotationsSolution"):
        getattr(irreps_basis, solution).__hash__ = kernel_basis_hash
    kernel_utils.np = NumpyCopyIfNeeded("numpy")


# ----------------------------------------------------------------------------- layers
class SymmetricPool(nn.Module):
    """Average pool by 2 that maps the pixel grid onto itself under the 8 dihedral transforms: kernel
    2 / stride 2 on an even size (blocks {2i, 2i+1} go to blocks), kernel 3 / stride 2 / padding 1
    on an odd size (windows centred on the even pixels 0, 2, ..., n - 1 go to such windows). Plain
    2x2 pooling of an odd size would drop the last row and column and break the symmetry."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2 == 0:
            return F.avg_pool2d(x, 2, 2)
        return F.avg_pool2d(x, 3, 2, padding=1)


class SteerableConv(enn.R2Conv):
    """``e2cnn.nn.R2Conv`` whose state_dict is its learnable basis coefficients only, the same in
    train and eval mode. It expands its filter from the basis on every forward: e2cnn's own caches the
    filter as a buffer in eval mode only, so a state_dict taken in one mode would not load in the other
    (the trainer copies it after evaluating on val; checkpoints are loaded into freshly built models)."""

    def __init__(self, in_type: enn.FieldType, out_type: enn.FieldType, kernel_size: int, **kwargs):
        super().__init__(in_type, out_type, kernel_size, initialize=False, **kwargs)
        self.he_init()
        for name in ("filter", "expanded_bias"):
            if name in dict(self.named_buffers(recurse=False)):
                delattr(self, name)
        # e2cnn caches one sampled basis per layer shape and shares that module between layers and
        # models: each layer gets its own copy (a model moved to another device must not move the
        # basis of the others). The basis is fixed by the architecture: rebuilt on construction, not
        # checkpointed (safetensors would also refuse the shared tensors).
        for name, child in list(self.basisexpansion.named_children()):
            setattr(self.basisexpansion, name, copy.deepcopy(child))
        for module in self.basisexpansion.modules():
            for name, buf in list(module.named_buffers(recurse=False)):
                delattr(module, name)
                module.register_buffer(name, buf, persistent=False)

    def he_init(self) -> None:
        """e2cnn's generalised He initialisation (``weights = sqrt-variance * N(0, 1)``), its variances
        computed once per layer shape (e2cnn recomputes them per layer in a slow Python loop)."""
        key = (tuple(r.name for r in self.in_type.representations),
               tuple(r.name for r in self.out_type.representations), self.kernel_size)
        if key not in HE_SCALES:
            e2cnn_init.generalized_he_init(self.weights.data, self.basisexpansion, cache=True)
            HE_SCALES[key] = e2cnn_init.cached_he_vars.pop(self.basisexpansion)
        else:
            self.weights.data.copy_(HE_SCALES[key] * torch.randn_like(self.weights))

    def train(self, mode: bool = True):
        return nn.Module.train(self, mode)

    def forward(self, x: enn.GeometricTensor) -> enn.GeometricTensor:
        weight, bias = self.expand_parameters()
        out = F.conv2d(x.tensor, weight, bias=bias, padding=self.padding)
        return enn.GeometricTensor(out, self.out_type)


# ----------------------------------------------------------------------------- the network
class D4CNN(nn.Module):
    """Steerable CNN on D4 (``gspaces.FlipRot2dOnR2(N=4)``), exactly invariant on the square grid.

    Input channels are trivial fields; each stage is a steerable convolution to ``fields`` regular
    fields (zero padding k // 2, stride 1, no bias), ``InnerBatchNorm`` and ReLU, with a
    ``SymmetricPool`` between stages; then group pooling (max over each field's 8 channels), a global
    spatial mean and a linear head.
    """

    def __init__(self, in_channels: int, n_outputs: int, stages, kernels):
        super().__init__()
        self.gspace = gspaces.FlipRot2dOnR2(N=4)
        self.in_type = enn.FieldType(self.gspace, [self.gspace.trivial_repr] * in_channels)
        self.blocks = nn.ModuleList()
        ftype = self.in_type
        for fields, k in zip(stages, kernels):
            out = enn.FieldType(self.gspace, [self.gspace.regular_repr] * fields)
            self.blocks.append(enn.SequentialModule(
                SteerableConv(ftype, out, kernel_size=k, padding=k // 2, bias=False),
                enn.InnerBatchNorm(out), enn.ReLU(out, inplace=True)))
            ftype = out
        self.group_pool = enn.GroupPooling(ftype)
        self.pool = SymmetricPool()
        self.head = nn.Linear(stages[-1], n_outputs)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The invariant feature vector (N, fields of the last stage)."""
        g = enn.GeometricTensor(x, self.in_type)
        for i, block in enumerate(self.blocks):
            if i:
                g = enn.GeometricTensor(self.pool(g.tensor), g.type)
            g = block(g)
        return self.group_pool(g).tensor.mean(dim=(-2, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
