"""Trivial reference predictors: the floor every leaderboard row must beat.

- ``class-prior`` (classification): predicts the training class frequencies for every image, so
  every one-vs-rest AUC is exactly 0.5 and accuracy equals the majority-class share.
- ``mean-predictor`` (regression): predicts the training mean of the standardised targets
  (0 up to rounding), so the MSE in standardised units is the target variance (about 1).
- ``random-score`` (anomaly): a pseudo-random uniform score in [0, 1) for each image, derived
  from a fixed-seed random projection of its pixels through a sine hash. It is deterministic per
  image (independent of batching and order) and carries no information: expected AUC 0.5.

None has trainable parameters; the trainer calls ``fit_classical`` once on the train split.
State lives in buffers, so checkpoints carry it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lensbench import kinds
from lensbench.specs import TaskSpec


class ClassPrior(nn.Module):
    """Logits = log of the training class frequencies (uniform until fitted)."""

    def __init__(self, task: TaskSpec):
        super().__init__()
        kinds.require(task, "class-prior", "classification")
        self.register_buffer("log_prior", torch.full((task.n_outputs,), -float(np.log(task.n_outputs))))

    def fit_classical(self, images: np.ndarray, targets: np.ndarray) -> None:
        y = np.asarray(targets).astype(np.int64).ravel()
        k = self.log_prior.numel()
        if y.size == 0 or y.min() < 0 or y.max() >= k:
            raise ValueError(f"class-prior: targets must be integer labels in [0, {k}), "
                             f"got values {np.unique(y)[:10]}")
        counts = np.bincount(y, minlength=k).astype(np.float64)
        prior = np.maximum(counts / counts.sum(), 1e-12)
        self.log_prior.copy_(torch.as_tensor(np.log(prior), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_prior.expand(len(x), -1).clone()


class MeanPredictor(nn.Module):
    """Predicts the training mean of every (standardised) target."""

    def __init__(self, task: TaskSpec):
        super().__init__()
        kinds.require(task, "mean-predictor", "regression")
        self.register_buffer("mean", torch.zeros(task.n_outputs))

    def fit_classical(self, images: np.ndarray, targets: np.ndarray) -> None:
        y = np.asarray(targets, dtype=np.float64).reshape(len(targets), -1)
        if y.shape[1] != self.mean.numel():
            raise ValueError(f"mean-predictor: expected targets (N, {self.mean.numel()}), got {y.shape}")
        self.mean.copy_(torch.as_tensor(y.mean(0), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mean.expand(len(x), -1).clone()


class RandomScore(nn.Module):
    """Per-image pseudo-random anomaly score in [0, 1), fixed by ``seed``."""

    def __init__(self, task: TaskSpec, seed: int = 0):
        super().__init__()
        kinds.require(task, "random-score", "anomaly")
        n = int(np.prod(task.input_shape))
        g = torch.Generator().manual_seed(int(seed))
        self.register_buffer("projection", torch.randn(n, generator=g, dtype=torch.float64) / np.sqrt(n))

    def fit_classical(self, images: np.ndarray, targets: np.ndarray) -> None:
        """Nothing to learn."""

    @torch.no_grad()
    def anomaly_score(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.sin(x.flatten(1).double() @ self.projection * 12.9898 + 78.233) * 43758.5453
        return torch.frac(h).abs().float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.anomaly_score(x)
