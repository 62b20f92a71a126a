"""MLflow tracking that can never break a run.

``Tracker`` logs one LensBench run (params, per-epoch metrics, test metrics, tags, artifacts, its
datasets as MLflow dataset inputs with the LensBench fingerprint as digest, and, when psutil is
installed, MLflow's system metrics) to
an MLflow tracking store through ``MlflowClient`` (no global "active run" state, so several
trackers can live in one process). If MLflow cannot be reached or any MLflow call fails (bad URI,
server down, database locked), the tracker issues ONE ``warnings.warn`` saying that tracking is
off and why, and every later call becomes a no-op: the run still completes and its record is
still written.

Surviving kills and broken stores (``lensbench.run.runner`` wires these into every sweep):

- one MLflow run per cell: when a cell starts, earlier runs of the same cell (same experiment and
  ``lensbench.task``/``task_version``/``preset``/``model``/``seed`` tags) that are not FINISHED are
  ended KILLED and deleted (unless ``keep`` says a record on disk names them: then they are ended
  FINISHED), and when the new run ends FINISHED every other run of the cell is deleted;
- ``tracking_store.prepare_store`` (once per sweep, before any cell): creates the schema and experiments under an
  exclusive ``fcntl.flock`` beside an SQLite file, and settles the runs dead processes left RUNNING
  (each run carries its owner's identity, ``lensbench.liveness``);
- ``tracking_store.terminated_as_killed``: SIGTERM ends the current run KILLED (SIGKILL cannot be caught: the next
  start settles it); a store error mid-run tries once, briefly, to mark the run FAILED;
- bounded waits: an SQLite store whose file or folder is not writable is refused before connecting,
  an HTTP store is probed with ``probe_timeout_s`` and MLflow's HTTP retries are kept short, and a
  store found off in a process is skipped at once, with the same reason, by later trackers.

Default store: ``$MLFLOW_TRACKING_URI`` or ``sqlite:///<cwd>/mlflow.db`` (artifacts beside it in
``mlartifacts/``). Browse with ``mlflow ui --backend-store-uri sqlite:///mlflow.db``.

Usage::

    tracker = Tracker()
    with tracker.run(task.id, f"{model}-seed{seed}", params={...}, tags=standard_tags(...)):
        tracker.log_epoch(epoch, {"train_loss": 0.3, "val_auc_macro": 0.8})
        tracker.log_metrics(test_metrics, prefix="test_")
    tracker.set_tag("lensbench.record", str(record_path))   # allowed after the run ended
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from lensbench import liveness
from lensbench.run.tracking_store import (
    OWNER_TAG,
    Keep,
    cell_filter,
    connect,
    default_tracking_uri,
    experiment_id,
    one_line,
    quiet_mlflow_logs,
    settle,
    warn_off,
)

__all__ = ["Tracker", "default_tracking_uri", "quiet_mlflow_logs", "standard_tags"]
log = logging.getLogger("lensbench")
_KEY_BAD = re.compile(r"[^A-Za-z0-9_\-. /:]")
_MAX_PARAM_LEN = 6000
_BATCH = 900  # MLflow accepts at most 1000 metrics and 100 params per batch
FAIL_MARK_TIMEOUT_S = 3.0  # how long marking a run FAILED after a store error may take


def standard_tags(*, task: str, task_version: int, preset: str, model: str, model_family: str, seed: int,
                  dataset_fingerprint: str, git_commit: str | None, lensbench_version: str,
                  test_dataset_fingerprint: str | None = None) -> dict[str, str]:
    """The LensBench tags every run carries (``lensbench.*`` plus MLflow's own git-commit tag)."""
    tags = {
        "lensbench.task": task, "lensbench.task_version": str(task_version), "lensbench.preset": preset,
        "lensbench.model": model, "lensbench.model_family": model_family, "lensbench.seed": str(seed),
        "lensbench.dataset_fingerprint": dataset_fingerprint,
        "lensbench.version": lensbench_version,
    }
    if test_dataset_fingerprint:
        tags["lensbench.test_dataset_fingerprint"] = test_dataset_fingerprint
    if git_commit:
        tags["lensbench.git_commit"] = git_commit
        tags["mlflow.source.git.commit"] = git_commit.removesuffix("-dirty")
    return tags


def _key(k: str) -> str:
    return _KEY_BAD.sub("_", str(k))


def _flatten(d: Mapping, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, name + "."))
        else:
            out[name] = v
    return out


def _scalar(v) -> float | None:
    """A float for numbers (incl. numpy/torch scalars and bools), None for anything else."""
    if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
        v = v.item()
    if isinstance(v, (bool, int, float)):
        return float(v)
    return None


class Tracker:
    """One MLflow run at a time; every call is a no-op once tracking is off."""

    def __init__(self, tracking_uri: str | None = None, enabled: bool = True, probe_timeout_s: float = 5.0,
                 keep: Keep | None = None, experiment_ids: Mapping[str, str] | None = None):
        self._uri = tracking_uri or default_tracking_uri()
        self._client = None
        self._run_id: str | None = None
        self._off_reason: str | None = None if enabled else "disabled"
        self._probe_timeout_s = probe_timeout_s
        self._keep = keep  # which unfinished runs of a cell a record names (ended FINISHED, not deleted)
        self._cell: str | None = None  # filter string of the current run's cell
        self._exp_id: str | None = None
        self._experiment_ids = dict(experiment_ids or {})  # name -> id, as the sweep's driver created them
        self._ended = False  # the current run was ended (a later store error must not mark it FAILED)
        self._monitor = None  # MLflow's system-metrics sampler of the current run (when psutil is installed)

    # ------------------------------------------------------------------ state

    @property
    def tracking_uri(self) -> str:
        return self._uri

    @property
    def run_id(self) -> str | None:
        """The MLflow run id, or None when tracking is off."""
        return self._run_id if self._off_reason is None else None

    @property
    def active(self) -> bool:
        """True while tracking is on (it may still be off for a later call)."""
        return self._off_reason is None

    @property
    def off_reason(self) -> str | None:
        return self._off_reason

    def _disable(self, why: str) -> None:
        if self._off_reason is None:
            self._off_reason = why
            self._mark_failed()
            warn_off(self._uri, why, stacklevel=3)

    def _call(self, fn, *args, **kwargs):
        if self._off_reason is not None:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - tracking must never break a run
            self._disable(one_line(e))
            return None

    def _mark_failed(self) -> None:
        """After a store error mid-run: one try, at most ``FAIL_MARK_TIMEOUT_S``, to end the run FAILED."""
        if self._run_id is None or self._client is None or self._ended:
            return
        client, rid = self._client, self._run_id

        def mark():
            with contextlib.suppress(Exception):
                client.set_terminated(rid, status="FAILED")

        worker = threading.Thread(target=mark, daemon=True)
        worker.start()
        worker.join(FAIL_MARK_TIMEOUT_S)

    # ------------------------------------------------------------------ connecting

    def _start(self, experiment: str, run_name: str, params: Mapping | None, tags: Mapping | None) -> None:
        tags = {_key(k): str(v) for k, v in (tags or {}).items()}
        with warnings.catch_warnings():  # MLflow's store setup emits SQLAlchemy deprecation noise
            warnings.simplefilter("ignore", DeprecationWarning)
            if self._client is None:
                self._client = connect(self._uri, self._probe_timeout_s)
            self._exp_id = self._experiment_ids.get(experiment) or experiment_id(self._client, self._uri, experiment)
            self._cell = cell_filter(tags)
            if self._cell is not None:  # earlier runs of this cell, left by killed processes
                kept, deleted = settle(self._client, self._client.search_runs([self._exp_id], self._cell),
                                       self._keep)
                if kept or deleted:
                    log.info("MLflow %s / %s: of the earlier runs of this cell %d ended FINISHED (a record "
                             "names them), %d deleted (killed or superseded)", experiment, run_name, kept, deleted)
            tags[OWNER_TAG] = json.dumps(liveness.this_process())
            run = self._client.create_run(self._exp_id, run_name=run_name, tags=tags)
        self._run_id = run.info.run_id
        if params:
            self.log_params(params)
        self._monitor = system_metrics_monitor(self._run_id, self._uri)

    def _supersede(self) -> None:
        """After this run ended FINISHED: delete every other run of its cell (it replaces them)."""
        if self._cell is None or self.run_id is None:
            return
        others = [r.info.run_id for r in self._client.search_runs([self._exp_id], self._cell)
                  if r.info.run_id != self._run_id]
        for rid in others:
            self._client.delete_run(rid)
        if others:
            log.info("MLflow: run %s replaces %d earlier run(s) of its cell (deleted)", self._run_id, len(others))

    # ------------------------------------------------------------------ public API

    @contextmanager
    def run(self, experiment: str, run_name: str, params: Mapping | None = None,
            tags: Mapping | None = None) -> Iterator[Tracker]:
        """Start a run in ``experiment`` (the task id); end it FINISHED (deleting the other runs of its
        cell), KILLED on SIGTERM (``terminated_as_killed``) or Ctrl-C, FAILED if the body raises."""
        self._run_id = self._cell = None
        self._ended = False
        self._call(self._start, experiment, run_name, params, tags)
        try:
            yield self
        except (KeyboardInterrupt, SystemExit):
            self._end("KILLED")
            raise
        except BaseException:
            self._end("FAILED")
            raise
        self._end("FINISHED")
        self._call(self._supersede)

    def _end(self, status: str) -> None:
        self._ended = True
        if self._monitor is not None:
            monitor, self._monitor = self._monitor, None
            self._call(monitor.finish)
        if self._run_id is not None:
            self._call(self._client.set_terminated, self._run_id, status=status)

    def log_params(self, params: Mapping) -> None:
        """Nested dicts become dotted keys; values are stringified (truncated to MLflow's limit)."""
        if self._run_id is None or self._off_reason is not None:
            return
        from mlflow.entities import Param

        items = [Param(_key(k), str(v)[:_MAX_PARAM_LEN]) for k, v in _flatten(params).items()]
        for i in range(0, len(items), 100):
            self._call(self._client.log_batch, self._run_id, params=items[i:i + 100])

    def _log_scalars(self, metrics: Mapping, prefix: str, step: int | None) -> None:
        if self._run_id is None or self._off_reason is not None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = []
        for k, v in _flatten(metrics).items():
            x = _scalar(v)
            if x is not None:
                items.append(Metric(_key(f"{prefix}{k}"), x, now, step or 0))
        for i in range(0, len(items), _BATCH):
            self._call(self._client.log_batch, self._run_id, metrics=items[i:i + _BATCH])

    def log_epoch(self, epoch: int, metrics: Mapping) -> None:
        """Per-epoch metrics (train loss and parts, val metrics) at ``step=epoch``; non-scalars skipped."""
        self._log_scalars(metrics, "", int(epoch))

    def log_metrics(self, metrics: Mapping, prefix: str = "test_", step: int | None = None) -> None:
        """Scalar metrics under ``prefix`` (lists such as confusion matrices are skipped)."""
        self._log_scalars(metrics, prefix, step)

    def set_tag(self, key: str, value) -> None:
        if self._run_id is not None:
            self._call(self._client.set_tag, self._run_id, _key(key), str(value))

    def set_tags(self, tags: Mapping) -> None:
        for k, v in tags.items():
            self.set_tag(k, v)

    def log_dataset(self, name: str, fingerprint: str, context: str) -> None:
        """A dataset the run used, as an MLflow dataset input (``context``: training or evaluation). Its
        digest is the LensBench fingerprint, cut to MLflow's 36 characters; the whole fingerprint is in
        its ``source``."""
        if self._run_id is None or self._off_reason is not None:
            return
        from mlflow.entities import Dataset, DatasetInput, InputTag

        source = json.dumps({"dataset": name, "fingerprint": fingerprint})
        ds = Dataset(name=name, digest=fingerprint[:36], source_type="lensbench", source=source)
        self._call(self._client.log_inputs, self._run_id,
                   datasets=[DatasetInput(ds, [InputTag("mlflow.data.context", context)])])

    def log_model(self, model, example) -> None:
        """The trained model as an MLflow logged model (``mlflow.pytorch``, its ``pt2`` format: an exported
        graph and weights, no pickle) with its signature: inputs the task's image batch (``example``,
        float32 N x C x H x W), outputs the model's raw outputs. A model torch.export cannot trace is
        not logged (a warning says why); the run and its tracking go on."""
        if self._run_id is None or self._off_reason is not None:
            return
        import mlflow
        import torch
        from mlflow.models import infer_signature

        was = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = model(example)
            signature = infer_signature(example.cpu().numpy(), out.detach().float().cpu().numpy())
            mlflow.set_tracking_uri(self._uri)
            with mlflow.start_run(run_id=self._run_id):
                mlflow.pytorch.log_model(model, name="model", signature=signature, input_example=example.cpu())
        except Exception as e:  # noqa: BLE001 - a model MLflow cannot store must not fail the run
            warnings.warn(f"MLflow: the model of run {self._run_id} was not logged: {one_line(e)}", stacklevel=2)
        finally:
            model.train(was)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        if self._run_id is not None:
            self._call(self._client.log_artifact, self._run_id, str(path), artifact_path)

    def log_dict(self, d: Mapping, artifact_file: str) -> None:
        """``d`` as JSON (``.json``) or YAML (``.yaml``) artifact."""
        if self._run_id is not None:
            self._call(self._client.log_dict, self._run_id, dict(d), artifact_file)

    def log_text(self, text: str, artifact_file: str) -> None:
        if self._run_id is not None:
            self._call(self._client.log_text, self._run_id, text, artifact_file)


def system_metrics_monitor(run_id: str, uri: str):
    """MLflow's sampler of CPU, memory, disk, network and GPU use (``system/*`` metrics), started for
    ``run_id``; None when psutil (which it needs) is not installed."""
    try:
        import psutil  # noqa: F401 - the monitor needs it
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor
    except ImportError:
        return None
    monitor = SystemMetricsMonitor(run_id, tracking_uri=uri)
    monitor.start()
    return monitor
