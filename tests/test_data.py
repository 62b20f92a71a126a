"""lensbench.data: materialising simulated datasets, the cache, fingerprints, determinism, reading splits."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from lensbench import registry
from lensbench.data import card, fingerprint, paths, reading, simulated, writer
from lensbench.data.cache import materialise
from lensbench.data.errors import DataError
from lensbench.data.reading import load_split
from lensbench.specs import DatasetSpec

SIZES = {"train": 6, "val": 3, "test": 2}


class FakeRecipe:
    """The ``lensbench.registry.Recipe`` interface.
    Prefix-consistent: generate(m, s) == generate(n, s)[:m]."""

    name = "fake"
    version = 1
    classes = ("axion", "cdm", "no_sub")
    image_shape = (2, 5, 4)
    pixel_scale = 0.1
    columns = ("theta_E", "m_a")
    description = "fake recipe for tests"

    def __init__(self, bad: str | None = None):
        self.calls: list[tuple[str, int, int]] = []
        self.bad = bad

    def generate(self, class_name, n, seed, *, data_root=None, device=None):
        self.calls.append((class_name, n, seed))
        img = np.random.default_rng(seed).standard_normal((n, *self.image_shape)).astype(np.float32)
        img += 10 * self.classes.index(class_name)  # class-dependent offset: labels are checkable
        cols = {"theta_E": np.random.default_rng([seed, 1]).uniform(1, 2, n).astype(np.float32)}
        if class_name == "axion":
            cols["m_a"] = np.random.default_rng([seed, 2]).uniform(-24, -22, n).astype(np.float32)
        if self.bad == "nan" and class_name == "cdm":
            img[-1, 0, 0, 0] = np.nan
        if self.bad == "shape":
            img = img[:, :, :4]
        if self.bad == "column":
            cols["surprise"] = np.zeros(n, np.float32)
        if self.bad == "count":
            img, cols = img[1:], {k: v[1:] for k, v in cols.items()}
        return img, cols


def make_spec(**kw) -> DatasetSpec:
    base = {
        "name": "fake-ds",
        "version": 1,
        "description": "a fake dataset",
        "classes": ("axion", "cdm", "no_sub"),
        "image_shape": (2, 5, 4),
        "pixel_scale": 0.1,
        "recipe": "fake",
        "seed": 3,
    }
    base.update(kw)
    return DatasetSpec(**base)


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(writer, "CHUNK", 4)


def build(tmp_path, spec=None, sizes=SIZES, recipe=None, **kw):
    return materialise(
        spec or make_spec(),
        sizes,
        cache=tmp_path / "cache",
        recipe=recipe or FakeRecipe(),
        progress=False,
        **kw,
    )


def test_columns_counts_labels_and_nan_fill(tmp_path, small_chunks):
    dsd = build(tmp_path)
    assert list(dsd) == ["train", "val", "test"]
    assert [dsd[s].num_rows for s in dsd] == [18, 9, 6]
    feats = dsd["train"].features
    assert set(feats) == {"image", "label", "class_name", "theta_E", "m_a"}
    assert feats["label"].names == ["axion", "cdm", "no_sub"]
    tr = load_split(dsd, "train")
    assert tr.images.dtype == np.float32 and tr.images.shape == (18, 2, 5, 4)
    assert tr.labels.dtype == np.int64 and tr.labels.tolist() == [0] * 6 + [1] * 6 + [2] * 6  # class-blocked
    assert tr.class_names == ["axion", "cdm", "no_sub"]
    # the fake recipe offsets class k by 10k: each row's image matches its label
    np.testing.assert_allclose(np.round(tr.images.mean(axis=(1, 2, 3)) / 10), tr.labels, atol=0)
    assert np.isfinite(tr.columns["m_a"][:6]).all() and np.isnan(tr.columns["m_a"][6:]).all()
    assert np.isfinite(tr.columns["theta_E"]).all() and tr.sources is None
    names = dsd["train"]["class_name"][:]
    assert list(names) == ["axion"] * 6 + ["cdm"] * 6 + ["no_sub"] * 6
    meta = reading.read_meta(dsd)
    assert meta["counts"]["val"] == {"axion": 3, "cdm": 3, "no_sub": 3}
    assert meta["sizes"] == SIZES and len(meta["fingerprint"]) == 64


def test_chunks_and_seeds(tmp_path, small_chunks):
    rec = FakeRecipe()
    spec = make_spec()
    build(tmp_path, spec=spec, recipe=rec)
    train_cdm = [(n, s) for c, n, s in rec.calls if c == "cdm"][:2]
    assert [n for n, _ in train_cdm] == [4, 2]  # 6 images in chunks of CHUNK=4
    assert train_cdm[0][1] == simulated.chunk_seed(spec, "train", "cdm", 0)
    assert train_cdm[1][1] == simulated.chunk_seed(spec, "train", "cdm", 1)
    seeds = {s for _, _, s in rec.calls}
    assert len(seeds) == len(rec.calls)  # every (split, class, chunk) has its own seed
    assert simulated.chunk_seed(spec, "train", "cdm", 0) != simulated.chunk_seed(make_spec(seed=4), "train", "cdm", 0)


def test_bit_identical_across_caches_and_prefix(tmp_path, small_chunks):
    a = load_split(
        materialise(make_spec(), SIZES, cache=tmp_path / "a", recipe=FakeRecipe(), progress=False), "train"
    )
    b = load_split(
        materialise(make_spec(), SIZES, cache=tmp_path / "b", recipe=FakeRecipe(), progress=False), "train"
    )
    assert a.images.tobytes() == b.images.tobytes()
    for c in a.columns:
        assert a.columns[c].tobytes() == b.columns[c].tobytes()
    big = load_split(build(tmp_path, sizes={"train": 11, "val": 3, "test": 2}), "train")
    for k in range(3):  # per class, the 6-image build is a prefix of the 11-image build
        np.testing.assert_array_equal(a.images[a.labels == k], big.images[big.labels == k][:6])
    other_seed = load_split(build(tmp_path / "s", spec=make_spec(seed=4)), "train")
    assert not np.array_equal(other_seed.images, a.images)


def test_cache_hit_force_and_layout(tmp_path):
    rec = FakeRecipe()
    build(tmp_path, recipe=rec)
    n_calls = len(rec.calls)
    dsd = build(tmp_path, recipe=rec)
    assert len(rec.calls) == n_calls  # cache hit: nothing generated
    folder = reading.dataset_dir(dsd)
    assert folder == tmp_path / "cache" / "datasets" / "fake-ds" / "v1" / "train6-val3-test2"
    assert (folder / "lensbench.json").exists() and (folder / "dataset_dict.json").exists()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".tmp")]  # temp dir cleaned
    import datasets

    assert datasets.load_from_disk(str(folder))["test"].num_rows == 6  # plain HF dataset on disk
    build(tmp_path, recipe=rec, force=True)
    assert len(rec.calls) == 2 * n_calls
    assert reading.builds(make_spec(), tmp_path / "cache")[0] == (SIZES, folder)


def test_concurrent_identical_build_is_kept(tmp_path):
    class Racing(FakeRecipe):  # another process completes the same build while this one runs
        def generate(self, class_name, n, seed, **kw):
            if not self.calls:
                self.calls.append(("race", 0, 0))
                self.other = build(tmp_path)
                (reading.dataset_dir(self.other) / "marker").write_text("first")
            return super().generate(class_name, n, seed, **kw)

    rec = Racing()
    dsd = build(tmp_path, recipe=rec)
    assert (reading.dataset_dir(dsd) / "marker").read_text() == "first"  # the first finished build stays
    assert not [p for p in reading.dataset_dir(dsd).parent.iterdir() if p.name.startswith(".tmp")]
    np.testing.assert_array_equal(load_split(dsd, "val").images, load_split(rec.other, "val").images)


@pytest.mark.parametrize("damage", ["missing_meta", "corrupt_meta", "other_fingerprint", "truncated_arrow"])
def test_damaged_cache_is_rebuilt(tmp_path, caplog, damage):
    rec = FakeRecipe()
    dsd = build(tmp_path, recipe=rec)
    folder = reading.dataset_dir(dsd)
    expected = load_split(dsd, "test").images.copy()
    del dsd
    meta = folder / "lensbench.json"
    if damage == "missing_meta":
        meta.unlink()
    elif damage == "corrupt_meta":
        meta.write_text("{not json")
    elif damage == "other_fingerprint":
        m = json.loads(meta.read_text())
        m["fingerprint"] = "0" * 64
        meta.write_text(json.dumps(m))
    else:
        arrow = folder / "test" / "data-00000-of-00001.arrow"
        arrow.write_bytes(arrow.read_bytes()[:300])
    n_calls = len(rec.calls)
    with caplog.at_level(logging.WARNING, logger="lensbench.data.cache"):
        dsd = build(tmp_path, recipe=rec)
    assert len(rec.calls) == 2 * n_calls  # rebuilt, not used
    assert "rebuilding" in caplog.text
    np.testing.assert_array_equal(load_split(dsd, "test").images, expected)


@pytest.mark.parametrize("damage", ["overwrite_64k", "zero_header", "flip_16_bytes", "delete_state"])
def test_same_size_corruption_is_caught_rebuilt_for_real_and_never_used(tmp_path, caplog, damage):
    """Damage that keeps every size: the content hashes catch it, the rebuild replaces the broken
    build (it is not thrown away as 'another process finished first'), and every later load is clean."""
    rec = FakeRecipe()
    dsd = build(tmp_path, recipe=rec)
    folder = reading.dataset_dir(dsd)
    expected = load_split(dsd, "test").images.copy()
    del dsd
    arrow = folder / "test" / "data-00000-of-00001.arrow"
    data = bytearray(arrow.read_bytes())
    if damage == "overwrite_64k":
        data[-min(65536, len(data) // 2):] = b"\x07" * min(65536, len(data) // 2)
    elif damage == "zero_header":
        data[:64] = bytes(64)
    elif damage == "flip_16_bytes":
        for i in range(16):
            data[len(data) // 2 + 8 * i] ^= 0xFF
    if damage == "delete_state":
        (folder / "test" / "state.json").unlink()
    else:
        arrow.write_bytes(bytes(data))
    n_calls = len(rec.calls)
    with caplog.at_level(logging.WARNING, logger="lensbench.data.cache"):
        dsd = build(tmp_path, recipe=rec)
    assert len(rec.calls) == 2 * n_calls and "rebuilding" in caplog.text
    np.testing.assert_array_equal(load_split(dsd, "test").images, expected)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lensbench.data.cache"):
        again = build(tmp_path, recipe=rec)
    assert len(rec.calls) == 2 * n_calls and "rebuilding" not in caplog.text  # the rebuild is intact
    np.testing.assert_array_equal(load_split(again, "test").images, expected)


def test_fingerprint_changes_with_inputs(tmp_path, monkeypatch):
    rec = FakeRecipe()
    fp = fingerprint.fingerprint(make_spec(), SIZES, recipe=rec)
    assert fp == fingerprint.fingerprint(make_spec(), dict(SIZES), recipe=rec)
    assert fp != fingerprint.fingerprint(make_spec(seed=4), SIZES, recipe=rec)
    assert fp != fingerprint.fingerprint(make_spec(version=2), SIZES, recipe=rec)
    assert fp != fingerprint.fingerprint(make_spec(), {**SIZES, "val": 4}, recipe=rec)
    rec2 = FakeRecipe()
    rec2.version = 2
    assert fp != fingerprint.fingerprint(make_spec(), SIZES, recipe=rec2)
    monkeypatch.setattr(fingerprint, "simulator_version", lambda: "physics changed")
    assert fp != fingerprint.fingerprint(make_spec(), SIZES, recipe=rec)
    # a physics change makes the cached build stale
    build(tmp_path, recipe=rec)
    n = len(rec.calls)
    monkeypatch.setattr(fingerprint, "simulator_version", lambda: "physics changed again")
    build(tmp_path, recipe=rec)
    assert len(rec.calls) == 2 * n


def test_simulator_version_hashes_lensing_sources():
    v = fingerprint.simulator_version()
    assert len(v) == 64 and v == fingerprint.simulator_version()


def test_load_split_filters_classes(tmp_path):
    dsd = build(tmp_path)
    s = load_split(dsd, "val", classes=["no_sub", "axion"])
    assert s.labels.tolist() == [0, 0, 0, 2, 2, 2] and s.images.shape == (6, 2, 5, 4)
    assert s.columns["theta_E"].shape == (6,)
    full = load_split(dsd, "val")
    np.testing.assert_array_equal(s.images, full.images[np.isin(full.labels, [0, 2])])
    only = load_split(dsd, "val", classes=["cdm"])
    assert only.labels.tolist() == [1, 1, 1]
    with pytest.raises(DataError, match="'vortex'"):
        load_split(dsd, "val", classes=["vortex"])
    with pytest.raises(DataError, match="no split 'dev'"):
        load_split(dsd, "dev")


def test_spec_class_subset_and_zero_sized_split(tmp_path):
    spec = make_spec(name="two-class", classes=("no_sub", "cdm"))
    dsd = build(tmp_path, spec=spec, sizes={"train": 2, "val": 1, "test": 0})
    assert dsd["test"].num_rows == 0
    tr = load_split(dsd, "train")
    assert tr.class_names == ["no_sub", "cdm"] and tr.labels.tolist() == [0, 0, 1, 1]
    assert np.round(tr.images[tr.labels == 0].mean() / 10) == 2  # no_sub rows hold no_sub images
    empty = load_split(dsd, "test")
    assert empty.images.shape == (0, 2, 5, 4) and empty.labels.shape == (0,)


@pytest.mark.parametrize(
    "bad, match",
    [
        ("nan", r"recipe 'fake' class 'cdm' train chunk 0: 1 image\(s\) contain NaN"),
        ("shape", r"images have shape \(6, 2, 4, 4\), expected \(n, 2, 5, 4\)"),
        ("column", r"unexpected columns \['surprise'\]"),
        ("count", r"recipe 'fake' class 'axion' train chunk 0: got 5 images, expected 6"),
    ],
)
def test_bad_recipe_output_raises_and_keeps_previous_build(tmp_path, bad, match):
    good = build(tmp_path)
    before = load_split(good, "train").images.copy()
    with pytest.raises(DataError, match=match):
        build(tmp_path, recipe=FakeRecipe(bad=bad), force=True)
    folder = paths.dataset_path(make_spec(), SIZES, tmp_path / "cache")
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".tmp")]
    np.testing.assert_array_equal(load_split(build(tmp_path), "train").images, before)


def test_spec_recipe_mismatch_and_sizes_errors(tmp_path):
    with pytest.raises(DataError, match="classes \\['vortex'\\] are not classes of recipe 'fake'"):
        build(tmp_path, spec=make_spec(classes=("vortex", "cdm")))
    with pytest.raises(DataError, match="image_shape \\(1, 5, 4\\) differs"):
        build(tmp_path, spec=make_spec(image_shape=(1, 5, 4)))
    with pytest.raises(DataError, match="columns \\['kappa'\\] are not produced"):
        build(tmp_path, spec=make_spec(columns=("kappa",)))
    with pytest.raises(DataError, match="sizes must give exactly"):
        build(tmp_path, sizes={"train": 1, "test": 1})
    with pytest.raises(DataError, match="sizes\\['val'\\] must be an integer >= 0"):
        build(tmp_path, sizes={"train": 1, "val": -1, "test": 1})
    with pytest.raises(DataError, match="sizes .* are required"):
        build(tmp_path, sizes=None)


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("LENSBENCH_CACHE", str(tmp_path / "lb"))
    assert paths.cache_dir() == tmp_path / "lb"
    monkeypatch.delenv("LENSBENCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.cache_dir() == tmp_path / "xdg" / "lensbench"


def test_datacard_and_gallery(tmp_path):
    spec = make_spec()
    build(tmp_path)
    out = card.show(
        spec, cache=tmp_path / "cache", progress=False, recipe=FakeRecipe()
    )  # newest cached build
    text = out["card"].read_text()
    assert "| train | 6 | 6 | 6 | 18 |" in text and "| test | 2 | 2 | 2 | 6 |" in text
    assert reading.read_meta(out["dir"])["fingerprint"] in text
    row = next(line for line in text.splitlines() if line.startswith("| m_a "))
    dsd = materialise(spec, SIZES, cache=tmp_path / "cache", recipe=FakeRecipe())
    m_a = np.concatenate([load_split(dsd, s).columns["m_a"] for s in dsd])
    assert row == f"| m_a | float32 | {np.nanmin(m_a):.4g} | {np.nanmax(m_a):.4g} | 11 |"  # 6+3+2 axion rows
    again = card.show(spec, dsd, SIZES)
    assert again["card"] == out["card"] and again["card"].read_text() == text
    png = out["gallery"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    with pytest.raises(DataError, match="not built yet"):
        card.show(make_spec(name="never-built"), cache=tmp_path / "cache")


def test_real_recipe_tiny(tmp_path):
    rec = registry.recipes.get("deeplense-model2")
    spec = DatasetSpec(
        name="model2-tiny",
        version=1,
        description="tiny",
        classes=("no_sub", "axion"),
        image_shape=tuple(rec.image_shape),
        pixel_scale=rec.pixel_scale,
        recipe=rec.name,
    )
    dsd = materialise(spec, {"train": 2, "val": 1, "test": 1}, cache=tmp_path, progress=False)
    tr = load_split(dsd, "train")
    assert tr.images.shape == (4, *rec.image_shape) and np.isfinite(tr.images).all()
    assert tuple(dsd["train"].features)[3:] == tuple(rec.columns)
    # stored bit for bit as the recipe generates it for the derived chunk seed
    img, cols = rec.generate("axion", 2, simulated.chunk_seed(spec, "train", "axion", 0))
    assert tr.images[2:].tobytes() == img.tobytes()
    for c in rec.columns:
        np.testing.assert_array_equal(tr.columns[c][2:], np.asarray(cols[c], np.float32))


def test_fingerprint_follows_the_recipe_not_other_recipes():
    """Editing one recipe's priors changes its datasets' fingerprints and no one else's."""
    import dataclasses

    from lensbench.lensing.recipes.priors import Uniform

    sizes = {"train": 2, "val": 1, "test": 1}
    v1, m2 = registry.datasets.get("lensbench-v1"), registry.datasets.get("deeplense-model2")
    rec = registry.recipes.get("lensbench-v1")
    changed = dataclasses.replace(rec, lens={**rec.lens, "theta_E": Uniform(1.0, 1.6)})
    assert fingerprint.fingerprint(v1, sizes) == fingerprint.fingerprint(v1, sizes, recipe=rec)
    assert fingerprint.fingerprint(v1, sizes, recipe=changed) != fingerprint.fingerprint(v1, sizes)
    m2_recipe = registry.recipes.get("deeplense-model2")
    assert fingerprint.recipe_identity(m2_recipe) == fingerprint.recipe_identity(m2_recipe)
    assert fingerprint.fingerprint(m2, sizes) == fingerprint.fingerprint(m2, sizes)


def test_gallery_shows_three_bands_reddest_as_red():
    img = np.zeros((3, 8, 8), dtype=np.float32)
    img[0, 2:6, 2:6] = 1.0  # g band only
    shown, cmap = card.display(img)
    assert cmap is None and shown.shape == (8, 8, 3)
    assert shown[..., 2].max() == 1.0 and shown[..., 0].max() == 0.0  # g shows as blue, not red


def test_a_registered_recipe_is_found_by_name(tmp_path):
    """A recipe registered in ``lensbench.registry.recipes`` (as an entry point would) builds without an
    override; an unknown recipe name is a DataError that lists the known ones."""
    registry.recipes.register(FakeRecipe(), "test")
    try:
        dsd = materialise(make_spec(), SIZES, cache=tmp_path, progress=False)
        assert reading.read_meta(dsd)["recipe"] == "fake" and dsd["train"].num_rows == 18
        assert fingerprint.fingerprint(make_spec(), SIZES) == fingerprint.fingerprint(
            make_spec(), SIZES, recipe=FakeRecipe())
    finally:
        registry.recipes.unregister("fake")
    with pytest.raises(DataError, match="unknown recipe 'fake'.*Known recipes: .*lensbench-v1"):
        materialise(make_spec(), SIZES, cache=tmp_path / "other", progress=False)
