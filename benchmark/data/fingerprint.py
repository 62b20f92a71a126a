"""Dataset fingerprints: a sha256 that identifies the exact content of a build.

A cached build is used only when its recorded fingerprint equals the one computed now, so the
fingerprint covers everything that changes the stored arrays:

- every build: ``FORMAT_VERSION``, dataset name/version/seed/classes/image shape, and the sizes;
- simulated: recipe name, version and columns, ``writer.CHUNK``, ``simulator_version()`` (the
  sources of ``SIMULATOR_CORE``), ``recipe_identity(recipe)``, and the device kind when not CPU;
- file datasets: the format, the file manifest and the reading code (``adapter.fingerprint_parts``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path

from lensbench import registry
from lensbench.data import adapter, paths, simulated, writer
from lensbench.data.resolve import resolve_data_root
from lensbench.lensing import render
from lensbench.specs import DatasetSpec

FORMAT_VERSION = 1  # on-disk layout of a build; part of the fingerprint

# The physics every recipe shares, as module paths under ``lensing/``. A dataset's fingerprint
# hashes these sources plus its own recipe (``recipe_identity``), so editing one recipe does not
# invalidate the datasets of the others.
SIMULATOR_CORE = ("grid", "mass", "compensation", "vortex", "lens_model", "light", "psf", "noise", "render", "instruments",
                  "cosmo", "sources", "recipes/base", "recipes/components", "recipes/brightness",
                  "recipes/priors")


def lensing_root() -> Path | None:
    """Folder of the installed ``lensbench.lensing`` package (None when it is absent)."""
    found = importlib.util.find_spec("lensbench.lensing")
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


def simulator_version() -> str:
    """sha256 over the sources of the shared lensing physics (``SIMULATOR_CORE``), so a change to
    the physics invalidates cached simulated datasets."""
    root = lensing_root()
    if root is None:
        return "no-lensing-package"
    h = hashlib.sha256()
    for name in SIMULATOR_CORE:
        p = root / f"{name}.py"
        h.update(name.encode() + b"\0" + (p.read_bytes() if p.is_file() else b"<absent>") + b"\0")
    return h.hexdigest()


def recipe_identity(rec: registry.Recipe) -> str:
    """sha256 of the recipe's full parameter set (the repr of a dataclass recipe: every prior as data)
    and, for a recipe class of its own, the source of the module that defines it."""
    h = hashlib.sha256((repr(rec) if dataclasses.is_dataclass(rec) else f"{rec.name}|{rec.version}").encode())
    module = type(rec).__module__
    if module.startswith("lensbench.lensing.") and module != "lensbench.lensing.recipes.base":
        root = lensing_root()
        path = root / (module.removeprefix("lensbench.lensing.").replace(".", "/") + ".py") if root else None
        if path is not None and path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def device_kind(device) -> str:
    """"cpu", "cuda", "mps"...: the part of a device that changes floating-point results."""
    return "cpu" if device is None else str(device).split(":")[0]


def recipe_parts(rec: registry.Recipe, device=None) -> dict:
    """Fingerprint inputs of a simulated dataset (also recorded in the build's metadata)."""
    parts = {
        "recipe": rec.name,
        "recipe_version": int(rec.version),
        "columns": list(rec.columns),
        "chunk": writer.CHUNK,
        "simulator": simulator_version(),
        "recipe_identity": recipe_identity(rec),
    }
    if device_kind(device) != "cpu":  # other hardware gives other floating-point results
        parts["device"] = device_kind(device)
    if renders_with_lensing(rec):  # compiled and eager images differ in the last bits, and so may
        parts["render"] = render_path()  # a Poisson draw and the rest of its chunk's noise
    return parts


def renders_with_lensing(rec: registry.Recipe) -> bool:
    """Whether ``rec`` is one of LensBench's own recipes (they render through ``lensing.render``)."""
    return type(rec).__module__.startswith("lensbench.lensing.")


def render_path() -> str:
    """``compiled`` or ``eager``: how LensBench's recipes render a chunk of a dataset build
    (``$LENSBENCH_COMPILE``, see ``lensing.render.compile_default``)."""
    return "compiled" if render.compile_default(writer.CHUNK) else "eager"


def content_fingerprint(
    spec: DatasetSpec,
    sizes: dict[str, int] | None,
    rec: registry.Recipe | None,
    root: Path | None,
    device=None,
) -> str:
    """The fingerprint of ``spec`` at checked ``sizes``, made by ``rec`` (simulated) or read from
    ``root`` (file dataset)."""
    blob: dict = {
        "format": FORMAT_VERSION,
        "name": spec.name,
        "version": spec.version,
        "seed": spec.seed,
        "classes": list(spec.classes),
        "image_shape": list(spec.image_shape),
        "sizes": sizes,
    }
    if rec is not None:
        blob.update(recipe_parts(rec, device))
    else:
        blob.update(adapter=spec.adapter, **adapter.fingerprint_parts(spec, root))
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def fingerprint(
    spec: DatasetSpec,
    sizes: Mapping[str, int] | None,
    *,
    data_root: Path | str | None = None,
    recipe: registry.Recipe | None = None,
    cache: Path | str | None = None,
    device: str | None = None,
) -> str:
    """sha256 identifying the exact content of a build of ``spec`` with ``sizes`` (no data is built).

    ``recipe`` overrides the registered recipe; a file dataset is read from
    ``resolve_data_root(spec, data_root, cache)``."""
    sizes = paths.check_sizes(spec, sizes)
    if spec.recipe is not None:
        rec = recipe if recipe is not None else simulated.get_recipe(spec.recipe)
        return content_fingerprint(spec, sizes, rec, None, device)
    return content_fingerprint(spec, sizes, None, resolve_data_root(spec, data_root, cache))
