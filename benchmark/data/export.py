"""``lensbench data export``: a dataset (or a task's datasets) as a Hub-ready folder.

Layout of ``--to DIR``::

    README.md                                   dataset card with Hub YAML (``card.hub_card``)
    croissant.json                              Croissant 1.0 JSON-LD with the RAI fields (``croissant``)
    data/<config>/<split>-00000-of-0000N.parquet   one config per dataset build, shards per split

Each parquet file holds the build's rows unchanged: ``image`` (float32, the physical pixel values,
shape (C, H, W) as plain nested lists that every parquet reader reads; the shape is in the ``lensbench``
metadata and the card's ``dataset_info``, from which ``load_dataset(<export folder>)`` restores ``Array3D``), ``label``
(int64, index in the classes), ``class_name``, one float32 column per parameter and, for file datasets,
``source``. Its schema metadata carries the ``huggingface`` features (so ``datasets.load_dataset(
"parquet", ...)`` restores ``Array3D`` and ``ClassLabel``) and ``lensbench`` (fingerprint, dataset,
sizes, split, shape, pixel scale). Nothing is simulated again: the rows come from the cached build
(``cache.materialise``), whose fingerprint the card, the Croissant file and every shard name.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from lensbench import registry
from lensbench.data import cache, taskdata
from lensbench.data.errors import DataError
from lensbench.data.paths import sizes_tag
from lensbench.data.reading import read_meta
from lensbench.data.resolve import resolve_spec
from lensbench.specs import SPLITS, DatasetSpec

SHARD_BYTES = 256 * 2**20  # uncompressed image bytes per parquet shard (the Hub advises shards < 500 MB)
ROW_GROUP_BYTES = 32 * 2**20


@dataclass
class Config:
    """One exported build: a Hub config."""

    name: str
    spec: DatasetSpec
    sizes: dict | None
    tasks: list[str]
    meta: dict = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)  # split -> parquet paths relative to the export
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return self.meta["fingerprint"]


def preset_sizes(spec: DatasetSpec, preset: str) -> list[dict | None]:
    """The distinct split sizes the registered tasks ask of ``spec`` at ``preset`` (``[None]`` = every
    file, for file datasets); ``DataError`` when no task uses a simulated dataset at that preset."""
    if spec.adapter is not None:
        return [None]
    sizes: list[dict | None] = []
    for t in registry.tasks.all():
        if spec.name in (t.dataset, t.test_dataset) and preset in t.presets:
            s = dict(t.presets[preset].sizes)
            if s not in sizes:
                sizes.append(s)
    if not sizes:
        raise DataError(f"no registered task uses dataset {spec.name!r} with preset {preset!r}")
    return sizes


def tasks_using(spec: DatasetSpec, sizes: dict | None, preset: str) -> list[str]:
    return [t.id for t in registry.tasks.all()
            if spec.name in (t.dataset, t.test_dataset) and preset in t.presets
            and (sizes is None or dict(t.presets[preset].sizes) == sizes)]


def plan(name: str, preset: str, cache_dir=None) -> list[Config]:
    """The configs to export for ``name``: a task id (its dataset and test dataset) or a dataset."""
    if name in registry.tasks:
        task = registry.tasks.get(name)
        if preset not in task.presets:
            raise DataError(f"task {name!r} has no preset {preset!r}; it has {sorted(task.presets)}")
        out = [Config(task.dataset, registry.datasets.get(task.dataset), dict(task.presets[preset].sizes), [name])]
        if task.test_dataset:
            spec = registry.datasets.get(task.test_dataset)
            sizes = None if taskdata.is_external(task.test_dataset) else dict(task.presets[preset].sizes)
            out.append(Config(spec.name, spec, sizes, [name]))
        return out
    spec = resolve_spec(name, cache_dir)
    variants = preset_sizes(spec, preset)
    return [Config(spec.name if len(variants) == 1 else f"{spec.name}-{sizes_tag(s)}", spec, s,
                   tasks_using(spec, s, preset)) for s in variants]


def storage_table(ds):
    """The split's Arrow table with plain storage types (nested lists of float32, not the ``datasets``
    extension type), so that every parquet reader (pandas, polars, mlcroissant) reads it."""
    import pyarrow as pa

    table = ds.data.table
    cols = [pa.chunked_array([c.storage for c in col.chunks], type=col.type.storage_type)
            if isinstance(col.type, pa.ExtensionType) else col for col in table.columns]
    return pa.table(cols, names=table.column_names)


def write_split(ds, cfg: Config, split: str, out: Path) -> list[str]:
    """Write one split as parquet shards under ``out/data/<config>/``; returns their relative paths."""
    import pyarrow.parquet as pq

    table = storage_table(ds)
    row_bytes = max(1, 4 * math.prod(cfg.spec.image_shape))
    n_shards = max(1, math.ceil(table.num_rows * row_bytes / SHARD_BYTES))
    per_shard = max(1, math.ceil(table.num_rows / n_shards)) if table.num_rows else 0
    hf = json.dumps({"info": {"features": ds.features.to_dict()}})
    lb = json.dumps({"fingerprint": cfg.fingerprint, "dataset": cfg.spec.key, "config": cfg.name,
                     "sizes": cfg.sizes, "split": split, "image_shape": list(cfg.spec.image_shape),
                     "image_dtype": "float32", "pixel_scale_arcsec": cfg.spec.pixel_scale,
                     "classes": list(cfg.spec.classes), "lensbench_format": cfg.meta.get("lensbench_format")})
    schema = table.schema.with_metadata({"huggingface": hf, "lensbench": lb})
    paths = []
    for i in range(n_shards):
        rel = f"data/{cfg.name}/{split}-{i:05d}-of-{n_shards:05d}.parquet"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        part = table.slice(i * per_shard, per_shard).cast(schema)
        pq.write_table(part, out / rel, row_group_size=max(1, ROW_GROUP_BYTES // row_bytes))
        paths.append(rel)
    return paths


def materialise_config(cfg: Config, *, cache_dir=None, data_root=None, progress: bool = True):
    if cfg.spec.adapter is not None:
        root = taskdata.adapter_root(cfg.spec, data_root, cache_dir)
        return cache.materialise(cfg.spec, cfg.sizes, cache=cache_dir, data_root=root, progress=progress)
    return cache.materialise(cfg.spec, cfg.sizes, cache=cache_dir, data_root=data_root, progress=progress)


def export_dataset(name: str, to: Path | str, *, preset: str = "quick", cache=None, data_root=None,
                   force: bool = False, progress: bool = True) -> dict[str, Path]:
    """Export ``name`` (a dataset or a task id) at ``preset`` into the folder ``to``; returns the paths
    written ({"card", "croissant", "data"}). ``to`` must be absent or empty unless ``force``."""
    from lensbench.data import card, croissant

    out = Path(to)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not force)):
        raise DataError(f"--to {out}: exists and is not an empty folder (use --force to overwrite)")
    configs = plan(name, preset, cache)
    for cfg in configs:
        dsdict = materialise_config(cfg, cache_dir=cache, data_root=data_root, progress=progress)
        cfg.meta = read_meta(dsdict)
        for split in SPLITS:
            cfg.files[split] = write_split(dsdict[split], cfg, split, out)
            cfg.rows[split] = dsdict[split].num_rows
    (out / "README.md").write_text(card.hub_card(name, configs, preset))
    (out / "croissant.json").write_text(json.dumps(croissant.croissant(name, configs, preset, out), indent=2) + "\n")
    return {"card": out / "README.md", "croissant": out / "croissant.json", "data": out / "data"}
