"""The check a submission gets when its pull request arrives (``lensbench submission check DIR``).

A submission is one folder (``submissions/README.md`` has a template)::

    submissions/<name>/
        submission.yaml   who, which paper, external data, compute, and each model's code reference
        records/          the run records, as ``lensbench sweep --results submissions/<name>/records`` writes them
        checkpoints/      optional: the safetensors of ``--checkpoint-dir`` (for ``lensbench verify --hidden``)
        README.md         optional: anything else reviewers should know

Everything in it is untrusted input: the metadata is parsed as plain YAML data (``yaml.safe_load``),
records are read by ``lensbench.records`` and checked by ``submission.validate`` (schema, registered
task version, dataset fingerprints computed without building data, full seed sets, no duplicate run),
and no code the submission names is imported or run. Every problem names the file.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lensbench import records, registry
from lensbench.run import hidden, submission

METADATA_FILE = "submission.yaml"
NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")  # a submission folder and a model name
PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*==[A-Za-z0-9][A-Za-z0-9.+!\-]*$")  # package==version
REPO_AT_COMMIT = re.compile(r"^https://[A-Za-z0-9.\-]+/[A-Za-z0-9._\-/]+@[0-9a-f]{40}$")  # URL@full commit
BUILTIN = "lensbench"  # ``code: lensbench``: a model registered in LensBench itself
FIELDS = {
    "name": "the submission's name, equal to its folder name (lower-case letters, digits, '-', '_', '.')",
    "authors": "list of author names",
    "contact": "an e-mail address",
    "paper": "the paper (URL, arXiv id or DOI), or null",
    "external_data": "true when the models saw data other than the task's training split",
    "external_data_description": "what that data was (required when external_data is true)",
    "compute": "mapping: hardware (text), hours (number >= 0) for all runs together",
    "models": "list of mappings: name (as in the records), code (the model's code reference: 'lensbench' for a "
              "registered model, package==version, or https://host/repo@<40-hex commit>)",
    "checkpoints": "optional: 'checkpoints/' (in the folder) or a URL where the safetensors files are",
    "licence": "optional: the licence of the records and checkpoints",
}
OPTIONAL = {"paper", "external_data_description", "checkpoints", "licence"}


@dataclass
class SubmissionReport:
    folder: Path
    problems: list[str] = field(default_factory=list)
    n_records: int = 0
    metadata: dict = field(default_factory=dict)
    runs: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (task, model) -> seeds

    @property
    def ok(self) -> bool:
        return not self.problems and self.n_records > 0


def is_text(v) -> bool:
    return isinstance(v, str) and bool(v.strip())


def code_problem(code, model: str) -> str | None:
    """Why ``code`` is not a usable code reference for ``model`` (None when it is). Nothing is fetched or run."""
    if not is_text(code):
        return "needs 'code'"
    if code == BUILTIN:
        return None if model in registry.models else (f"'code: {BUILTIN}' but {model!r} is not a model "
                                                      "registered in LensBench")
    if PINNED.match(code) or REPO_AT_COMMIT.match(code):
        return None
    return (f"'code' {code!r:.80} is neither '{BUILTIN}', package==version nor https://host/repo@<full 40-hex "
            "commit>")


def metadata_problems(path: Path, folder_name: str) -> tuple[dict, list[str]]:
    """The metadata mapping and its problems, each naming ``path``."""
    import yaml

    if not path.is_file():
        return {}, [f"{path}: missing (the submission's metadata; see submissions/README.md)"]
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return {}, [f"{path}: not readable YAML ({str(exc).splitlines()[0][:200]})"]
    if not isinstance(meta, dict):
        return {}, [f"{path}: expected a mapping of fields ({', '.join(FIELDS)})"]
    out = [f"{path}: unknown field {k!r} (fields: {', '.join(FIELDS)})" for k in meta if k not in FIELDS]
    out += [f"{path}: missing field {k!r}: {FIELDS[k]}" for k in FIELDS if k not in meta and k not in OPTIONAL]

    def bad(key: str, ok: bool) -> None:
        if key in meta and not ok:
            out.append(f"{path}: field {key!r} is {meta[key]!r:.80}; expected {FIELDS[key]}")

    bad("name", isinstance(meta.get("name"), str) and bool(NAME.match(meta["name"])) and meta["name"] == folder_name)
    bad("authors", isinstance(meta.get("authors"), list) and bool(meta["authors"])
        and all(is_text(a) for a in meta["authors"]))
    bad("contact", is_text(meta.get("contact")) and re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", meta["contact"]))
    bad("paper", meta.get("paper") is None or is_text(meta.get("paper")))
    bad("external_data", isinstance(meta.get("external_data"), bool))
    bad("external_data_description", is_text(meta.get("external_data_description")))
    if meta.get("external_data") is True and not is_text(meta.get("external_data_description")):
        out.append(f"{path}: field 'external_data' is true: say what data in 'external_data_description'")
    c = meta.get("compute")
    bad("compute", isinstance(c, dict) and set(c) == {"hardware", "hours"} and is_text(c["hardware"])
        and isinstance(c["hours"], (int, float)) and not isinstance(c["hours"], bool) and c["hours"] >= 0)
    bad("checkpoints", is_text(meta.get("checkpoints")))
    bad("licence", is_text(meta.get("licence")))
    models = meta.get("models")
    bad("models", isinstance(models, list) and bool(models) and all(isinstance(m, dict) for m in models))
    for i, m in enumerate(models if isinstance(models, list) else []):
        if not isinstance(m, dict):
            continue
        name = m.get("name")
        if not (isinstance(name, str) and NAME.match(name)) or set(m) - {"name", "code", "description"}:
            out.append(f"{path}: models[{i}] needs 'name' (lower-case letters, digits, '-', '_', '.') and 'code' "
                       f"(and optionally 'description'), got {m!r:.120}")
            continue
        why = code_problem(m.get("code"), name)
        if why:
            out.append(f"{path}: models[{i}] ({name}): {why}")
    return meta, out


def check(folder: Path, *, results: Path | None = None, cache=None, data_root=None) -> SubmissionReport:
    """Every problem of the submission in ``folder``; ``results`` is the board it would join (its runs
    must not be submitted again)."""
    folder = Path(folder)
    report = SubmissionReport(folder)
    if not folder.is_dir():
        report.problems.append(f"{folder}: not a folder (expected submissions/<name>/ with {METADATA_FILE} "
                               "and records/)")
        return report
    meta, problems = metadata_problems(folder / METADATA_FILE, folder.name)
    report.metadata, report.problems = meta, problems
    recs_dir = folder / "records"
    if not recs_dir.is_dir():
        report.problems.append(f"{recs_dir}: missing (the run records of the submission)")
        return report
    report.problems += [f"{p}: a symbolic link; submit plain files" for p in sorted(folder.rglob("*")) if p.is_symlink()]
    if any(p.is_symlink() for p in folder.rglob("*")):
        return report
    report.problems += [f"{p}: hidden-test verifications are written by the maintainers, not submitted"
                        for p in sorted(recs_dir.rglob(f"*{hidden.SUFFIX}"))]
    valid = submission.validate(recs_dir, cache=cache, data_root=data_root)
    report.problems += valid.problems
    report.n_records = valid.n_records
    listed = {m.get("name") for m in meta.get("models") or [] if isinstance(m, dict)}
    for path in sorted(recs_dir.rglob("*.json")):
        try:
            rec = records.read_record(path)
        except records.RecordError:
            continue  # named by validate
        if rec.status != "ok":
            report.problems.append(f"{path}: a {rec.status!r} run; submit ok runs only")
            continue
        report.runs.setdefault((rec.task, rec.model), []).append(rec.seed)
        if isinstance(meta.get("models"), list) and rec.model not in listed:
            report.problems.append(f"{path}: model {rec.model!r} is not listed under 'models' in {METADATA_FILE}")
        if results is not None and records.record_path(results, rec).is_file():
            report.problems.append(f"{path}: duplicated run: {rec.task} [{rec.preset}] {rec.model} seed {rec.seed} "
                                   f"is already on the board ({records.record_path(results, rec)}); rename the model")
    have = {model for _, model in report.runs}
    report.problems += [f"{folder / METADATA_FILE}: model {m!r} is listed but has no records" for m in sorted(listed - have)
                        if isinstance(m, str)]
    return report


def merged_results(folder: Path, results: Path | None, into: Path) -> Path:
    """A results folder holding the board's records (``results``, when it exists) and the submission's."""
    into = Path(into)
    if results is not None and Path(results).is_dir():
        shutil.copytree(results, into, dirs_exist_ok=True)
    shutil.copytree(Path(folder) / "records", into, dirs_exist_ok=True,
                    ignore=lambda d, names: [n for n in names if n.endswith(hidden.SUFFIX)])
    return into
