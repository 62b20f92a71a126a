"""Claims: parallel sweeps on one results folder share the runs and never run one twice."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from lensbench import records, registry
from lensbench.run import claims, runner


def _lock(path, pid, host=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": host or socket.gethostname(), "pid": pid, "since": "then"}))


def test_claim_is_exclusive_and_released(tmp_path):
    rec = tmp_path / "t" / "seed0.json"
    with claims.claim(rec) as held:
        assert held is None and claims.lock_path(rec).exists()
        with claims.claim(rec) as other:
            assert other is not None and f"pid {os.getpid()}" in other
    assert not claims.lock_path(rec).exists()


def test_stale_lock_of_a_dead_process_is_taken_over_and_foreign_host_respected(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    rec = tmp_path / "seed1.json"
    _lock(claims.lock_path(rec), int(dead.stdout))
    with claims.claim(rec) as held:
        assert held is None
        assert json.loads(claims.lock_path(rec).read_text())["pid"] == os.getpid()
    _lock(claims.lock_path(rec), int(dead.stdout), host="elsewhere.invalid")
    with claims.claim(rec) as held:
        assert held is not None and "elsewhere.invalid" in held and "delete" in held


def test_sweep_leaves_a_claimed_run_to_its_holder(toy_bench):
    task, spec = registry.tasks.get("test/classification"), registry.models.get("toy-cnn")
    path = records.record_path(toy_bench.results_dir, records.probe(task.id, task.version, "quick", spec.name, 0))
    _lock(claims.lock_path(path), os.getpid())  # a live sweep (this process) holds seed 0
    out = list(runner.sweep([task], [spec], [0, 1], toy_bench))
    assert [r.seed for r in out] == [1] and not path.exists()
    claims.lock_path(path).unlink()
    out = list(runner.sweep([task], [spec], [0, 1], toy_bench))
    assert [r.seed for r in out] == [0, 1] and path.exists()
    assert not list(toy_bench.results_dir.rglob("*.lock"))
