"""The trainer: fit on train under the task's fixed budget, choose the checkpoint on val, test once.

Plain PyTorch. The budget (epochs, batch size, AdamW lr / weight decay, patience) comes from the
task preset; a model cannot change it. Data order, initialisation and augmentation-free batching
are seeded, so the same command and seed give the same numbers on the same machine. The test split
is not even loaded until training has finished (``evaluate_test`` is the only place that loads it).
What depends on the task kind (default loss, predictions, metrics, how the checkpoint is chosen)
comes from ``lensbench.kinds``.
"""

from __future__ import annotations

import copy
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from lensbench import kinds
from lensbench.data.taskdata import TaskSplit
from lensbench.specs import Budget, TaskSpec


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite; the run is recorded as failed."""


@dataclass
class FitResult:
    model: torch.nn.Module  # holding the selected (best-on-val) weights
    selected_epoch: int
    epochs_run: int
    metrics_val: dict
    history: list[dict] = field(default_factory=list)
    train_time_s: float = 0.0


def n_trainable(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _loss(model, batch: dict, output: torch.Tensor, kind: kinds.Kind) -> dict[str, torch.Tensor]:
    """The model's own ``loss(batch, output)`` parts, else the kind's default loss."""
    if hasattr(model, "loss"):
        parts = model.loss(batch, output)
        if not isinstance(parts, dict) or "loss" not in parts:
            raise TypeError(f"{type(model).__name__}.loss() must return a dict with the total under 'loss'")
        return parts
    return {"loss": kind.loss(output, batch["target"])}


@torch.no_grad()
def predict(task: TaskSpec, model, split: TaskSplit, device, batch_size: int, autocast: bool = False
            ) -> np.ndarray:
    """Class probabilities (N, K), standardised predictions (N, T) or anomaly scores (N,)
    (``Kind.predict``)."""
    kind = kinds.get(task.kind)
    model.eval()
    outs = []
    for start in range(0, len(split), batch_size):
        x = split.images[start:start + batch_size].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            out = kind.predict(model, x)
        outs.append(out.float().cpu())
    return torch.cat(outs).numpy().astype(np.float64)


def score(task: TaskSpec, split: TaskSplit, pred: np.ndarray, ci: bool = True) -> dict:
    """All metrics of a split from predictions (``Kind.score``; ``ci=False``: no bootstrap intervals,
    for val)."""
    return kinds.get(task.kind).score(task, split.target.numpy(), pred, scaler=split.scaler,
                                      class_names=split.class_names, ci=ci)


@torch.no_grad()
def _val_loss(model, split: TaskSplit, kind: kinds.Kind, device, batch_size: int) -> dict[str, float]:
    model.eval()
    sums, n = defaultdict(float), 0
    for start in range(0, len(split), batch_size):
        x = split.images[start:start + batch_size].to(device)
        batch = {"image": x, "target": split.target[start:start + batch_size].to(device)}
        parts = _loss(model, batch, model(x), kind)
        for k, v in parts.items():
            sums[k] += float(v) * len(x)
        n += len(x)
    return {k: v / n for k, v in sums.items()}


def _better(a: float, b: float | None, higher: bool) -> bool:
    return b is None or (a > b if higher else a < b)


def fit(
    task: TaskSpec,
    model: torch.nn.Module,
    budget: Budget,
    train: TaskSplit,
    val: TaskSplit,
    *,
    seed: int,
    device: torch.device,
    autocast: bool = False,
    on_epoch: Callable[[int, dict], None] | None = None,
    progress: bool = True,
) -> FitResult:
    """Train under ``budget``; keep the weights of the best epoch on val (primary metric, or val loss
    for anomaly tasks, whose val split holds normal data only)."""
    kind = kinds.get(task.kind)
    model.to(device)
    t0 = time.perf_counter()
    if hasattr(model, "fit_classical") and n_trainable(model) == 0:
        model.fit_classical(train.images.numpy(), train.target.numpy())
        val_metrics = _val_metrics(task, model, val, device, budget.batch_size)
        return FitResult(model, 0, 0, val_metrics, [], time.perf_counter() - t0)

    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=budget.lr, weight_decay=budget.weight_decay)
    aux = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in train.columns.items()}
    history, best, best_state, best_epoch, best_val, stale = [], None, None, 0, {}, 0
    key, higher = _selection_key(task)
    bar = tqdm(range(1, budget.epochs + 1), desc=f"{task.id}", unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        sums, n = defaultdict(lambda: torch.zeros(())), 0
        order = torch.randperm(len(train), generator=gen)
        for start in range(0, len(train), budget.batch_size):
            idx = order[start:start + budget.batch_size]
            batch = {
                "image": train.images[idx].to(device, non_blocking=True),
                "target": train.target[idx].to(device, non_blocking=True),
                "aux": {k: v[idx].to(device, non_blocking=True) for k, v in aux.items()},
            }
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                output = model(batch["image"])
                parts = _loss(model, batch, output, kind)
            loss = parts["loss"]
            if not torch.isfinite(loss):
                raise NonFiniteLoss(f"non-finite training loss ({float(loss.detach())}) at epoch {epoch}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            for k, v in parts.items():
                sums[k] = sums[k] + v.detach().float().cpu() * len(idx)
            n += len(idx)
        row = {"epoch": epoch, **{f"train_{k}": float(v) / n for k, v in sums.items()}}
        val_metrics = _val_metrics(task, model, val, device, budget.batch_size, autocast)
        row.update({f"val_{k}": v for k, v in val_metrics.items() if isinstance(v, (int, float))})
        history.append(row)
        if on_epoch:
            on_epoch(epoch, row)
        current = val_metrics[key]
        bar.set_postfix({f"val_{key}": f"{current:.4f}"})
        if _better(current, best, higher):
            best, best_epoch, best_val, stale = current, epoch, val_metrics, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if budget.patience is not None and stale >= budget.patience:
                break
    model.load_state_dict(best_state)
    return FitResult(model, best_epoch, len(history), best_val, history, time.perf_counter() - t0)


def _selection_key(task: TaskSpec) -> tuple[str, bool]:
    if kinds.get(task.kind).selects_on_val_loss:
        return "loss", False
    return task.primary_metric, task.higher_is_better


def _val_metrics(task, model, val: TaskSplit, device, batch_size: int, autocast: bool = False) -> dict:
    kind = kinds.get(task.kind)
    if kind.selects_on_val_loss and n_trainable(model) == 0:  # a fitted scorer: its mean val score
        out = {"loss": float(np.mean(predict(task, model, val, device, batch_size)))}
    elif kind.selects_on_val_loss:
        out = _val_loss(model, val, kind, device, batch_size)
    else:
        out = score(task, val, predict(task, model, val, device, batch_size, autocast), ci=False)
    bad = [k for k, v in out.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise NonFiniteLoss(f"non-finite validation metric(s) {bad}")
    return out
