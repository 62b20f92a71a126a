"""Checks on run records, which are untrusted input: anyone can hand us a results folder.

A record file is refused (``RecordError`` naming the file, and the field when there is one) before
anything else reads it when it is larger than ``MAX_RECORD_BYTES`` (checked before it is read), not
UTF-8, not strict JSON (``NaN``/``Infinity`` included), nested deeper than ``MAX_DEPTH``, holds an
integer outside 64 bits or a non-finite number, or breaks a rule of ``RULES``: names that end up in
file paths, Markdown, HTML and plot labels match ``NAME`` / ``TASK`` / ``KEY`` (no ``/``, ``..``,
``<``, ``$``, spaces or newlines), fingerprints are hex, every metric value lies in its metric's
range (``lensbench.metric_names.metric_range``). The board renders only records that passed.

The checks are generic over the record's fields (their JSON types are the ``types`` metadata of each
``RunRecord`` field, passed in as ``fields``), so this module does not import ``lensbench.records``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import MISSING
from datetime import datetime

from lensbench import metric_names
from lensbench.specs import FAMILIES

SCHEMA_VERSION = 4  # 2 added `curves` and `slices`, 3 `bootstrap` and `curve` (older records read with them empty),
# 4 `train_cpu_s` and `eval_cpu_s` (null in older records)
KNOWN_SCHEMA_VERSIONS = (1, 2, 3, 4)
STATUSES = ("ok", "failed")
MAX_RECORD_BYTES = 4 * 2**20  # a record of the v1 board is about 10 kB; bootstrap replicates add < 1 MB
MAX_DEPTH = 12  # nesting of objects and lists, the record itself level 1; records use at most 4
MAX_INT = 2**63 - 1
NAME = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,99}")  # model, preset (as registered: ``specs``)
TASK = re.compile(rf"{NAME.pattern}(/{NAME.pattern})?")  # task id, ``family/name``
KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")  # metric, class and column names
DATASET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@\-]{0,99}")  # dataset id, e.g. ``model1-sim@v1``
HEX = re.compile(r"[0-9a-f]{8,128}")  # dataset fingerprints
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+\-]{0,199}")  # config hashes, run ids, commits
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # control characters, newlines included
RULES = (
    "Rules checked on read (a file that breaks one is refused, naming the file and the field): the file is at",
    f"most {MAX_RECORD_BYTES // 2**20} MiB (checked before it is read), UTF-8, strict JSON (no `NaN` or `Infinity`),",
    f"nested at most {MAX_DEPTH} deep, integers within 64 bits, numbers finite; no string holds a control",
    "character (newlines only in `error`); `status` is `ok` or `failed`; a failed run has a non-empty `error`;",
    "an `ok` run has a number for `metrics_test[primary_metric]`; `higher_is_better` is the primary metric's",
    "direction; every metric value (in `metrics_val`, `metrics_test`, `bootstrap`, `slices`, `curves`) lies in",
    "its metric's range (AUC, accuracy, F1, TPR, FPR in [0, 1], errors >= 0, R² <= 1); `created` is ISO-8601.",
    f"Names are identifiers: `model` and `preset` match `{NAME.pattern}`, `task` (and `source_task`) is `family/name` of those,",
    f"`model_family` is one of {', '.join(FAMILIES)}; metric, class and column names match `{KEY.pattern}`;",
    f"`dataset` matches `{DATASET.pattern}`; fingerprints are lowercase hex (8-128 digits); config hashes,",
    "`git_commit` and `mlflow_run_id` are single tokens; `checkpoint` is a relative path without `..`.",
)


class RecordError(ValueError):
    """A run record is malformed; the message names the file and the field."""


# ----------------------------------------------------------------------------- bytes -> JSON


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number (strict JSON: an undefined value is null)")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or abs(int(text)) > MAX_INT:
        raise ValueError(f"integer {text[:20]}{'...' if len(text) > 20 else ''} ({len(text)} digits) is "
                         "outside 64 bits")
    return int(text)


def _finite_float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise ValueError(f"number {text[:30]} is not finite as a double")
    return x


def parse(raw: bytes, source: str) -> object:
    """The JSON value of a record file's bytes; ``RecordError`` naming ``source`` for bytes over
    ``MAX_RECORD_BYTES``, non-UTF-8 text, invalid or non-strict JSON, too deep a nesting, integers
    outside 64 bits and non-finite numbers."""
    if len(raw) > MAX_RECORD_BYTES:
        raise RecordError(f"{source}: larger than the {MAX_RECORD_BYTES} bytes a record may have")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RecordError(f"{source}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_int,
                           parse_float=_finite_float)
    except json.JSONDecodeError as e:
        raise RecordError(f"{source}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise RecordError(f"{source}: JSON nested more deeply than {MAX_DEPTH} levels") from None
    except ValueError as e:
        raise RecordError(f"{source}: {e}") from None
    return value


def check_tree(value, source: str, where: str, newlines: bool = False, depth: int = 1) -> None:
    """Without recursion: ``value`` (at nesting level ``depth``; a record's fields are at level 2) is
    JSON data (str keys; str, bool, None, int within 64 bits, finite float) nested at most ``MAX_DEPTH``
    deep, and no string in it holds a control character (newline and tab allowed when ``newlines``)."""
    stack = [(value, where, depth)]
    control = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]") if newlines else CONTROL
    while stack:
        v, at, depth = stack.pop()
        if isinstance(v, (dict, list)):
            if depth > MAX_DEPTH:
                raise RecordError(f"{source}: {at}: nested more deeply than {MAX_DEPTH} levels")
            items = v.items() if isinstance(v, dict) else enumerate(v)
            for k, x in items:
                if isinstance(v, dict) and not isinstance(k, str):
                    raise RecordError(f"{source}: {at}: key {k!r} is not a string")
                if isinstance(k, str) and control.search(k):
                    raise RecordError(f"{source}: {at}: key {k!r} holds a control character")
                stack.append((x, f"{at}[{k!r}]", depth + 1))
        elif isinstance(v, str):
            if control.search(v):
                raise RecordError(f"{source}: {at}: {_shown(v)} holds a control character (e.g. a newline)")
        elif isinstance(v, bool) or v is None:
            continue
        elif isinstance(v, int):
            if abs(v) > MAX_INT:
                raise RecordError(f"{source}: {at}: integer with {len(str(abs(v)))} digits is outside 64 bits")
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise RecordError(f"{source}: {at}: {v!r} is not a finite number")
        else:
            raise RecordError(f"{source}: {at}: {type(v).__name__} is not a JSON value")


def _shown(v) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


# ----------------------------------------------------------------------------- JSON types of fields


def is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _bad_metric_keys(d: dict) -> list[str]:
    """Keys of a metrics dict whose value is not a number, null, or a JSON list/object."""
    return [k for k, x in d.items() if not (x is None or is_num(x) or isinstance(x, (list, dict)))]


def check_type(v, spec: str) -> bool:
    """``v`` (already JSON data: ``check_tree``) has the JSON type ``spec`` (``?`` = or null)."""
    if spec.endswith("?"):
        return v is None or check_type(v, spec[:-1])
    checks = {
        "str": lambda: isinstance(v, str),
        "int": lambda: isinstance(v, int) and not isinstance(v, bool),
        "num": lambda: is_num(v),
        "bool": lambda: isinstance(v, bool),
        "dict": lambda: isinstance(v, dict),
        "list[str]": lambda: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "list[dict]": lambda: isinstance(v, list) and all(isinstance(x, dict) for x in v),
        "dict[str,str]": lambda: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        "metrics": lambda: isinstance(v, dict) and not _bad_metric_keys(v),
    }
    return checks[spec]()


TYPE_WORDS = {
    "str": "a string", "int": "an integer", "num": "a number", "bool": "true/false", "dict": "a JSON object",
    "list[str]": "a list of strings", "list[dict]": "a list of JSON objects",
    "dict[str,str]": "an object of strings",
    "metrics": "an object of metric values (numbers, null, or lists/objects of them)",
}


def type_words(spec: str) -> str:
    return TYPE_WORDS[spec[:-1]] + " or null" if spec.endswith("?") else TYPE_WORDS[spec]


def required(f) -> bool:
    return f.name == "schema_version" or (f.default is MISSING and f.default_factory is MISSING)


# ----------------------------------------------------------------------------- the record


def check_record(d, source: str, fields) -> None:
    """Raise ``RecordError`` unless ``d`` is a valid record of a known schema version whose fields are
    ``fields`` (the dataclass fields of ``RunRecord``, each with its ``types`` metadata)."""
    if not isinstance(d, dict):
        raise RecordError(f"{source}: expected a JSON object at the top level, got {type(d).__name__}")
    sv = d.get("schema_version", MISSING)
    if sv is MISSING:
        raise RecordError(f"{source}: field 'schema_version' is missing (expected one of {KNOWN_SCHEMA_VERSIONS})")
    if isinstance(sv, bool) or sv not in KNOWN_SCHEMA_VERSIONS:
        raise RecordError(f"{source}: field 'schema_version' is {_shown(sv)}; this reader knows "
                          f"{KNOWN_SCHEMA_VERSIONS}")
    specs = {f.name: f for f in fields}
    unknown = sorted(set(d) - set(specs), key=str)
    if unknown:
        raise RecordError(f"{source}: unknown field(s) {_shown(unknown)}; schema v{sv} has {list(specs)}")
    for name, f in specs.items():
        if name not in d:
            if required(f):
                raise RecordError(f"{source}: field {name!r} is missing (expected {type_words(f.metadata['types'])})")
            continue
        v = d[name]
        check_tree(v, source, f"field {name!r}", newlines=name == "error", depth=2)
        if not check_type(v, f.metadata["types"]):
            where, words = "", type_words(f.metadata["types"])
            if f.metadata["types"] == "metrics" and isinstance(v, dict):
                key = _bad_metric_keys(v)[0]
                where, words, v = f" key {key!r}", "a number, null, or a JSON list/object", v[key]
            raise RecordError(f"{source}: field {name!r}{where}: expected {words}, got {type(v).__name__} {_shown(v)}")
    _check_outcome(d, source)
    _check_names(d, source)
    _check_metric_values(d, source)


def _check_outcome(d: dict, source: str) -> None:
    if d["status"] not in STATUSES:
        raise RecordError(f"{source}: field 'status': expected one of {STATUSES}, got {_shown(d['status'])}")
    if d["status"] == "failed" and not d.get("error"):
        raise RecordError(f"{source}: field 'error': a failed run must say why (got {d.get('error')!r})")
    if d["status"] == "ok" and not is_num(d.get("metrics_test", {}).get(d["primary_metric"])):
        raise RecordError(f"{source}: field 'metrics_test': an ok run must hold a number for its primary metric "
                          f"{d['primary_metric']!r}")
    if "created" in d:
        try:
            datetime.fromisoformat(d["created"])
        except ValueError:
            raise RecordError(f"{source}: field 'created': expected an ISO-8601 time, got {_shown(d['created'])}"
                              ) from None


def _name(source: str, field: str, v, pattern: re.Pattern, what: str) -> None:
    if not isinstance(v, str) or not pattern.fullmatch(v):
        raise RecordError(f"{source}: field {field}: {_shown(v)} is not {what} (pattern {pattern.pattern})")


def _check_names(d: dict, source: str) -> None:
    """Every string that becomes part of a path, a table, a page or a plot label is an identifier."""
    _name(source, "'task'", d["task"], TASK, "a task id")
    if d.get("source_task") is not None:
        _name(source, "'source_task'", d["source_task"], TASK, "a task id")
    _name(source, "'preset'", d["preset"], NAME, "a preset name")
    _name(source, "'model'", d["model"], NAME, "a model name")
    if d["model_family"] not in FAMILIES:
        raise RecordError(f"{source}: field 'model_family': expected one of {FAMILIES}, got {_shown(d['model_family'])}")
    _name(source, "'dataset'", d["dataset"], DATASET, "a dataset id")
    for field in ("dataset_fingerprint", "test_dataset_fingerprint"):
        if d.get(field) is not None:
            _name(source, repr(field), d[field], HEX, "a hex fingerprint")
    for field in ("task_config_hash", "model_config_hash", "git_commit", "mlflow_run_id"):
        if d.get(field) is not None:
            _name(source, repr(field), d[field], TOKEN, "a single token")
    _name(source, "'primary_metric'", d["primary_metric"], KEY, "a metric name")
    try:
        direction = metric_names.higher_is_better(d["primary_metric"])
    except ValueError as e:
        raise RecordError(f"{source}: field 'primary_metric': {e}") from None
    if d["higher_is_better"] != direction:
        raise RecordError(f"{source}: field 'higher_is_better' is {d['higher_is_better']}, but higher "
                          f"{d['primary_metric']!r} is {'better' if direction else 'worse'}")
    for i, m in enumerate(d.get("secondary_metrics", [])):
        _name(source, f"'secondary_metrics'[{i}]", m, KEY, "a metric name")
    ckpt = d.get("checkpoint")
    if ckpt is not None and (not ckpt or ckpt.startswith("/") or not all(KEY.fullmatch(p) for p in ckpt.split("/"))):
        raise RecordError(f"{source}: field 'checkpoint': {_shown(ckpt)} is not a relative path of plain names")


def _in_range(source: str, at: str, metric: str, v) -> None:
    """``v`` (a number or null) lies in the range of ``metric``."""
    if v is None:
        return
    if not is_num(v):
        raise RecordError(f"{source}: {at}: expected a number or null, got {_shown(v)}")
    lo, hi = metric_names.metric_range(metric)
    if not lo <= v <= hi:
        raise RecordError(f"{source}: {at}: {v!r} is outside the range [{lo}, {hi}] of {metric!r}")


def _values(source: str, at: str, metric: str, values) -> None:
    if not isinstance(values, list):
        raise RecordError(f"{source}: {at}: expected a list of numbers, got {type(values).__name__}")
    for i, v in enumerate(values):
        _in_range(source, f"{at}[{i}]", metric, v)


def _check_metric_values(d: dict, source: str) -> None:
    """Each metric value in the range of its metric; metric, class and column names are ``KEY``s."""
    for field in ("metrics_val", "metrics_test"):
        for k, v in d.get(field, {}).items():
            _name(source, f"{field!r} key", k, KEY, "a metric name")
            if not isinstance(v, (list, dict)):
                _in_range(source, f"field {field!r} key {k!r}", k, v)
    metrics = _mapping(source, "'bootstrap' metrics", d.get("bootstrap", {}).get("metrics", {}))
    for k, vals in metrics.items():
        _name(source, "'bootstrap' metric", k, KEY, "a metric name")
        _values(source, f"field 'bootstrap' metric {k!r}", k, vals)
    roc = _mapping(source, "'curves' roc", d.get("curves", {}).get("roc", {}))
    _values(source, "field 'curves' fpr", "tpr", roc.get("fpr", []))  # a rate in [0, 1], as TPRs
    for cls, vals in _mapping(source, "'curves' tpr", roc.get("tpr", {})).items():
        _name(source, "'curves' class", cls, KEY, "a class name")
        _values(source, f"field 'curves' tpr {cls!r}", "tpr", vals)
    for col, s in d.get("slices", {}).items():
        _name(source, "'slices' column", col, KEY, "a column name")
        for k, vals in _mapping(source, f"'slices' {col!r}", s).items():
            _name(source, f"'slices' {col!r} key", k, KEY, "a metric name")
            _values(source, f"field 'slices' {col!r} {k!r}", "edges" if k in ("edges", "n") else k, vals)


def _mapping(source: str, at: str, v) -> dict:
    if not isinstance(v, dict):
        raise RecordError(f"{source}: field {at}: expected a JSON object, got {type(v).__name__} {_shown(v)}")
    return v
