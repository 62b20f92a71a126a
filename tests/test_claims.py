"""Claims: parallel sweeps on one results folder share the runs and never run one twice."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from lensbench import liveness, records, registry
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


def test_a_lock_whose_pid_now_belongs_to_another_process_is_stale(tmp_path):
    rec = tmp_path / "seed2.json"
    lock = claims.lock_path(rec)
    info = liveness.this_process()
    lock.write_text(json.dumps({**info, "pid": 1, "started": 123456789}))  # PID 1 lives, but not that one
    with claims.claim(rec) as held:
        assert held is None
    lock.write_text(json.dumps({**info, "boot": "another-boot"}))  # this pid, but before a restart
    with claims.claim(rec) as held:
        assert held is None
    lock.write_text(json.dumps(info))  # this very process: live
    with claims.claim(rec) as held:
        assert held is not None
    lock.unlink()


def test_clean_removes_what_killed_sweeps_left_and_keeps_live_work(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    pid = int(dead.stdout)
    folder = tmp_path / "task" / "v1" / "quick" / "m"
    folder.mkdir(parents=True)
    stale_lock, live_lock = folder / "seed0.lock", folder / "seed1.lock"
    _lock(stale_lock, pid)
    live_lock.write_text(json.dumps(liveness.this_process()))
    empty_lock = folder / "seed2.lock"
    empty_lock.write_text("")  # a kill between create and write
    os.utime(empty_lock, (0, 0))
    partial = folder / f".seed3.json.p{pid}-1.abc.tmp"
    partial.write_text("{")
    mine = folder / f".seed4.json{liveness.temp_tag()}abc.tmp"
    mine.write_text("{")
    assert claims.clean(tmp_path) == 3
    assert not stale_lock.exists() and not empty_lock.exists() and not partial.exists()
    assert live_lock.exists() and mine.exists()
    assert claims.live_locks(tmp_path) == [live_lock]
