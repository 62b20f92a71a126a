"""The trainer: fit on train under the task's fixed budget, choose the checkpoint on val, test once.

Plain PyTorch. The budget (epochs or images seen, batch size, AdamW lr / weight decay, patience,
learning-rate schedule, augmentation) comes from the task preset; a model cannot change it, except
for its registered ``lr_scales`` entry of the preset (a multiplier of the lr, tuned on validation) and,
for a model made of parts that train at different rates, its ``lr_multipliers`` attribute (submodule
name -> multiplier of the model's lr for that submodule's parameters; ``param_groups``). The schedule is a
``LambdaLR`` stepped per optimiser step (``lr_factor``: linear warm-up, then cosine decay to 0).
Augmentation (``Budget.augment``) draws one of the 8 dihedral symmetries per training image from its
own generator (``BatchAugment``); validation and test images are never transformed. Data order,
initialisation and augmentation are seeded, so the same command and seed give the same numbers on
the same machine. The test split is not even loaded until training has finished (``evaluate_test``
in ``lensbench.run.runner`` is the only place that loads it).
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
from lensbench.run import augment
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
    curve: list[dict] = field(default_factory=list)  # per epoch: epoch, images_seen, val_<key>, train_loss, lr
    train_cpu_s: float = 0.0  # CPU seconds of this process (time.process_time) while training


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
def predict(task: TaskSpec, model, split: TaskSplit, device, batch_size: int, outputs: bool = False):
    """Class probabilities (N, K), standardised predictions (N, T) or anomaly scores (N,)
    (``Kind.from_outputs``); with ``outputs``, ``(predictions, raw outputs)``, both float64 (the raw
    outputs are what the predictions were made from: a classifier's logits)."""
    kind = kinds.get(task.kind)
    model.eval()
    raws = []
    for start in range(0, len(split), batch_size):
        x = split.images[start:start + batch_size].to(device, non_blocking=True)
        raws.append(kind.outputs(model, x).float().cpu())
    raw = torch.cat(raws)
    pred = kind.from_outputs(raw).numpy().astype(np.float64)
    return (pred, raw.numpy().astype(np.float64)) if outputs else pred


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


def lr_factor(step: int, total_steps: int, warmup: float) -> float:
    """Multiplier of the base lr for optimiser step ``step`` (0-based) of ``total_steps``: linear
    warm-up over the first ``ceil(warmup * total_steps)`` steps (from 1/w to 1), then a cosine from 1
    at the end of warm-up down to 0 after the last step."""
    w = math.ceil(warmup * total_steps)
    if step < w:
        return (step + 1) / w
    return 0.5 * (1.0 + math.cos(math.pi * (step - w + 1) / max(total_steps - w + 1, 1)))


def param_groups(model: torch.nn.Module, lr: float) -> list[dict]:
    """AdamW parameter groups: one at ``lr``, plus one per entry of the model's ``lr_multipliers``
    (submodule name -> factor) at ``lr`` x factor holding that submodule's trainable parameters."""
    multipliers = getattr(model, "lr_multipliers", None) or {}
    if not isinstance(multipliers, dict):
        raise TypeError(f"lr_multipliers of {type(model).__name__} must be a dict, got {type(multipliers).__name__}")
    groups, taken = [], set()
    for name, factor in multipliers.items():
        try:
            module = model.get_submodule(name)
        except (AttributeError, TypeError):
            raise ValueError(f"lr_multipliers of {type(model).__name__} names {name!r}, not a submodule") from None
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < float("inf"):
            raise ValueError(f"lr_multipliers[{name!r}] of {type(model).__name__} must be a positive number, "
                             f"got {factor!r}")
        params = [p for p in module.parameters() if p.requires_grad and id(p) not in taken]
        groups.append({"params": params, "lr": lr * float(factor)})
        taken.update(id(p) for p in params)
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in taken]
    return [{"params": rest, "lr": lr}, *groups]


def make_scheduler(opt: torch.optim.Optimizer, budget: Budget, total_steps: int):
    """The budget's schedule as a ``LambdaLR`` (call ``step()`` after each optimiser step); None for
    a constant lr."""
    if budget.schedule == "constant":
        return None
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, total_steps, budget.warmup))


class BatchAugment:
    """Dihedral augmentation of training batches (``lensbench.run.augment``), from its own generator.

    Images are transformed; regression targets (standardised with the train ``TargetScaler``) and the
    simulation parameters under ``batch["aux"]`` follow the same element, so a loss that reads them
    stays consistent. Aux columns no symmetry is defined for (unknown names, a position without its
    partner) are left out of augmented batches. Mirrors are drawn only when no column is
    rotation-only (``augment.ROTATION_ONLY``, a real source galaxy's index or angle). A regression
    target that changes under the symmetries cannot be augmented through a log10 transform
    (ValueError).
    """

    def __init__(self, task: TaskSpec, train: TaskSplit, seed: int):
        self.generator = torch.Generator().manual_seed(1_000_003 + seed)  # data order keeps its own stream
        names = set(train.columns) | (set(task.target) if task.kind == "regression" else set())
        self.flips = not (augment.ROTATION_ONLY & names)
        self.aux = [c for c in train.columns if _has_symmetry(c, train.columns, self.flips)]
        self.columns, self.mean, self.std = None, None, None
        if task.kind == "regression":
            self.columns = list(task.target)
            scaler = train.scaler
            changing = [c for c in self.columns if c not in augment.INVARIANT]
            if scaler.transform is not None and changing:
                raise ValueError(f"task {task.id}: targets {changing} change under rotations and cannot be augmented "
                                 f"through the {scaler.transform} transform")
            self.mean = torch.as_tensor(scaler.mean, dtype=torch.float32)
            self.std = torch.as_tensor(scaler.std, dtype=torch.float32)

    def __call__(self, batch: dict) -> dict:
        x = batch["image"]
        k, flip = augment.random_elements(len(x), self.generator, flips=self.flips, device=x.device)
        out = {"image": augment.apply_dihedral(x, k, flip), "target": batch["target"]}
        if self.columns is not None:
            out["target"] = augment.transform_targets(batch["target"], k, flip, self.columns,
                                                      mean=self.mean.to(x.device), std=self.std.to(x.device))
        aux = {c: batch["aux"][c] for c in self.aux}
        out["aux"] = augment.transform_targets(aux, k, flip) if aux else aux
        return out


def _has_symmetry(column: str, columns, flips: bool) -> bool:
    """Whether ``augment`` can transform ``column`` given the other ``columns`` present."""
    if column in augment.INVARIANT | augment.DIHEDRAL or any(column in p for p in augment.SPIN2):
        return True
    if column in augment.ROTATION_ONLY:
        return not flips
    return any(column in p and all(c in columns for c in p) for p in augment.VECTORS)


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
    on_epoch: Callable[[int, dict], None] | None = None,
    progress: bool = True,
    lr_scale: float = 1.0,
) -> FitResult:
    """Train under ``budget`` (lr times the model's ``lr_scale``); keep the weights of the best epoch
    on val (primary metric, or val loss for anomaly tasks, whose val split holds normal data only).
    ``FitResult.curve`` holds the val selection metric, train loss and lr after every epoch against
    the number of training images seen."""
    kind = kinds.get(task.kind)
    model.to(device)
    t0, c0 = time.perf_counter(), time.process_time()
    if hasattr(model, "fit_classical") and n_trainable(model) == 0:
        model.fit_classical(train.images.numpy(), train.target.numpy())
        val_metrics = _val_metrics(task, model, val, device, budget.batch_size)
        return FitResult(model, 0, 0, val_metrics, [], time.perf_counter() - t0, train_cpu_s=time.process_time() - c0)

    mixed = budget.precision == "bf16"  # bfloat16 autocast and channels-last for the training steps
    if mixed:
        channels_last(model)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(param_groups(model, budget.lr * lr_scale), weight_decay=budget.weight_decay)
    epochs, passes = budget.epochs_for(len(train)), budget.passes_for(len(train))
    sched = make_scheduler(opt, budget, epochs * passes * math.ceil(len(train) / budget.batch_size))
    augmenter = BatchAugment(task, train, seed) if budget.augment else None
    aux = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in train.columns.items()}
    history, curve, best, best_state, best_epoch, best_val, stale = [], [], None, None, 0, {}, 0
    key, higher = selection_key(task)
    bar = tqdm(range(1, epochs + 1), desc=f"{task.id}", unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        sums, n = defaultdict(lambda: torch.zeros(())), 0
        for _ in range(passes):  # one pass when the budget has no eval_every
            order = torch.randperm(len(train), generator=gen)
            for start in range(0, len(train), budget.batch_size):
                idx = order[start:start + budget.batch_size]
                batch = {
                    "image": train.images[idx].to(device, non_blocking=True),
                    "target": train.target[idx].to(device, non_blocking=True),
                    "aux": {k: v[idx].to(device, non_blocking=True) for k, v in aux.items()},
                }
                if augmenter is not None:
                    batch = augmenter(batch)
                if mixed:
                    batch["image"] = batch["image"].contiguous(memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=mixed):
                    output = model(batch["image"])
                    parts = _loss(model, batch, output, kind)
                loss = parts["loss"]
                if not torch.isfinite(loss):
                    raise NonFiniteLoss(f"non-finite training loss ({float(loss.detach())}) at epoch {epoch}")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                for k, v in parts.items():
                    sums[k] = sums[k] + v.detach().float().cpu() * len(idx)
                n += len(idx)
        row = {"epoch": epoch, **{f"train_{k}": float(v) / n for k, v in sums.items()}}
        val_metrics = _val_metrics(task, model, val, device, budget.batch_size)
        row.update({f"val_{k}": v for k, v in val_metrics.items() if isinstance(v, (int, float))})
        history.append(row)
        curve.append({"epoch": epoch, "images_seen": epoch * passes * len(train), f"val_{key}": float(val_metrics[key]),
                      "train_loss": row["train_loss"], "lr": opt.param_groups[0]["lr"]})
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
    return FitResult(model, best_epoch, len(history), best_val, history, time.perf_counter() - t0, curve,
                     train_cpu_s=time.process_time() - c0)


def channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with its 4-d parameters and buffers (conv weights) in channels-last layout, in place;
    other ranks as they are (``Module.to(memory_format=...)`` refuses the 5-d filter banks of the
    equivariant network)."""
    for t in (*model.parameters(), *model.buffers()):
        if t.dim() == 4:
            t.data = t.data.contiguous(memory_format=torch.channels_last)
    return model


def selection_key(task: TaskSpec) -> tuple[str, bool]:
    """The val metric the checkpoint is chosen on and whether higher is better: the primary metric, or
    the val loss for kinds whose val split holds normal data only (anomaly)."""
    if kinds.get(task.kind).selects_on_val_loss:
        return "loss", False
    return task.primary_metric, task.higher_is_better


def _val_metrics(task, model, val: TaskSplit, device, batch_size: int) -> dict:
    kind = kinds.get(task.kind)
    if kind.selects_on_val_loss and n_trainable(model) == 0:  # a fitted scorer: its mean val score
        out = {"loss": float(np.mean(predict(task, model, val, device, batch_size)))}
    elif kind.selects_on_val_loss:
        out = _val_loss(model, val, kind, device, batch_size)
    else:
        out = score(task, val, predict(task, model, val, device, batch_size), ci=False)
    bad = [k for k, v in out.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise NonFiniteLoss(f"non-finite validation metric(s) {bad}")
    return out
