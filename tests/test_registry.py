"""Specs validate themselves; registries refuse duplicates, suggest close names, load entry points."""

from __future__ import annotations

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
