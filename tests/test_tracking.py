"""MLflow tracking: a real round trip through a temporary SQLite store, and the tracking-off paths."""

import json
import socket
import warnings
from pathlib import Path

import pytest

from lensbench.run.tracking import Tracker, default_tracking_uri, quiet_mlflow_logs, standard_tags

TAGS = standard_tags(task="substructure/model1", task_version=2, preset="quick", model="resnet18",
                     model_family="baseline", seed=0, dataset_fingerprint="f" * 16,
                     git_commit="abc123-dirty", lensbench_version="0.1.0")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One SQLite store for the module (creating its tables is the slow part)."""
    from mlflow.tracking import MlflowClient

    quiet_mlflow_logs()
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # SQLAlchemy noise from MLflow's store
        client = MlflowClient(uri)  # creates the tables now, once
    return uri, client


def test_round_trip(store, tmp_path):
    uri, client = store
    tracker = Tracker(uri)
    extra = tmp_path / "notes.md"
    extra.write_text("hello")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # tracking must stay on
        with tracker.run("substructure/model1", "resnet18-seed0",
                         params={"lr": 1e-3, "budget": {"epochs": 2, "batch_size": 32}}, tags=TAGS) as t:
            assert t is tracker and tracker.run_id
            for epoch, (loss, auc) in enumerate([(1.0, 0.6), (0.5, 0.8)]):
                tracker.log_epoch(epoch, {"train_loss": loss, "val_auc_macro": auc})
            tracker.log_metrics({"auc_macro": 0.81, "auc_cdm": 0.7, "confusion_matrix": [[1, 2], [3, 4]]})
            tracker.log_dict({"task": "substructure/model1"}, "task.json")
            tracker.log_artifact(extra)
        tracker.set_tag("lensbench.record", "substructure__model1/v2/quick/resnet18/seed0.json")
    run = client.get_run(tracker.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "resnet18-seed0"
    assert client.get_experiment(run.info.experiment_id).name == "substructure/model1"
    assert run.data.params == {"lr": "0.001", "budget.epochs": "2", "budget.batch_size": "32"}
    assert run.data.metrics == {"train_loss": 0.5, "val_auc_macro": 0.8, "test_auc_macro": 0.81,
                                "test_auc_cdm": 0.7}  # the confusion matrix (a list) is skipped
    hist = client.get_metric_history(tracker.run_id, "val_auc_macro")
    assert [(m.step, m.value) for m in hist] == [(0, 0.6), (1, 0.8)]
    tags = run.data.tags
    assert tags["lensbench.task_version"] == "2" and tags["lensbench.dataset_fingerprint"] == "f" * 16
    assert tags["lensbench.git_commit"] == "abc123-dirty" and tags["mlflow.source.git.commit"] == "abc123"
    assert tags["lensbench.record"].endswith("seed0.json") and tags["lensbench.version"] == "0.1.0"
    art = {a.path for a in client.list_artifacts(tracker.run_id)}
    assert art == {"task.json", "notes.md"}
    # artifacts live beside the SQLite file, not in the working directory
    art_dir = Path(run.info.artifact_uri.removeprefix("file://"))
    assert art_dir.parent.parent == Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts"
    assert json.loads((art_dir / "task.json").read_text()) == {"task": "substructure/model1"}


def test_failing_body_marks_run_failed(store):
    uri, client = store
    tracker = Tracker(uri)
    with pytest.raises(ZeroDivisionError), tracker.run("substructure/model1", "broken-seed1"):
        raise ZeroDivisionError("the training step failed")
    assert client.get_run(tracker.run_id).info.status == "FAILED"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("uri", [f"http://127.0.0.1:{_free_port()}", "nosuchscheme://x/y"])
def test_unreachable_store_warns_once_and_run_completes(uri, tmp_path):
    tracker = Tracker(uri, probe_timeout_s=2)

    def a_run():
        with tracker.run("t/x", "m-seed0", params={"a": 1}, tags=TAGS):
            tracker.log_epoch(0, {"loss": 1.0})
            tracker.log_metrics({"auc": 0.5})
            tracker.log_artifact(tmp_path)
            tracker.log_dict({"a": 1}, "a.json")
            tracker.log_text("x", "x.txt")
        tracker.set_tag("k", "v")
        return "completed"

    with pytest.warns(RuntimeWarning, match="MLflow tracking is off") as rec:
        result = a_run()
    assert result == "completed" and len([w for w in rec if "tracking is off" in str(w.message)]) == 1
    assert tracker.run_id is None and not tracker.active and tracker.off_reason
    assert uri in str(rec[0].message)


def test_error_mid_run_turns_tracking_off(store, monkeypatch):
    uri, _ = store
    tracker = Tracker(uri)

    def boom(*a, **k):
        raise RuntimeError("database is locked")

    def a_run():
        with tracker.run("substructure/model1", "flaky-seed2"):
            monkeypatch.setattr(tracker._client, "log_batch", boom)
            tracker.log_epoch(0, {"loss": 1.0})
            tracker.log_epoch(1, {"loss": 0.5})  # no second warning

    with pytest.warns(RuntimeWarning, match="database is locked") as rec:
        a_run()
    assert len(rec) == 1 and tracker.run_id is None


def test_disabled_tracker_is_silent(recwarn):
    tracker = Tracker("sqlite:///never-created.db", enabled=False)
    with tracker.run("t/x", "m"):
        tracker.log_epoch(0, {"loss": 1.0})
    assert tracker.run_id is None and not recwarn.list
    assert not Path("never-created.db").exists()


def test_default_tracking_uri(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert default_tracking_uri() == "sqlite:///mlflow.db"  # relative: no machine path lands in records
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert default_tracking_uri() == "http://mlflow.example:5000" == Tracker().tracking_uri
