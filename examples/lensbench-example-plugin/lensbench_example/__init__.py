"""Example LensBench plugin: a tiny CNN registered through the ``lensbench.models`` entry point.

Install it next to LensBench (``pip install -e examples/lensbench-example-plugin``); then
``lensbench list models`` shows ``example-tiny-cnn`` and
``lensbench run --task substructure/lensbench-v1 --model example-tiny-cnn`` trains it.
"""

from __future__ import annotations

import torch
from torch import nn

from lensbench.specs import ModelSpec


class TinyCNN(nn.Module):
    """Three conv blocks and a linear head; works for any input size and channel count."""

    def __init__(self, in_channels: int, n_outputs: int, width: int = 16):
        super().__init__()
        blocks, c = [], in_channels
        for out in (width, 2 * width, 4 * width):
            blocks += [nn.Conv2d(c, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
            c = out
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(c, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def tiny_cnn(task) -> nn.Module:
    """A tiny 3-block CNN (example plugin)."""
    return TinyCNN(task.input_shape[0], task.n_outputs)


def specs() -> list[ModelSpec]:
    return [ModelSpec(name="example-tiny-cnn", factory=tiny_cnn, family="user",
                      kinds=("classification", "regression"), description="tiny 3-block CNN (example plugin)",
                      source="lensbench_example:tiny_cnn", config={"width": 16})]
