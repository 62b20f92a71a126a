"""Classical (non-gradient) anomaly detector: IsolationForest on PCA features (scikit-learn).

Images are area-downsampled to at most ``max_side`` pixels a side, flattened, projected on their
first ``n_components`` principal components (fitted on the normal training images), and scored by
an IsolationForest; the score is ``-score_samples`` (higher = more anomalous). The module has no
trainable parameters, so the trainer calls ``fit_classical`` once on the train split instead of
running gradient steps. The random state is ``torch.initial_seed()`` at fit time (the run's seed)
unless ``seed`` is given. The fitted sklearn objects travel in the state dict as pickled bytes
(``get_extra_state``), so a saved checkpoint restores the fitted model.
"""

from __future__ import annotations

import pickle

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from torch import nn

from lensbench import kinds
from lensbench.specs import TaskSpec

DEFAULTS = {"n_components": 32, "n_estimators": 200, "max_side": 64, "max_fit_rows": 10000}


class PicklableState(nn.Module):
    """Keeps ``self.fitted`` (any picklable object) in the state dict as a uint8 tensor."""

    fitted: object = None

    def get_extra_state(self):
        blob = pickle.dumps(self.fitted)
        return {"pickle": torch.frombuffer(bytearray(blob), dtype=torch.uint8)}

    def set_extra_state(self, state) -> None:
        self.fitted = pickle.loads(state["pickle"].numpy().tobytes())


class IsolationForestPCA(PicklableState):
    def __init__(self, task: TaskSpec, n_components: int = DEFAULTS["n_components"],
                 n_estimators: int = DEFAULTS["n_estimators"], max_side: int = DEFAULTS["max_side"],
                 max_fit_rows: int = DEFAULTS["max_fit_rows"], seed: int | None = None):
        super().__init__()
        kinds.require(task, "iforest-pca", "anomaly")
        self.shape = tuple(int(s) for s in task.input_shape)
        self.n_components, self.n_estimators = int(n_components), int(n_estimators)
        self.max_side, self.max_fit_rows, self.seed = int(max_side), int(max_fit_rows), seed
        self.register_buffer("dummy", torch.zeros(1))  # no trainable parameters; keeps .to(device) usable
        self.fitted = None

    def _features(self, images: torch.Tensor) -> np.ndarray:
        x = images.detach().float().cpu()
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"iforest-pca built for images {self.shape}, got {tuple(x.shape[1:])}")
        h, w = x.shape[-2:]
        if max(h, w) > self.max_side:
            scale = self.max_side / max(h, w)
            x = F.adaptive_avg_pool2d(x, (max(1, round(h * scale)), max(1, round(w * scale))))
        return x.flatten(1).numpy().astype(np.float64)

    def fit_classical(self, images: np.ndarray, targets: np.ndarray | None = None) -> None:
        seed = int(torch.initial_seed() % 2**32) if self.seed is None else int(self.seed)
        feats = self._features(torch.as_tensor(np.asarray(images, dtype=np.float32)))
        rows = feats
        if len(feats) > self.max_fit_rows:
            rows = feats[np.random.default_rng(seed).choice(len(feats), self.max_fit_rows, replace=False)]
        k = max(1, min(self.n_components, rows.shape[0] - 1, rows.shape[1]))
        pca = PCA(n_components=k, random_state=seed).fit(rows)
        forest = IsolationForest(n_estimators=self.n_estimators, random_state=seed).fit(pca.transform(feats))
        self.fitted = {"pca": pca, "forest": forest}

    @torch.no_grad()
    def anomaly_score(self, x: torch.Tensor) -> torch.Tensor:
        if self.fitted is None:
            raise RuntimeError("iforest-pca: call fit_classical(images, targets) before anomaly_score")
        z = self.fitted["pca"].transform(self._features(x))
        score = -self.fitted["forest"].score_samples(z)
        return torch.as_tensor(score, dtype=torch.float32, device=x.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.anomaly_score(x)


def iforest_pca(task: TaskSpec, **config) -> nn.Module:
    return IsolationForestPCA(task, **config)
