"""Task kinds: what differs between classification, regression and anomaly tasks, in one place.

One object per kind (``KINDS``, looked up with ``get(name)``). The specs, the data layer, the
trainer, the diagnostics and the models ask it instead of branching on the kind's name:

| | classification | regression | anomaly |
|---|---|---|---|
| fields (``field_error``) | >= 2 classes, target ``("label",)`` | dataset columns | normal classes < classes |
| output width (``n_outputs``) | one per class | one per target | 0 (the model scores) |
| trains on (``train_classes``) | every class | every class | the normal classes |
| targets (``targets``) | class index | the ``target`` columns, standardised on train | 0 normal, 1 anomaly |
| default loss (``loss``) | cross-entropy | MSE | none: the model defines ``loss`` |
| predictions (``predict``) | softmax probabilities | standardised values | ``model.anomaly_score(x)`` |
| metrics (``score``) | ``classification_metrics`` | ``regression_metrics`` | ``anomaly_metrics`` |
| AUCs rank by | float64 log-odds of the logits | – | the anomaly score |
| item resamples keep (``strata``) | the class counts | – | the class counts |
| checkpoint chosen on val by | the primary metric | the primary metric | val loss (val is normal only) |
| ROC curves (``roc_inputs``) | one per class, vs the rest | none | anomalies vs normal |

Metric functions are ``lensbench.metrics``; their directions are ``lensbench.metric_names``.
``require(task, model, *kinds)`` is the check a model factory makes on the task it is given.

torch and scikit-learn are imported by the methods that use them, so that importing
``lensbench.specs`` (which takes the kind names and field rules from here) stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


class Kind:
    """What one task kind decides. Instances are stateless; use the ``KINDS`` singletons."""

    name = ""
    supervised = True  # False: trained on normal data only, with no target in the loss
    standardised_targets = False  # True: targets are standardised with train statistics (a target scaler)
    selects_on_val_loss = False  # True: the checkpoint is chosen by val loss, not by the primary metric
    ranks_by_logits = False  # True: ``score`` takes the raw model outputs (``logits=``) to rank by

    def __repr__(self) -> str:
        return f"<task kind {self.name!r}>"

    def field_error(self, task) -> tuple[str, str] | None:
        """(field, what is wrong) when the TaskSpec fields do not suit this kind, else None."""
        return None

    def n_outputs(self, task) -> int:
        """Width of the model output: classes for classification, targets for regression, 0 for anomaly."""
        return 0

    def train_classes(self, task) -> tuple[str, ...]:
        """The dataset classes that the train and val splits hold."""
        return tuple(task.classes)

    def columns(self, task) -> tuple[str, ...]:
        """Dataset columns the targets are read from."""
        return ()

    def targets(self, task, class_names: np.ndarray, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Targets of a split from the class name of each image and the split's columns: int64 labels,
        or the raw float target columns (N, T) when ``standardised_targets`` (the caller standardises)."""
        raise NotImplementedError

    def loss(self, output, target):
        """The default training loss of a model without its own ``loss(batch, output)``."""
        raise TypeError(f"{self.name} tasks have no default loss: the model must define loss(batch, output)")

    def outputs(self, model, x):
        """The model's raw outputs for a batch (logits, standardised values, anomaly scores)."""
        return model(x)

    def from_outputs(self, out):
        """Raw outputs -> the predictions that ``score`` takes (a tensor, first dimension the batch)."""
        return out

    def predict(self, model, x):
        """Model output -> predictions that ``score`` takes (``from_outputs(outputs(model, x))``)."""
        return self.from_outputs(self.outputs(model, x))

    def score(self, task, target: np.ndarray, pred: np.ndarray, *, scaler=None, class_names=None,
              ci: bool = True, logits=None) -> dict:
        """Every metric of this kind (``lensbench.metrics``); ``ci=False`` skips bootstrap intervals.
        ``scaler`` (mean, std) maps standardised targets to raw ones; ``class_names`` is the dataset
        class of each sample; ``logits``: the raw model outputs ``pred`` was made from, when the kind
        ranks by them (classification AUCs from float64 log-odds)."""
        raise NotImplementedError

    def strata(self, target: np.ndarray, class_names=None) -> np.ndarray | None:
        """Labels whose counts every item resample keeps (``resampling.item_resamples``), or None."""
        return None

    def replicates(self, task, target: np.ndarray, pred: np.ndarray, rows: np.ndarray, *, scaler=None,
                   class_names=None, logits=None) -> dict[str, list[float]]:
        """``score`` (without intervals) on each item resample, rows of ``rows`` (B, N): metric name ->
        B values, for the primary metric, the task's secondary metrics and every AUC.
        ``ValueError`` when a metric is not defined on some resample."""
        names = None if class_names is None else np.asarray(class_names)
        out: dict[str, list[float]] = {}
        for r in np.asarray(rows):
            m = self.score(task, target[r], pred[r], scaler=scaler, class_names=None if names is None else names[r],
                           ci=False, logits=None if logits is None else logits[r])
            if not out:
                keep = {task.primary_metric, *task.secondary_metrics}
                out = {k: [] for k, v in m.items() if isinstance(v, (int, float)) and (k in keep or k.startswith("auc"))}
            for k, values in out.items():
                values.append(float(m[k]))
        return out

    def score_subset(self, task, target: np.ndarray, pred: np.ndarray, idx: np.ndarray, *, scaler=None,
                     class_names=None) -> dict:
        """``score`` (without intervals) on the samples ``idx`` (a slice of a diagnostic);
        ``ValueError`` when the metrics are not defined on them."""
        names = None if class_names is None else np.asarray(class_names)[idx]
        return self.score(task, target[idx], pred[idx], scaler=scaler, class_names=names, ci=False)

    def roc_inputs(self, task, target: np.ndarray, pred: np.ndarray
                   ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """name -> (positive mask, score) of each ROC curve the diagnostics draw (none by default)."""
        return {}


class Classification(Kind):
    name = "classification"
    ranks_by_logits = True

    def field_error(self, task):
        if len(task.classes) < 2 or tuple(task.target) != ("label",):
            return "classes/target", "classification needs >= 2 classes, target ('label',)"
        return None

    def n_outputs(self, task) -> int:
        return len(task.classes)

    def targets(self, task, class_names, columns):
        index = {c: i for i, c in enumerate(task.classes)}
        return np.asarray([index[n] for n in class_names], dtype=np.int64)

    def loss(self, output, target):
        import torch.nn.functional as F

        return F.cross_entropy(output.float(), target)

    def from_outputs(self, out):
        return out.float().softmax(dim=1)

    def score(self, task, target, pred, *, scaler=None, class_names=None, ci=True, logits=None):
        from lensbench import metrics

        return metrics.classification_metrics(target, pred, list(task.classes), ci=ci, logits=logits)

    def strata(self, target, class_names=None):
        return np.asarray(target)

    def score_subset(self, task, target, pred, idx, *, scaler=None, class_names=None):
        """Macro AUC over the classes present in the subset (at least two)."""
        from lensbench import metrics

        labels = target[idx]
        present = np.unique(labels)
        if len(present) < 2:
            raise ValueError("fewer than two classes in this bin")
        if len(present) == len(task.classes):
            return metrics.classification_metrics(labels, pred[idx], list(task.classes), ci=False)
        p = pred[idx][:, present]
        p = p / p.sum(axis=1, keepdims=True)
        remap = np.searchsorted(present, labels)
        return metrics.classification_metrics(remap, p, [task.classes[i] for i in present], ci=False)

    def roc_inputs(self, task, target, pred):
        y, p = np.asarray(target).astype(int), np.asarray(pred, dtype=np.float64)
        return {name: (y == i, p[:, i]) for i, name in enumerate(task.classes) if 0 < (y == i).sum() < len(y)}


class Regression(Kind):
    name = "regression"
    standardised_targets = True

    def field_error(self, task):
        if not task.target or "label" in task.target:
            return "target", "regression needs one or more dataset columns"
        return None

    def n_outputs(self, task) -> int:
        return len(task.target)

    def columns(self, task) -> tuple[str, ...]:
        return tuple(task.target)

    def targets(self, task, class_names, columns):
        return np.stack([columns[c] for c in task.target], axis=1)

    def loss(self, output, target):
        import torch.nn.functional as F

        return F.mse_loss(output.float(), target.float())

    def score(self, task, target, pred, *, scaler=None, class_names=None, ci=True, logits=None):
        from lensbench import metrics

        if scaler is None:
            raise ValueError(f"task {task.id!r}: regression metrics need the train target scaler (mean, std)")
        return metrics.regression_metrics(target, pred, list(task.target), scaler.mean, scaler.std)


class Anomaly(Kind):
    name = "anomaly"
    supervised = False
    selects_on_val_loss = True

    def field_error(self, task):
        if not task.normal_classes or not set(task.normal_classes) < set(task.classes):
            return "normal_classes", "must be a proper subset of classes"
        return None

    def train_classes(self, task) -> tuple[str, ...]:
        return tuple(task.normal_classes)

    def targets(self, task, class_names, columns):
        normal = set(task.normal_classes)
        return np.asarray([0 if n in normal else 1 for n in class_names], dtype=np.int64)

    def outputs(self, model, x):
        return model.anomaly_score(x)

    def score(self, task, target, pred, *, scaler=None, class_names=None, ci=True, logits=None):
        from lensbench import metrics

        score = np.asarray(pred).reshape(-1)
        return metrics.anomaly_metrics(target, score, class_names, list(task.normal_classes))

    def strata(self, target, class_names=None):
        return np.asarray(target if class_names is None else class_names)

    def roc_inputs(self, task, target, pred):
        a = np.asarray(target).astype(bool)
        if a.all() or not a.any():
            return {}
        return {"anomaly": (a, np.asarray(pred, dtype=np.float64).reshape(-1))}


KINDS: dict[str, Kind] = {k.name: k for k in (Classification(), Regression(), Anomaly())}
NAMES: tuple[str, ...] = tuple(KINDS)


def get(name: str) -> Kind:
    """The kind called ``name``; ``KeyError`` naming the known kinds otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown task kind {name!r}; expected one of {NAMES}") from None


def require(task, model: str, *kinds: str) -> None:
    """For a model factory: ``ValueError`` unless ``task`` is one of ``kinds``."""
    if task.kind not in kinds:
        expected = " or ".join(repr(k) for k in kinds)
        raise ValueError(f"{model}: task {task.id!r} has kind {task.kind!r}; expected {expected}")
