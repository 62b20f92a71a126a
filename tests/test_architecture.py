"""The package shape ARCHITECTURE.md promises, and its "add a recipe / dataset / task / model /
format" steps, exercised through the example plugin's entry points and the CLI, as a user would.

The plugin is made visible to a fresh process the way ``pip install`` would: a ``*.dist-info``
folder whose ``entry_points.txt`` is built from the plugin's own ``pyproject.toml``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "examples" / "lensbench-example-plugin"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PACKAGE_DIRS = PYPROJECT["tool"]["setuptools"]["package-dir"]
LAYERS = {  # a module may import its own layer and the layers below it, never one above
    "lensbench.lensing": 0, "lensbench.specs": 1, "lensbench.suite_specs": 1, "lensbench.metric_names": 1, "lensbench.metrics": 1,
    "lensbench.kinds": 1, "lensbench.registry": 1, "lensbench.records": 1, "lensbench.record_checks": 1,
    "lensbench.resampling": 1,
    "lensbench.liveness": 1, "lensbench.data": 2,
    "lensbench.run": 3, "lensbench.board": 4, "lensbench.cli": 5,
}
PLUGINS = ("lensbench.tasks", "lensbench.baselines", "lensbench.pinn_models")


def _source_dir(package: str) -> Path:
    """The folder a dotted package is installed from (pyproject's package-dir mapping)."""
    for prefix in sorted(PACKAGE_DIRS, key=len, reverse=True):
        if package == prefix or package.startswith(prefix + "."):
            return REPO / PACKAGE_DIRS[prefix] / Path(*package[len(prefix):].lstrip(".").split(".") or [""])
    raise AssertionError(f"{package} is outside every package-dir mapping")


def _modules() -> dict[str, Path]:
    out = {}
    for package in PYPROJECT["tool"]["setuptools"]["packages"]:
        for path in sorted(_source_dir(package).glob("*.py")):
            out[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return out


def _imports(path: Path) -> list[tuple[str, list[str], bool]]:
    """(module, names, at module level) of each absolute import of a source file."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, [], id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names], id(node) in top))
    return out


def _layer(module: str) -> int | None:
    return next((v for k, v in sorted(LAYERS.items(), key=lambda kv: -len(kv[0]))
                 if module == k or module.startswith(k + ".")), None)


def test_every_package_folder_is_installed_under_the_one_root():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert all(p == "lensbench" or p.startswith("lensbench.") for p in listed)
    for root, folder in PACKAGE_DIRS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder).parts
            assert ".".join((root, *rel)).rstrip(".") in listed, f"{init.parent} is not in pyproject packages"


def test_modules_are_small_import_downwards_and_share_no_private_names():
    modules = _modules()
    assert len(modules) > 60
    for name, path in modules.items():
        assert len(path.read_text().splitlines()) < 400, f"{name} has 400+ lines"
        mine = _layer(name)
        for module, names, _ in _imports(path):
            if not module.startswith("lensbench"):
                continue
            assert not [n for n in names if n.startswith("_") and not n.endswith("__")], \
                f"{name}: private names from {module}"
            if mine is not None and not name.startswith(PLUGINS):
                assert not module.startswith(PLUGINS), f"{name} imports the plug-in {module} by name"
                theirs = _layer(module)
                assert theirs is None or theirs <= mine, f"{name} imports {module}, a layer above it"


def test_no_import_cycle_among_module_level_imports():
    modules = _modules()
    graph = {name: {m for m, names, top in _imports(path) if top for m in
                    [m, *(f"{m}.{n}" for n in names)] if m in modules and m != name}
             for name, path in modules.items()}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(nxt):], nxt]))
            if not state.get(nxt):
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in graph:
        if not state.get(name):
            visit(name, [name])


def test_old_top_level_names_are_gone_and_the_version_is_written_once(tmp_path):
    code = ("import importlib.util as u, lensbench; "
            "print([n for n in ('benchmark', 'tasks', 'baselines', 'lensing', 'pinn_models') if u.find_spec(n)]);"
            "print(lensbench.__version__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    found, version = out.stdout.split("\n")[:2]
    assert found == "[]"
    assert version == PYPROJECT["project"]["version"]
    for path in [*_modules().values(), REPO / "CITATION.cff"]:
        assert PYPROJECT["project"]["version"] not in path.read_text(), f"{path.name} restates the version"


def test_the_example_plugin_uses_the_public_api_only():
    import lensbench

    for module, names, _ in _imports(PLUGIN / "lensbench_example" / "__init__.py"):
        if module.startswith("lensbench"):
            assert module == "lensbench", f"the example plugin imports {module}: not public API"
            assert set(names) <= set(lensbench.__all__)
            for n in names:
                assert getattr(lensbench, n) is not None


@pytest.fixture
def plugin_env(tmp_path):
    """Environment of a fresh process in which the example plugin is 'installed'."""
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    dist = tmp_path / "site" / f"lensbench_example_plugin-{project['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    (dist / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
        for group, eps in project["entry-points"].items()))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PLUGIN), str(dist.parent)]),
               LENSBENCH_CACHE=str(tmp_path / "cache"))
    return env


def _lensbench(env, cwd, *args) -> subprocess.CompletedProcess:
    cli = Path(sys.executable).with_name("lensbench")
    return subprocess.run([str(cli), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def test_a_plugin_adds_a_recipe_dataset_task_and_model_through_entry_points(plugin_env, tmp_path):
    listed = _lensbench(plugin_env, tmp_path, "list", "tasks")
    assert listed.returncode == 0, listed.stderr
    assert "example/rings" in listed.stdout
    assert "example-tiny-cnn" in _lensbench(plugin_env, tmp_path, "list", "models").stdout
    ran = _lensbench(plugin_env, tmp_path, "run", "--task", "example/rings", "--model", "example-tiny-cnn",
                     "--seeds", "0", "--results", "results", "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db",
                     "--threads", "1")
    assert ran.returncode == 0, ran.stderr[-2000:]
    (record,) = (tmp_path / "results").rglob("seed0.json")
    rec = json.loads(record.read_text())
    assert (rec["task"], rec["model"], rec["status"]) == ("example/rings", "example-tiny-cnn", "ok")
    assert rec["metrics_test"]["auc_macro"] > 0.9  # blobs vs rings at SNR ~3 per pixel is easy


def test_a_plugin_adds_a_file_format(plugin_env, tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for cls in ("a", "b"):
            folder = tmp_path / "txt" / split / cls
            folder.mkdir(parents=True)
            for i in range(3):
                np.savetxt(folder / f"{i}.txt", rng.normal(size=(8, 8)))
    done = _lensbench(plugin_env, tmp_path, "data", "import", "txt", "--format", "example-txt", "--as", "mytxt")
    assert done.returncode == 0, done.stderr
    (tmp_path / "txt" / "test" / "a" / "0.txt").write_text("not numbers\n")
    bad = _lensbench(plugin_env, tmp_path, "data", "import", "txt", "--format", "example-txt", "--as", "mytxt2")
    assert bad.returncode == 2 and "0.txt" in bad.stderr and "Traceback" not in bad.stderr
