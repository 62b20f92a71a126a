"""Specs validate themselves; registries refuse duplicates, suggest close names, load entry points."""

from __future__ import annotations

import sys

import pytest
from conftest import make_task

from lensbench import registry
from lensbench.registry import Registry, RegistryError
from lensbench.specs import Budget, DatasetSpec, ModelSpec, Preset, SpecError, TaskSpec


def test_task_spec_validation_names_the_field():
    with pytest.raises(SpecError, match="'kind'"):
        make_task(kind="classification").__class__(**{**make_task().to_dict(), "kind": "clustering"})
    with pytest.raises(SpecError, match="'id'"):
        TaskSpec(**{**make_task().to_dict(), "id": "NoFamily"})
    with pytest.raises(SpecError, match="normal_classes"):
        make_task("anomaly", normal_classes=("no_sub", "cdm"))
    with pytest.raises(SpecError, match="quick"):
        TaskSpec(**{**make_task().to_dict(), "presets": {}})
    with pytest.raises(SpecError, match="train/val/test"):
        Preset({"train": 1, "val": 1}, Budget(1, 1))


def test_dataset_and_model_spec_validation():
    with pytest.raises(SpecError, match="recipe/adapter"):
        DatasetSpec("toy", 1, "d", ("a", "b"), (1, 8, 8), 0.1)
    with pytest.raises(SpecError, match="image_shape"):
        DatasetSpec("toy", 1, "d", ("a", "b"), (8, 8), 0.1, recipe="r")
    with pytest.raises(SpecError, match="family"):
        ModelSpec("m", lambda t: None, "magic", ("classification",), "d")
    with pytest.raises(SpecError, match="kinds"):
        ModelSpec("m", lambda t: None, "user", ("segmentation",), "d")


def test_registry_refuses_duplicates_and_suggests():
    reg = Registry("model", "lensbench.test-none", ModelSpec, lambda s: s.name)
    spec = ModelSpec("resnet18", lambda t: None, "baseline", ("classification",), "d")
    reg.register(spec, "here")
    with pytest.raises(RegistryError, match="duplicate model name 'resnet18'.*here"):
        reg.register(spec, "there")
    with pytest.raises(RegistryError, match="Did you mean 'resnet18'"):
        reg.get("resnet-18")
    assert reg.names() == ["resnet18"] and "resnet18" in reg


def test_task_config_hash_changes_with_protocol():
    a, b = make_task(epochs=3), make_task(epochs=4)
    assert a.config_hash() == make_task(epochs=3).config_hash() != b.config_hash()


def test_project_registers_through_entry_points():
    """LensBench's own tasks, models and datasets arrive through the same doors as a plugin's."""
    from importlib.metadata import entry_points

    groups = {g: {ep.value for ep in entry_points(group=g)} for g in
              ("lensbench.tasks", "lensbench.models", "lensbench.datasets")}
    assert "lensbench.tasks.catalog:specs" in groups["lensbench.tasks"]
    assert {"lensbench.baselines.catalog:specs", "lensbench.pinn_models.catalog:specs"} <= groups["lensbench.models"]
    assert "substructure/lensbench-v1" in registry.tasks
    assert "resnet18" in registry.models
    assert "lensbench-v1" in registry.datasets
    for task in registry.tasks.all():
        assert task.dataset in registry.datasets, task.id
        for m in task.default_models:
            assert registry.models.get(m).supports(task), (task.id, m)


# ------------------------------------------------------------- recipes, file formats, preparers


def test_data_plugins_register_through_entry_points():
    """The project's recipes, file formats and preparers arrive through entry points too."""
    from importlib.metadata import entry_points

    values = {g: {ep.value for ep in entry_points(group=g)}
              for g in ("lensbench.recipes", "lensbench.formats", "lensbench.preparers")}
    assert "lensbench.lensing.recipes:all_recipes" in values["lensbench.recipes"]
    assert "lensbench.data.formats:formats" in values["lensbench.formats"]
    assert "lensbench.tasks.real_datasets:preparers" in values["lensbench.preparers"]
    assert {"lensbench-v1", "deeplense-model1", "lensfinding-des-v1"} <= set(registry.recipes.names())
    assert {"deeplense", "lens-finding", "cutouts"} <= set(registry.formats.names())
    assert "spacewarps-gallery-lensfinding" in registry.preparers
    for d in registry.datasets.all():  # every registered dataset can be made
        assert (d.recipe in registry.recipes) if d.recipe else (d.adapter in registry.formats), d.name


class _Half:
    """Has a name, nothing else."""

    name = "half"
    dataset = "half"


def test_bad_data_plugins_are_refused_with_what_was_expected():
    recipes = Registry("recipe", "lensbench.test-none", registry.Recipe, lambda r: r.name, listed=False)
    expected = r"entry point 'x' \(pkg:recipes\): _Half object is not a recipe: it lacks version, .*generate"
    with pytest.raises(RegistryError, match=expected + r".*see lensbench\.registry\.Recipe"):
        recipes.register(_Half(), "entry point 'x' (pkg:recipes)")
    formats = Registry("format", "lensbench.test-none", registry.FileFormat, lambda f: f.name, listed=False)
    lacks = r"not a format: it lacks classes, resize, layout, items, read, columns \(a format has name, "
    with pytest.raises(RegistryError, match=lacks):
        formats.register(_Half(), "here")
    preparers = Registry("preparer", "lensbench.test-none", registry.Preparer, lambda p: p.dataset,
                         listed=False)
    with pytest.raises(RegistryError, match="not a preparer: it lacks prepare"):
        preparers.register(_Half(), "here")
    with pytest.raises(RegistryError, match="here: expected a ModelSpec, got _Half"):
        Registry("model", "lensbench.test-none", ModelSpec, lambda s: s.name).register(_Half(), "here")

    from lensbench.data.formats import Cutouts

    formats.register(Cutouts(), "first")
    with pytest.raises(RegistryError, match="duplicate format name 'cutouts': registered by first and again"):
        formats.register(Cutouts(), "second")
    nameless = Cutouts()
    nameless.name = ""
    with pytest.raises(RegistryError, match="needs a non-empty string name"):
        formats.register(nameless, "third")
    unknown = r"unknown format 'cutout'\. Did you mean 'cutouts'\? Known formats: cutouts\."
    with pytest.raises(RegistryError, match=unknown):
        formats.get("cutout")


def test_a_bad_entry_point_is_named(tmp_path, monkeypatch):
    """An installed package whose entry point returns a non-format, or a non-iterable, fails loading
    with a RegistryError naming that entry point."""
    dist = tmp_path / "site" / "badplugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: badplugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[lensbench.formats]\nbad = badplugin_mod:formats\n"
                                          "[lensbench.preparers]\nbad = badplugin_mod:not_a_list\n")
    (tmp_path / "site" / "badplugin_mod.py").write_text("def formats():\n    return [object()]\n\n"
                                                         "not_a_list = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    formats = Registry("format", "lensbench.formats", registry.FileFormat, lambda f: f.name, listed=False)
    expected = r"entry point 'bad' \(badplugin_mod:formats\): object object is not a format: it lacks name"
    with pytest.raises(RegistryError, match=expected):
        formats.load()
    preparers = Registry("preparer", "lensbench.preparers", registry.Preparer, lambda p: p.dataset,
                         listed=False)
    with pytest.raises(RegistryError, match=r"entry point 'bad' \(badplugin_mod:not_a_list\) must return an "
                                            r"iterable of preparers, got int"):
        preparers.load()
    sys.modules.pop("badplugin_mod", None)


def test_a_registered_preparer_gives_the_folder_a_file_dataset_is_read_from(tmp_path):
    from lensbench.data import taskdata

    spec = DatasetSpec("prepared-x", 1, "d", ("a",), (1, 4, 4), 0.1, adapter="cutouts")
    calls = []

    class Prepare:
        dataset = "prepared-x"

        def prepare(self, data_root, cache):
            calls.append((data_root, cache))
            return tmp_path / "view"

    # no preparer registered for it: the folder given
    assert taskdata.adapter_root(spec, tmp_path / "raw", tmp_path / "c") == tmp_path / "raw"
    registry.preparers.register(Prepare(), "test")
    try:
        assert taskdata.adapter_root(spec, tmp_path / "raw", tmp_path / "c") == tmp_path / "view"
        assert calls == [(tmp_path / "raw", tmp_path / "c")]
    finally:
        registry.preparers.unregister("prepared-x")
