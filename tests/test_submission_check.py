"""``lensbench submission check``: a submission folder from tiny real runs passes and joins the rendered
board; a wrong fingerprint, a missing seed, a duplicated run and bad metadata each fail with exit 2,
naming the file, without a traceback."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from lensbench import records, registry
from lensbench.cli import main
from lensbench.run import runner

META = """\
name: {name}
authors: [Ada Lovelace, Alan Turing]
contact: ada@example.org
paper: https://arxiv.org/abs/2601.00001
external_data: false
compute: {{hardware: "1 CPU core", hours: 0.01}}
models:
  - name: toy-cnn
    code: lensbench
"""


@pytest.fixture
def submission(toy_bench, tmp_path):
    """(a valid submission folder from three tiny runs, the board's results folder with another model)."""
    folder = tmp_path / "submissions" / "toy-team"
    toy_bench.results_dir = folder / "records"
    task, spec = registry.tasks.get("test/classification"), registry.models.get("toy-cnn")
    recs = list(runner.sweep([task], [spec], [0, 1, 2], toy_bench))
    (folder / "submission.yaml").write_text(META.format(name="toy-team"))
    board = tmp_path / "board-results"
    for rec in recs:  # the board already holds another model's runs
        records.write_record(replace(rec, model="older-model"), board)
    return folder, board


def check(folder, board, capsys, *extra):
    code = main(["submission", "check", str(folder), "--results", str(board), *extra])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


def variant(folder, name):
    """A copy of the submission to tamper with (its folder name and metadata name are ``name``)."""
    other = folder.parent / name
    shutil.copytree(folder, other)
    (other / "submission.yaml").write_text(META.format(name=name))
    return other


def test_valid_submission_passes_and_crafted_faults_fail(submission, capsys, tmp_path):
    folder, board = submission
    code, out, err = check(folder, board, capsys, "--out", str(tmp_path / "rendered"))
    assert code == 0, err
    assert "submission valid: 3 record(s), 1 (task, model) pair(s)" in out and "seeds [0, 1, 2]" in out
    rows = json.loads((tmp_path / "rendered" / "leaderboard.json").read_text())
    assert {r["model"] for r in rows} == {"toy-cnn", "older-model"}  # the submission beside the board
    assert all(r["n"] == 3 for r in rows)
    assert "toy-cnn" in (tmp_path / "rendered" / "leaderboard.md").read_text()

    # then each crafted fault: a wrong fingerprint, a missing seed, a duplicated run
    seed_dir = folder / "records" / "test__classification" / "v1" / "quick" / "toy-cnn"

    bad = variant(folder, "wrong-fp")
    path = bad / seed_dir.relative_to(folder) / "seed1.json"
    d = json.loads(path.read_text())
    d["dataset_fingerprint"] = "0" * 64  # e.g. trained on data of another simulator version
    path.write_text(json.dumps(d))
    code, _, err = check(bad, board, capsys)
    assert code == 2 and f"{path}: field 'dataset_fingerprint' is 000000000000" in err

    bad = variant(folder, "missing-seed")
    (bad / seed_dir.relative_to(folder) / "seed2.json").unlink()
    code, _, err = check(bad, board, capsys)
    assert code == 2 and f"{bad / seed_dir.relative_to(folder)}: no seed2.json" in err and "missing [2]" in err

    bad = variant(folder, "twice")
    first = bad / seed_dir.relative_to(folder) / "seed0.json"
    shutil.copy(first, first.with_name("seed0-again.json"))  # the same run handed in twice
    code, _, err = check(bad, board, capsys)
    assert code == 2 and "duplicate run" in err and str(first) in err and "seed0-again.json" in err

    # a run the board already has (same task, model, seed) is a duplicate as well
    for p in sorted(seed_dir.glob("seed*.json")):
        records.write_record(records.read_record(p), board)
    code, _, err = check(folder, board, capsys)
    assert code == 2 and f"{seed_dir / 'seed0.json'}: duplicated run" in err and "already on the board" in err


EDITS = [  # (edit of the valid metadata, what the refusal says; None: still valid)
    (lambda m: m.replace("name: bad-meta", "name: other-name"), "field 'name' is 'other-name'"),
    (lambda m: m.replace("[Ada Lovelace, Alan Turing]", "[]"), "field 'authors'"),
    (lambda m: m.replace("ada@example.org", "ada"), "field 'contact'"),
    (lambda m: m.replace("external_data: false", "external_data: no thanks"), "field 'external_data'"),
    (lambda m: m.replace("external_data: false", "external_data: true"), "'external_data_description'"),
    (lambda m: m.replace("hours: 0.01", "hours: -1"), "field 'compute'"),
    (lambda m: m.replace("code: lensbench", "code: https://github.com/x/y@abc123"), "models[0] (toy-cnn): 'code'"),
    (lambda m: m.replace("code: lensbench", "code: mypkg==1.0"), None),  # a pinned package is a valid reference
    (lambda m: m.replace("- name: toy-cnn", "- name: Toy CNN"), "models[0] needs 'name'"),
    (lambda m: m.replace("- name: toy-cnn", "- name: another-cnn"), "model 'toy-cnn' is not listed"),
    (lambda m: m + "gpu: lots\n", "unknown field 'gpu'"),
    (lambda m: m.replace("paper: https://arxiv.org/abs/2601.00001\n", "paper: [unclosed\n"), "not readable YAML"),
    (lambda m: "!!python/object/apply:os.system [echo pwned]\n", "not readable YAML"),  # never executed
    (lambda m: "- a list\n", "expected a mapping"),
]


def test_bad_metadata_and_missing_parts_are_refused_naming_the_file(submission, capsys):
    folder, board = submission
    bad = variant(folder, "bad-meta")
    meta = bad / "submission.yaml"
    valid = meta.read_text()
    for edit, message in EDITS:
        meta.write_text(edit(valid))
        code, _, err = check(bad, board, capsys)
        if message is None:
            assert code == 0, err
        else:
            assert code == 2 and str(meta) in err and message in err, (message, err)

    # missing parts, and files only maintainers write
    bad = variant(folder, "no-meta")
    (bad / "submission.yaml").unlink()
    code, _, err = check(bad, board, capsys)
    assert code == 2 and f"{bad / 'submission.yaml'}: missing" in err
    bad = variant(folder, "self-verified")
    fake = next((bad / "records").rglob("seed0.json")).with_name("seed0.hidden.verification")
    fake.write_text("{}")
    code, _, err = check(bad, board, capsys)
    assert code == 2 and f"{fake}: hidden-test verifications are written by the maintainers" in err
    bad = variant(folder, "no-records")
    shutil.rmtree(bad / "records")
    code, _, err = check(bad, board, capsys)
    assert code == 2 and f"{bad / 'records'}: missing" in err
