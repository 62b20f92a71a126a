"""Untrusted inputs: nothing in a record, checkpoint or data file runs code unless the user says so,
and each bad input is refused with exit 2 and the file named, never a traceback."""

from __future__ import annotations

import json

from lensbench import records, registry
from lensbench.cli import main
from lensbench.run import runner


def _one_record(opts, seed=0):
    task, spec = registry.tasks.get("test/classification"), registry.models.get("toy-cnn")
    (rec,) = runner.sweep([task], [spec], [seed], opts)
    return rec, records.record_path(opts.results_dir, rec)


def test_reproduce_never_imports_a_records_code_without_trust_code(toy_bench, tmp_path, capsys):
    rec, path = _one_record(toy_bench)
    marker = tmp_path / "payload-ran"
    evil = tmp_path / "evil.py"
    evil.write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\n"
                    "from lensbench_example import tiny_cnn as build\n")
    d = rec.to_dict() | {"model": "not-registered", "model_source": f"{evil}:build"}
    path.write_text(json.dumps(d))
    assert main(["reproduce", str(path), "--cache", str(toy_bench.cache), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--trust-code" in err and "not-registered" in err and "Traceback" not in err
    assert not marker.exists()
    # with the explicit opt-in the code runs (and the cell reruns)
    main(["reproduce", str(path), "--cache", str(toy_bench.cache), "--no-progress", "--trust-code"])
    assert marker.exists()


def test_verify_names_a_checkpoint_of_another_model(toy_bench, tmp_path, capsys):
    toy_bench.checkpoint_dir = tmp_path / "ckpt"
    rec, path = _one_record(toy_bench, seed=1)
    import torch
    from safetensors.torch import save_file

    save_file({"not.a.layer": torch.zeros(3)}, str(toy_bench.checkpoint_dir / rec.checkpoint))
    assert main(["verify", str(path), "--checkpoint-dir", str(toy_bench.checkpoint_dir)]) == 2
    err = capsys.readouterr().err
    assert rec.checkpoint.split("/")[-1] in err and "Traceback" not in err


def test_thread_count_and_device_are_checked_before_anything_runs(capsys):
    for bad in (["--threads", "-1"], ["--threads", "0"], ["--threads", "two"]):
        try:
            main(["run", "--task", "substructure/model2", "--model", "resnet10t", *bad])
        except SystemExit as exc:  # argparse usage error
            assert exc.code == 2
        else:
            raise AssertionError(f"{bad} accepted")
    capsys.readouterr()


def test_verify_never_loads_a_checkpoint_into_a_model_with_pickled_state(toy_bench, tmp_path, capsys):
    """A crafted safetensors file for a classical model could carry a pickle in its extra state."""
    from lensbench.baselines import classical

    toy_bench.checkpoint_dir = tmp_path / "ckpt"
    rec, path = _one_record(toy_bench, seed=2)
    registry.models.register(registry.models.get("toy-cnn").__class__(
        "toy-pickled", lambda task: classical.PicklableState(), "user", ("classification",), "pickled state"), "test")
    try:
        path.write_text(json.dumps(rec.to_dict() | {"model": "toy-pickled"}))
        assert main(["verify", str(path), "--checkpoint-dir", str(toy_bench.checkpoint_dir)]) == 2
        err = " ".join(capsys.readouterr().err.split())  # the message is wrapped at 100 columns
        assert "never unpickles" in err and "Traceback" not in err
    finally:
        registry.models.unregister("toy-pickled")
