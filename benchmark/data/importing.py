"""``lensbench data import``: read a folder of image files into the cache as a named dataset."""

from __future__ import annotations

from pathlib import Path

from lensbench import registry
from lensbench.data.adapter import expand, file_layout, get_format
from lensbench.data.cache import materialise
from lensbench.data.errors import DataError
from lensbench.data.layouts import Item, Layout
from lensbench.data.readers import header_shape
from lensbench.data.resolve import write_import_record
from lensbench.specs import DatasetSpec, SpecError


def import_dataset(
    path: Path | str,
    fmt: str,
    name: str,
    *,
    cache: Path | str | None = None,
    image_size: tuple[int, int] | None = None,
    pixel_scale: float = 0.0,
    seed: int = 0,
    description: str | None = None,
    licence: str = "unknown (see the source folder)",
    citation: str = "",
    progress: bool = True,
):
    """Read the folder ``path`` in format ``fmt`` into the cache as dataset ``name``.

    Classes come from the folders, in the format's label order when it has one (DeepLense: axion,
    cdm, no_sub; lens finding: nonlens, lens), else sorted (cutouts: class folder names, or
    ``unlabelled``). The image shape is that of the files; cutouts of several sizes need
    ``image_size=(H, W)`` and are resized to it. The spec and the folder are recorded in
    ``<cache>/imports/<name>.json`` so later commands find the dataset by name. Returns
    ``(DatasetSpec, DatasetDict)``.
    """
    root = Path(path).expanduser().resolve()
    form = get_format(fmt)
    refuse_registered(name)
    lay = expand(form, file_layout(form, root))
    found = {c for per in lay.values() for c, items in per.items() if items}
    classes = tuple(c for c in form.classes if c in found) if form.classes else tuple(sorted(found))
    try:
        spec = DatasetSpec(
            name=name,
            version=1,
            description=description or f"imported from folder '{root.name}' ({fmt} format)",
            classes=classes,
            image_shape=infer_shape(lay, form, image_size),
            pixel_scale=float(pixel_scale),
            adapter=fmt,
            seed=int(seed),
            columns=tuple(form.columns(classes)),
            licence=licence,
            citation=citation,
        )
    except SpecError as e:
        raise DataError(str(e)) from e
    write_import_record(spec, root, cache)
    return spec, materialise(spec, None, cache=cache, data_root=None, progress=progress)


def refuse_registered(name: str) -> None:
    """``DataError`` when ``name`` is already a registered dataset."""
    try:
        taken = name in registry.datasets
    except ImportError:  # an entry point that cannot be imported yet: nothing to clash with
        taken = False
    if taken:
        raise DataError(f"dataset name {name!r} is already registered; import under another name (--as)")


def infer_shape(
    lay: Layout, fmt: registry.FileFormat, image_size: tuple[int, int] | None
) -> tuple[int, int, int]:
    """(C, H, W) of the dataset: the one shape of its images, or (C, *image_size) when given.

    A format that does not resize needs one shape everywhere (every file is checked while writing),
    so one image per split and class is probed; a resizing format probes every image."""
    groups = [items for per in lay.values() for items in per.values()]
    sample = [it for g in groups for it in g] if fmt.resize else [g[0] for g in groups if g]
    shapes: dict[tuple, str] = {}
    for it in sample:
        shapes.setdefault(probe_shape(it, fmt), str(it.path))
    chans = {s[0] for s in shapes}
    if image_size is not None:
        if len(chans) != 1:
            ex = "; ".join(f"{k} in {v}" for k, v in list(shapes.items())[:4])
            raise DataError(f"images have different channel counts {sorted(chans)} ({ex}); cannot resize")
        return (chans.pop(), int(image_size[0]), int(image_size[1]))
    if len(shapes) != 1:
        ex = "; ".join(f"{k} in {v}" for k, v in list(shapes.items())[:4])
        raise DataError(
            f"images have {len(shapes)} different shapes ({ex}); give image_size=(H, W) to resize"
        )
    return tuple(int(s) for s in next(iter(shapes)))


def probe_shape(it: Item, fmt: registry.FileFormat) -> tuple[int, int, int]:
    """(C, H, W) of an item from its file's header where possible, else from reading it."""
    shape = header_shape(it.path, it.index)
    return shape if shape is not None else tuple(fmt.read(it)[0].shape)
