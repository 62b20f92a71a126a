"""Loader performance: build (write) throughput, peak memory and read throughput of lensbench.data.

The build uses a trivial recipe (random images, no physics) so the numbers measure the storage path
alone: chunk checks, Arrow writing, the cache. Then ``load_split`` (all rows and one class) and a
``datasets``-native per-row loop are timed for comparison, plus reading a DeepLense-style folder of
.npy files through the adapter. Run::

    python perf/loader.py --n 3000 --hw 150      # images per class per split = n, n/10, n/10

Prints a small table; peak RSS is the process maximum (``resource.getrusage``); it counts pages of
the memory-mapped Arrow files that were read, so after a full read it exceeds the arrays' size.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from lensbench.data.cache import materialise
from lensbench.data.importing import import_dataset
from lensbench.data.reading import load_split
from lensbench.data.writer import CHUNK
from lensbench.specs import DatasetSpec


class NoiseRecipe:
    name, version, classes, pixel_scale, columns, description = (
        "noise",
        1,
        ("a", "b", "c"),
        0.05,
        ("x",),
        "noise",
    )

    def __init__(self, hw: int):
        self.image_shape = (1, hw, hw)

    def generate(self, class_name, n, seed, *, data_root=None, device=None):
        rng = np.random.default_rng(seed)
        return rng.random((n, *self.image_shape), dtype=np.float32), {"x": rng.random(n, dtype=np.float32)}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="train images per class")
    ap.add_argument("--hw", type=int, default=150, help="image side in pixels")
    args = ap.parse_args()
    rec = NoiseRecipe(args.hw)
    spec = DatasetSpec(
        name="perf-noise",
        version=1,
        description="perf",
        classes=rec.classes,
        image_shape=rec.image_shape,
        pixel_scale=0.05,
        recipe="noise",
    )
    sizes = {"train": args.n, "val": max(1, args.n // 10), "test": max(1, args.n // 10)}
    total = 3 * sum(sizes.values())
    mb = total * 4 * args.hw**2 / 2**20
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = rss_mb()
        t = time.perf_counter()
        dsd = materialise(spec, sizes, cache=tmp, recipe=rec, progress=False)
        dt = time.perf_counter() - t
        rows.append(("build (write)", total, dt, mb / dt, rss_mb() - base))
        t = time.perf_counter()
        materialise(spec, sizes, cache=tmp, recipe=rec, progress=False)
        rows.append(
            ("cache hit (validate + open)", total, time.perf_counter() - t, float("nan"), rss_mb() - base)
        )
        n_tr = dsd["train"].num_rows
        for label in ("first read", "again, page cache warm"):
            t = time.perf_counter()
            arr = load_split(dsd, "train")
            dt = time.perf_counter() - t
            rows.append(
                (f"load_split train ({label})", n_tr, dt, arr.images.nbytes / 2**20 / dt, rss_mb() - base)
            )
            del arr
        t = time.perf_counter()
        arr = load_split(dsd, "train", classes=["b"])
        dt = time.perf_counter() - t
        rows.append(
            ("load_split train (1 class)", len(arr), dt, arr.images.nbytes / 2**20 / dt, rss_mb() - base)
        )
        del arr
        m = min(n_tr, 1000)
        ds = dsd["train"].with_format("numpy")
        t = time.perf_counter()
        for i in range(m):
            _ = ds[i]["image"]
        dt = time.perf_counter() - t
        rows.append(
            (f"per-row ds[i] loop ({m} rows)", m, dt, m * 4 * args.hw**2 / 2**20 / dt, rss_mb() - base)
        )

        folder = Path(tmp) / "Model_X"
        k = min(args.n, 1000)
        for c in ("axion", "cdm", "no_sub"):
            for split in ("Model_X", "Model_X_test"):
                (Path(tmp) / split / c).mkdir(parents=True)
            for i in range(k):
                np.save(
                    Path(tmp) / "Model_X" / c / f"{c}_sim_{i}.npy", np.ones((args.hw, args.hw), np.float32)
                )
            np.save(
                Path(tmp) / "Model_X_test" / c / f"{c}_sim_0.npy", np.ones((args.hw, args.hw), np.float32)
            )
        t = time.perf_counter()
        import_dataset(folder, "deeplense", "perf-import", cache=tmp, progress=False)
        dt = time.perf_counter() - t
        rows.append(
            (
                "deeplense import (.npy files)",
                3 * k + 3,
                dt,
                (3 * k + 3) * 4 * args.hw**2 / 2**20 / dt,
                rss_mb() - base,
            )
        )

    print(f"images {args.hw}x{args.hw} float32; dataset {total} images = {mb:.0f} MiB; chunk {CHUNK}")
    print(f"{'step':42s} {'images':>8s} {'seconds':>8s} {'MiB/s':>8s} {'peak RSS +MiB':>14s}")
    for name, n, dt, rate, mem in rows:
        print(f"{name:42s} {n:8d} {dt:8.2f} {rate:8.0f} {mem:14.0f}")


if __name__ == "__main__":
    main()
