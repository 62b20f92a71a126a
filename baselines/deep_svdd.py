"""Deep SVDD (Ruff et al., ICML 2018): one-class anomaly detection by a learned hypersphere.

A bias-free convolutional network maps each image to an embedding; training pulls the embeddings
of normal images towards a centre ``c`` (the one-class objective, mean squared distance); the
anomaly score is the squared distance to ``c``. ``c`` is fixed once, from the mean embedding of
the *initial* network on the first training batch (the first ``loss`` call in training mode), with
coordinates near zero pushed to +-eps as in the reference implementation. Every layer is bias-free
and has no learnable affine normalisation, so the trivial "map everything to c" solution is not
reachable. No normalisation layer is used at all, so train and eval modes compute the same
function (a batch-norm's batch vs running statistics would otherwise move embeddings relative to
``c``). ``c`` and the flag that it is set live in buffers, so checkpoints carry them.
"""

from __future__ import annotations

import torch
from torch import nn

from lensbench import kinds
from lensbench.specs import TaskSpec

DEFAULTS = {"widths": (32, 64, 128), "rep_dim": 64, "pool_grid": 4, "eps": 0.1}


class DeepSVDD(nn.Module):
    def __init__(self, task: TaskSpec, widths=DEFAULTS["widths"], rep_dim: int = DEFAULTS["rep_dim"],
                 pool_grid: int = DEFAULTS["pool_grid"], eps: float = DEFAULTS["eps"]):
        super().__init__()
        kinds.require(task, "deep-svdd", "anomaly")
        layers, ch = [], int(task.input_shape[0])
        for wd in widths:
            layers += [nn.Conv2d(ch, wd, 5, padding=2, bias=False), nn.LeakyReLU(0.1), nn.MaxPool2d(2)]
            ch = wd
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(pool_grid), nn.Flatten())
        self.head = nn.Linear(ch * pool_grid * pool_grid, rep_dim, bias=False)
        for m in self.modules():  # He init keeps the embedding scale ~1, well above eps
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, a=0.1, nonlinearity="leaky_relu")
        self.eps = float(eps)
        self.register_buffer("c", torch.zeros(rep_dim))
        self.register_buffer("c_ready", torch.zeros((), dtype=torch.bool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding (N, rep_dim)."""
        return self.head(self.features(x))

    @torch.no_grad()
    def set_center(self, z: torch.Tensor) -> None:
        c = z.detach().float().mean(0)
        small = c.abs() < self.eps
        c[small & (c < 0)] = -self.eps
        c[small & (c >= 0)] = self.eps
        self.c.copy_(c)
        self.c_ready.fill_(True)

    def distance(self, z: torch.Tensor) -> torch.Tensor:
        return (z.float() - self.c).pow(2).sum(1)

    def loss(self, batch: dict, output: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.training and not bool(self.c_ready):
            self.set_center(output)
        dist = self.distance(output).mean()
        return {"loss": dist, "dist": dist.detach()}

    @torch.no_grad()
    def anomaly_score(self, x: torch.Tensor) -> torch.Tensor:
        return self.distance(self(x))


def deep_svdd(task: TaskSpec, **config) -> nn.Module:
    return DeepSVDD(task, **config)
