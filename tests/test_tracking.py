"""MLflow tracking: a real round trip through a temporary SQLite store, and the tracking-off paths."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from mlflow.entities import ViewType

from lensbench import liveness
from lensbench.run.tracking import Tracker, default_tracking_uri, quiet_mlflow_logs, standard_tags
from lensbench.run.tracking_store import OWNER_TAG, prepare_store, terminated_as_killed

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


# ---------------------------------------------------------------- surviving kills and broken stores

def _dead_owner() -> str:
    """The identity of a process of this host that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    info = {"host": socket.gethostname(), "boot": None, "pid": proc.pid, "started": None}
    proc.wait()
    return json.dumps(info)


def _cell_runs(client, experiment: str, seed: int) -> list:
    exp = client.get_experiment_by_name(experiment)
    flt = f"tags.`lensbench.seed` = '{seed}'"
    return client.search_runs([exp.experiment_id], flt, run_view_type=ViewType.ALL)


def test_a_cell_has_one_run_after_a_killed_one_and_a_rerun(store):
    uri, client = store
    tags = {**TAGS, "lensbench.seed": "7"}
    exp_id = client.get_experiment_by_name("substructure/model1").experiment_id
    killed = client.create_run(exp_id, tags=tags).info.run_id  # RUNNING: its process was SIGKILLed
    failed = client.create_run(exp_id, tags=tags).info.run_id
    client.set_terminated(failed, "FAILED")
    first = Tracker(uri)
    with first.run("substructure/model1", "resnet18-seed7", tags=tags):
        pass
    runs = {r.info.run_id: r for r in _cell_runs(client, "substructure/model1", 7)}
    assert runs[killed].info.status == "KILLED" and runs[killed].info.lifecycle_stage == "deleted"
    assert runs[failed].info.lifecycle_stage == "deleted"
    assert runs[first.run_id].info.status == "FINISHED" and runs[first.run_id].info.lifecycle_stage == "active"
    assert json.loads(runs[first.run_id].data.tags[OWNER_TAG])["pid"] == os.getpid()
    rerun = Tracker(uri)  # a forced rerun supersedes the finished run once it finishes itself
    with rerun.run("substructure/model1", "resnet18-seed7", tags=tags):
        assert client.get_run(first.run_id).info.lifecycle_stage == "active"  # kept while the rerun runs
    live = [r for r in _cell_runs(client, "substructure/model1", 7) if r.info.lifecycle_stage == "active"]
    assert [r.info.run_id for r in live] == [rerun.run_id] and live[0].info.status == "FINISHED"


def test_prepare_store_settles_runs_of_dead_sweeps(store):
    uri, client = store
    exp_id = client.get_experiment_by_name("substructure/model1").experiment_id
    dead = {**TAGS, "lensbench.seed": "8", OWNER_TAG: _dead_owner()}
    orphan = client.create_run(exp_id, tags=dead).info.run_id
    recorded = client.create_run(exp_id, tags={**dead, "lensbench.seed": "9"}).info.run_id
    alive = client.create_run(exp_id, tags={**TAGS, "lensbench.seed": "10",
                                            OWNER_TAG: json.dumps(liveness.this_process())}).info.run_id
    assert prepare_store(uri, ["substructure/model1", "other/exp"], keep=lambda tags, rid: rid == recorded)
    assert client.get_run(orphan).info.status == "KILLED"
    assert client.get_run(orphan).info.lifecycle_stage == "deleted"
    assert client.get_run(recorded).info.status == "FINISHED"  # a record names it: kept
    assert client.get_run(alive).info.status == "RUNNING"  # its sweep still runs
    assert client.get_experiment_by_name("other/exp") is not None
    # killed between ending a rerun FINISHED and deleting the run it replaces: the one a record names stays
    twice = {**dead, "lensbench.seed": "13"}
    older, newer = (client.create_run(exp_id, tags=twice).info.run_id for _ in range(2))
    for rid in (older, newer):
        client.set_terminated(rid, "FINISHED")
    assert prepare_store(uri, ["substructure/model1"], keep=lambda tags, rid: rid == older)
    assert [r.info.run_id for r in _cell_runs(client, "substructure/model1", 13)
            if r.info.lifecycle_stage == "active"] == [older]


def test_sigterm_ends_the_run_killed_and_restores_the_handler(store):
    uri, client = store
    before = signal.getsignal(signal.SIGTERM)
    tracker = Tracker(uri)
    with (pytest.raises(SystemExit) as exc, terminated_as_killed(),
          tracker.run("substructure/model1", "resnet18-seed11", tags={**TAGS, "lensbench.seed": "11"})):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
    assert exc.value.code == 143 and signal.getsignal(signal.SIGTERM) is before
    assert client.get_run(tracker.run_id).info.status == "KILLED"


def _raises(exc):
    def fail(*args, **kwargs):
        raise exc

    return fail


def test_store_error_mid_run_marks_the_run_failed(store, monkeypatch):
    uri, client = store
    tracker = Tracker(uri)
    def a_run():
        with tracker.run("substructure/model1", "flaky-seed12", tags={**TAGS, "lensbench.seed": "12"}):
            monkeypatch.setattr(tracker._client, "log_batch", _raises(RuntimeError("disk I/O error")))
            tracker.log_epoch(0, {"loss": 1.0})

    with pytest.warns(RuntimeWarning, match="disk I/O error"):
        a_run()
    (run,) = _cell_runs(client, "substructure/model1", 12)
    assert run.info.status == "FAILED"  # not left RUNNING


def test_unwritable_sqlite_store_is_refused_once_per_process(toy_bench, tmp_path):
    from lensbench import registry
    from lensbench.run import runner

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    toy_bench.tracking_uri = f"sqlite:///{blocker}/mlflow.db"
    task, spec = registry.tasks.get("test/classification"), registry.models.get("toy-cnn")
    with pytest.warns(RuntimeWarning, match="not-a-folder") as rec:
        out = list(runner.sweep([task], [spec], [0, 1], toy_bench))
    assert [r.status for r in out] == ["ok", "ok"] and all(r.mlflow_run_id is None for r in out)
    reasons = {str(w.message) for w in rec if "tracking is off" in str(w.message)}
    assert len(reasons) == 1 and "does not exist" in reasons.pop(), reasons  # one reason, found once
    assert len(list(toy_bench.results_dir.rglob("seed*.json"))) == 2
    later = Tracker(toy_bench.tracking_uri)
    with pytest.warns(RuntimeWarning, match="does not exist"), later.run("t/x", "m"):
        pass
    assert later.off_reason and "does not exist" in later.off_reason


def test_prepare_store_from_two_processes_creates_each_experiment_once(tmp_path):
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    code = ("import sys; from lensbench.run.tracking_store import prepare_store; "
            "sys.exit(0 if prepare_store(sys.argv[1], ['a/x', 'b/y']) else 3)")
    procs = [subprocess.Popen([sys.executable, "-W", "ignore", "-c", code, uri]) for _ in range(2)]
    assert [p.wait(timeout=240) for p in procs] == [0, 0]
    from mlflow.tracking import MlflowClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        names = [e.name for e in MlflowClient(uri).search_experiments()]
    assert sorted(names) == ["Default", "a/x", "b/y"]
    assert (tmp_path / "fresh.db.lock").exists()


def test_a_run_logs_its_datasets_and_with_checkpoints_its_model_with_a_signature(toy_bench):
    """MLflow where people look: dataset inputs (digest = the fingerprint) and, with --checkpoint-dir,
    the trained model as a logged model whose signature is the task's image batch -> outputs."""
    import mlflow
    from mlflow import MlflowClient

    from lensbench import registry
    from lensbench.run import runner

    opts = runner.RunOptions(**{**vars(toy_bench), "checkpoint_dir": toy_bench.results_dir.parent / "ckpt"})
    rec = runner.run(registry.tasks.get("test/classification"), registry.models.get("toy-cnn"), 0, opts)
    client = MlflowClient(toy_bench.tracking_uri)
    run = client.get_run(rec.mlflow_run_id)
    digests = {d.dataset.digest for d in run.inputs.dataset_inputs}
    assert rec.dataset_fingerprint[:36] in digests
    models = client.search_logged_models(experiment_ids=[run.info.experiment_id])
    assert [m.source_run_id for m in models] == [rec.mlflow_run_id]
    info = mlflow.models.get_model_info(models[0].model_uri)
    assert list(info.signature.inputs.to_dict()[0]["tensor-spec"]["shape"]) == [-1, 1, 16, 16]
    assert list(info.signature.outputs.to_dict()[0]["tensor-spec"]["shape"]) == [-1, 2]
    assert run.info.status == "FINISHED" and rec.status == "ok"
