"""The real parts of the cluster tests (a pytest plugin: ``conftest.pytest_plugins``).

- ``ray_cluster``: a local Ray cluster for the session (2 CPUs, no dashboard); its workers find this
  folder and the example plug-in on ``PYTHONPATH`` so they can import the toy plug-ins below.
- ``tracking_server``: PostgreSQL 15 (started as the ``postgres`` user when the tests run as root,
  data and socket in a temporary folder, a free loopback port) behind ``mlflow server
  --backend-store-uri postgresql+psycopg2://... --artifacts-destination ...``; its URI.
- ``toy_worker_setup``: what a Ray worker calls before a cell to have the plug-ins the test process
  registered with ``conftest.toy_bench`` (the toy recipe, dataset and models).

Each fixture skips, with its reason, only when its engine cannot be found or started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from torch import nn

TESTS = Path(__file__).resolve().parent
PLUGIN = TESTS.parent / "examples" / "lensbench-example-plugin"
PG_VERSION = "15"
KILL_MARKER: str | None = None  # set in a worker by toy_worker_setup: the first cell of ``killed_once`` dies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout_s: float, what: str) -> None:
    """Poll ``check()`` until it is true; ``pytest.fail`` naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.2)


# --------------------------------------------------------------------------- toy plug-ins in workers

def tiny_mlp(task) -> nn.Module:
    """A second tiny model (a different architecture from the example plug-in's CNN)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(int(torch.tensor(task.input_shape).prod()), 16), nn.ReLU(),
                         nn.Linear(16, task.n_outputs))


class KilledOnce(nn.Module):
    """Kills its own process in the first forward pass of its first attempt (``KILL_MARKER`` absent),
    the way a lost worker dies: no exception, no cleanup."""

    def __init__(self, task):
        super().__init__()
        self.net = tiny_mlp(task)

    def forward(self, x):
        if KILL_MARKER and not Path(KILL_MARKER).exists():
            Path(KILL_MARKER).write_text(str(os.getpid()))
            os._exit(1)
        return self.net(x)


class Gated(nn.Module):
    """Waits in its first forward pass until the file ``GATE`` (a sibling of ``KILL_MARKER``) exists,
    writing its pid to ``KILL_MARKER`` first: a cell that is still running when its driver is killed."""

    def __init__(self, task):
        super().__init__()
        self.net = tiny_mlp(task)

    def forward(self, x):
        if KILL_MARKER:
            gate = Path(KILL_MARKER).with_name("gate")
            Path(KILL_MARKER).write_text(str(os.getpid()))
            while not gate.exists():
                time.sleep(0.1)
        return self.net(x)


def toy_models():
    from lensbench.specs import ModelSpec

    sys.path.insert(0, str(PLUGIN))
    from lensbench_example import tiny_cnn

    kinds = ("classification", "regression")
    return [ModelSpec("toy-cnn", tiny_cnn, "user", kinds, "tiny"),
            ModelSpec("toy-mlp", tiny_mlp, "user", kinds, "tiny mlp"),
            ModelSpec("killed-once", KilledOnce, "user", kinds, "dies on its first attempt"),
            ModelSpec("gated", Gated, "user", kinds, "waits for a gate file")]


def toy_worker_setup(recipe_version: int = 1, kill_marker: str | None = None) -> None:
    """In a Ray worker: the toy recipe (its ``version`` is part of the dataset fingerprint) and dataset
    of ``conftest.toy_bench``; ``kill_marker`` arms ``KilledOnce`` / ``Gated``."""
    global KILL_MARKER
    from conftest import ToyRecipe

    from lensbench import registry
    from lensbench.data import simulated
    from lensbench.specs import DatasetSpec

    recipe = type("ToyRecipeV", (ToyRecipe,), {"version": recipe_version})()
    simulated.get_recipe = lambda name: recipe
    if "toy" not in registry.datasets:
        registry.datasets.register(DatasetSpec("toy", 1, "toy", ("no_sub", "cdm"), (1, 16, 16), 0.1,
                                               recipe="toy", columns=("radius",)), "test")
    KILL_MARKER = kill_marker


# --------------------------------------------------------------------------- Ray

@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster for the session; yields its GCS address (for drivers in other processes)."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'lensbench[ray]')")
    path = os.pathsep.join(p for p in (str(TESTS), str(PLUGIN), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


# --------------------------------------------------------------------------- PostgreSQL + MLflow

def postgres_bin() -> Path | None:
    """The PostgreSQL server binaries: ``$LENSBENCH_PG_BIN``, else Debian's layout, else ``PATH``."""
    candidates = [os.environ.get("LENSBENCH_PG_BIN"), f"/usr/lib/postgresql/{PG_VERSION}/bin",
                  str(Path(shutil.which("initdb") or "none").parent)]
    return next((Path(c) for c in candidates if c and (Path(c) / "initdb").is_file()), None)


def as_postgres(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Run a PostgreSQL command; as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120, **kw)


@contextlib.contextmanager
def postgres_server():
    """A throw-away PostgreSQL cluster with a database ``mlflow``; yields its SQLAlchemy URI."""
    pg = postgres_bin()
    if pg is None:
        pytest.skip(f"PostgreSQL {PG_VERSION} is not installed (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="lensbench-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port, data = free_port(), root / "data"
    out = as_postgres([str(pg / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                       "--no-sync"])
    if out.returncode:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL cannot be initialised here: {out.stderr.strip()[-300:]}")
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    out = as_postgres([str(pg / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60", "-o", opts,
                       "start"])
    try:
        if out.returncode:
            pytest.skip(f"PostgreSQL cannot be started here: {out.stdout.strip()[-300:]}")
        made = as_postgres([str(pg / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "mlflow"])
        assert made.returncode == 0, made.stderr
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/mlflow"
    finally:
        as_postgres([str(pg / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


def healthy(uri: str) -> bool:
    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory):
    """``mlflow server`` on PostgreSQL for the session; yields its http URI."""
    pytest.importorskip("psycopg2", reason="psycopg2 is not installed (pip install 'lensbench[postgres]')")
    mlflow = Path(sys.executable).with_name("mlflow")
    with postgres_server() as db:
        art, log = tmp_path_factory.mktemp("mlartifacts"), tmp_path_factory.mktemp("mlflow") / "server.log"
        port = free_port()
        uri = f"http://127.0.0.1:{port}"
        with open(log, "w") as fh:
            proc = subprocess.Popen([str(mlflow), "server", "--backend-store-uri", db, "--artifacts-destination",
                                     str(art), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                                    stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 180
            while not healthy(uri):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow server did not start:\n{log.read_text()[-2000:]}")
                time.sleep(0.5)
            yield uri
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# --------------------------------------------------------------------------- a driver in its own process

def drive(address: str, results: str, uri: str, cache: str, marker: str) -> None:
    """A sweep driver as a separate process (``python -c``), so a test can kill it: the toy
    classification task, ``toy-cnn`` seeds 0 and 1 and ``gated`` seed 0, through the Ray cluster at
    ``address`` into the tracking store ``uri``."""
    import functools

    import ray
    from conftest import make_task

    from lensbench import registry
    from lensbench.run import grid
    from lensbench.run.ray_executor import RayExecutor
    from lensbench.run.runner import RunOptions

    toy_worker_setup()
    task = registry.tasks.register(make_task("classification", epochs=2), "test")
    models = {m.name: m for m in toy_models()}
    cells = [*grid.cells([task], [models["toy-cnn"]], [0, 1]), *grid.cells([task], [models["gated"]], [0])]
    path = os.pathsep.join([str(TESTS), str(PLUGIN)])
    ray.init(address=address, logging_level="WARNING", log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    opts = RunOptions(results_dir=Path(results), tracking_uri=uri, cache=Path(cache), progress=False)
    executor = RayExecutor(worker_setup=functools.partial(toy_worker_setup, kill_marker=marker))
    for rec in executor.run_cells(cells, opts):
        print(rec.model, rec.seed, rec.status, flush=True)
    sys.exit(1 if executor.problems else 0)
