"""lensbench.data file datasets: DeepLense, lens-finding and cutout folders -> validated cached datasets;
the restricted loading of object .npy files; the format registry."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from conftest import REAL_DATA

from lensbench.data.cache import materialise
from lensbench.data.errors import DataError
from lensbench.data.fingerprint import fingerprint
from lensbench.data.importing import import_dataset
from lensbench.data.reading import load_split, read_meta
from lensbench.data.resolve import resolve_data_root, resolve_spec
from lensbench.specs import DatasetSpec

REAL = REAL_DATA


def _axion(path: Path, img: np.ndarray, m_a: float) -> None:
    obj = np.empty(2, dtype=object)  # [image, m_a] as DeepLenseSim writes it
    obj[0], obj[1] = img, m_a
    np.save(path, obj, allow_pickle=True)


def make_model1(root: Path, n_train=10, n_test=3, hw=6) -> dict:
    """Model_I/{axion,cdm,no_sub} + Model_I_test: axion object arrays, others 2-D integer counts."""
    rng = np.random.default_rng(0)
    truth = {}
    for folder, n in (("Model_I", n_train), ("Model_I_test", n_test)):
        for c in ("axion", "cdm", "no_sub"):
            d = root / folder / c
            d.mkdir(parents=True)
            for i in range(n):
                img = rng.integers(0, 50, (hw, hw)).astype(np.int64)
                name = f"{c}_sim_{1000 + i}.npy"
                if c == "axion":
                    m_a = 10.0 ** rng.uniform(-24, -22)
                    _axion(d / name, img, m_a)
                    truth[f"{folder}/{c}/{name}"] = (img, m_a)
                else:
                    np.save(d / name, img)
                    truth[f"{folder}/{c}/{name}"] = (img, np.nan)
    return truth


def test_deeplense_model1_with_axion_object_arrays(tmp_path):
    truth = make_model1(tmp_path / "dl")
    spec, dsd = import_dataset(
        tmp_path / "dl" / "Model_I", "deeplense", "my-model1", cache=tmp_path / "c", progress=False
    )
    assert spec.classes == ("axion", "cdm", "no_sub") and spec.image_shape == (1, 6, 6)
    assert spec.adapter == "deeplense" and spec.columns == ("m_a",)
    meta = read_meta(dsd)
    assert meta["counts"] == {
        "train": {"axion": 9, "cdm": 9, "no_sub": 9},
        "val": {"axion": 1, "cdm": 1, "no_sub": 1},
        "test": {"axion": 3, "cdm": 3, "no_sub": 3},
    }
    for split in ("train", "val", "test"):
        s = load_split(dsd, split)
        for img, label, m_a, src in zip(s.images, s.labels, s.columns["m_a"], s.sources):
            assert src.startswith("Model_I_test/" if split == "test" else "Model_I/")
            want_img, want_m = truth[src]
            np.testing.assert_array_equal(img[0], want_img.astype(np.float32))
            assert s.class_names[label] == src.split("/")[1]
            if np.isnan(want_m):
                assert np.isnan(m_a)
            else:
                assert m_a == pytest.approx(want_m, rel=1e-6)
    train, val = load_split(dsd, "train").sources, load_split(dsd, "val").sources
    assert not set(train) & set(val)  # val carved from train, disjoint
    # the record lets later commands find the dataset by name, and the cache is reused
    assert resolve_spec("my-model1", tmp_path / "c") == spec
    again = materialise(spec, None, cache=tmp_path / "c", progress=False)
    assert read_meta(again)["built_at"] == meta["built_at"]


def test_deeplense_val_carving_is_deterministic_and_sizes_cap(tmp_path):
    make_model1(tmp_path / "dl", n_train=20)
    _, a = import_dataset(
        tmp_path / "dl" / "Model_I", "deeplense", "m1a", cache=tmp_path / "a", progress=False
    )
    spec, b = import_dataset(
        tmp_path / "dl" / "Model_I", "deeplense", "m1a", cache=tmp_path / "b", progress=False
    )
    assert load_split(a, "val").sources == load_split(b, "val").sources
    assert len(load_split(a, "val")) == 6  # 10% of 20 per class
    capped = materialise(spec, {"train": 4, "val": 1, "test": 2}, cache=tmp_path / "b", progress=False)
    assert [capped[s].num_rows for s in ("train", "val", "test")] == [12, 3, 6]


def test_deeplense_parent_folder_and_missing_test(tmp_path):
    make_model1(tmp_path / "dl", n_train=2, n_test=1)
    _, dsd = import_dataset(tmp_path / "dl", "deeplense", "m1-parent", cache=tmp_path / "c", progress=False)
    assert dsd["test"].num_rows == 3
    (tmp_path / "dl" / "Model_I_test").rename(tmp_path / "elsewhere")
    with pytest.raises(DataError, match="no test split: expected the sibling folder Model_I_test/"):
        import_dataset(tmp_path / "dl" / "Model_I", "deeplense", "m1-notest", cache=tmp_path / "c")


def test_deeplense_model4_channels_last(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "Model_IV"
    for split, n in (("train", 5), ("val", 2)):
        for c in ("axion", "cdm", "no"):
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                np.save(root / split / c / f"sim_{i}.npy", rng.random((8, 8, 3)).astype(np.float32))
    spec, dsd = import_dataset(root, "deeplense", "m4", cache=tmp_path / "c", progress=False)
    assert spec.classes == ("axion", "cdm", "no_sub") and spec.image_shape == (3, 8, 8)
    te = load_split(dsd, "test")  # the official val/ is our held-out test
    assert te.sources[0] == "val/axion/sim_0.npy" and len(te) == 6
    raw = np.load(root / "val" / "axion" / "sim_0.npy")
    np.testing.assert_array_equal(te.images[0], np.moveaxis(raw, -1, 0))
    assert np.isnan(te.columns["m_a"]).all()  # Model IV has no mass label
    assert set(load_split(dsd, "train").sources) | set(load_split(dsd, "val").sources) == {
        f"train/{c}/sim_{i}.npy" for c in ("axion", "cdm", "no") for i in range(5)
    }


@pytest.mark.parametrize(
    "damage, match",
    [
        ("garbage", r"cdm_sim_1001\.npy: cannot read \.npy"),
        ("nan", r"NaN or inf pixels .*no_sub_sim_1002\.npy"),
        ("shape", r"cdm_sim_1003\.npy: image shape \(1, 7, 6\), expected \(1, 6, 6\)"),
        ("object3", r"axion_sim_1004\.npy: object array of shape \(3,\), expected \[image, m_a\]"),
        ("strings", r"no_sub_sim_1005\.npy: array dtype <U1, expected a numeric image"),
    ],
)
def test_deeplense_malformed_files_are_named(tmp_path, damage, match):
    make_model1(tmp_path / "dl", n_train=8, n_test=1)
    d = tmp_path / "dl" / "Model_I"
    if damage == "garbage":
        (d / "cdm" / "cdm_sim_1001.npy").write_bytes(b"this is not a numpy file")
    elif damage == "nan":
        img = np.ones((6, 6))
        img[2, 3] = np.nan
        np.save(d / "no_sub" / "no_sub_sim_1002.npy", img)
    elif damage == "shape":
        np.save(d / "cdm" / "cdm_sim_1003.npy", np.ones((7, 6)))
    elif damage == "object3":
        obj = np.empty(3, dtype=object)
        obj[:] = [np.ones((6, 6)), 1e-23, "x"]
        np.save(d / "axion" / "axion_sim_1004.npy", obj, allow_pickle=True)
    else:
        np.save(d / "no_sub" / "no_sub_sim_1005.npy", np.full((6, 6), "a"))
    with pytest.raises(DataError, match=match):
        import_dataset(d, "deeplense", "broken", cache=tmp_path / "c", progress=False)
    assert not (tmp_path / "c" / "datasets" / "broken" / "v1" / "all").exists()


def _lens_finding(root: Path, n=4, shape=(3, 8, 8)) -> None:
    rng = np.random.default_rng(2)
    for split in ("train", "test"):
        for kind in ("lenses", "nonlenses"):
            (root / f"{split}_{kind}").mkdir(parents=True)
            for i in range(1, n + 1):
                img = rng.random(shape).astype(np.float32) + (5.0 if kind == "lenses" else 0.0)
                np.save(root / f"{split}_{kind}" / f"{i}.npy", img)


def test_lens_finding_layout(tmp_path):
    _lens_finding(tmp_path / "lf")
    spec, dsd = import_dataset(tmp_path / "lf", "lens-finding", "lf", cache=tmp_path / "c", progress=False)
    assert spec.classes == ("nonlens", "lens") and spec.image_shape == (3, 8, 8) and spec.columns == ()
    te = load_split(dsd, "test")
    assert te.labels.tolist() == [0] * 4 + [1] * 4
    assert (te.images[te.labels == 1].min() > 4) and (te.images[te.labels == 0].max() < 1)  # lens = 1
    assert te.sources[:2] == ["test_nonlenses/1.npy", "test_nonlenses/2.npy"]  # natural order
    assert [dsd[s].num_rows for s in ("train", "val", "test")] == [6, 2, 8]
    (tmp_path / "lf" / "test_lenses").rename(tmp_path / "lf" / "test_lens")
    with pytest.raises(DataError, match="missing folder test_lenses/"):
        import_dataset(tmp_path / "lf", "lens-finding", "lf2", cache=tmp_path / "c")


def test_changed_files_trigger_rebuild(tmp_path):
    _lens_finding(tmp_path / "lf")
    spec, dsd = import_dataset(tmp_path / "lf", "lens-finding", "lf", cache=tmp_path / "c", progress=False)
    fp = read_meta(dsd)["fingerprint"]
    np.save(tmp_path / "lf" / "test_lenses" / "5.npy", np.zeros((3, 8, 8), np.float32))
    dsd2 = materialise(spec, None, cache=tmp_path / "c", progress=False)
    assert read_meta(dsd2)["fingerprint"] != fp and dsd2["test"].num_rows == 9


def test_fingerprint_follows_file_content_not_times_or_place(tmp_path):
    import os
    import shutil

    _lens_finding(tmp_path / "lf")
    spec, dsd = import_dataset(tmp_path / "lf", "lens-finding", "lf", cache=tmp_path / "c", progress=False)
    fp = read_meta(dsd)["fingerprint"]
    one = tmp_path / "lf" / "test_lenses" / "1.npy"
    os.utime(one, ns=(0, 10**18))                      # touched: same bytes, same data
    assert fingerprint(spec, None, data_root=tmp_path / "lf") == fp
    shutil.copytree(tmp_path / "lf", tmp_path / "copy")  # the same files elsewhere
    assert fingerprint(spec, None, data_root=tmp_path / "copy") == fp
    arr = np.load(one)
    arr[0, 0, 0] += 1.0                                # one value changed
    np.save(one, arr)
    assert fingerprint(spec, None, data_root=tmp_path / "lf") != fp


def test_pickle_only_for_deeplense(tmp_path):
    _lens_finding(tmp_path / "lf")
    _axion(tmp_path / "lf" / "train_lenses" / "3.npy", np.ones((3, 8, 8)), 1e-23)
    with pytest.raises(DataError, match=r"train_lenses/3\.npy: cannot read \.npy .*allow_pickle"):
        import_dataset(tmp_path / "lf", "lens-finding", "lf", cache=tmp_path / "c", progress=False)


def test_cutouts_png_fits_npy_with_classes_and_resize(tmp_path):
    from astropy.io import fits
    from PIL import Image

    root = tmp_path / "cut"
    (root / "lens" / "deep").mkdir(parents=True)
    (root / "nonlens").mkdir()
    rgb = np.zeros((12, 12, 3), np.uint8)
    rgb[..., 0] = 255  # pure red
    Image.fromarray(rgb).save(root / "lens" / "a.png")
    Image.fromarray(np.full((20, 20, 3), 128, np.uint8)).save(root / "lens" / "deep" / "b.png")
    fits.PrimaryHDU(np.full((3, 12, 12), 2.0, np.float32)).writeto(root / "nonlens" / "c.fits")
    np.save(
        root / "nonlens" / "stack.npy", np.arange(4 * 12 * 12 * 3, dtype=np.float32).reshape(4, 12, 12, 3)
    )
    (root / "nonlens" / "notes.txt").write_text("ignored")
    with pytest.raises(DataError, match="different shapes .*give image_size"):
        import_dataset(root, "cutouts", "cut", cache=tmp_path / "c")
    spec, dsd = import_dataset(
        root, "cutouts", "cut", cache=tmp_path / "c", image_size=(12, 12), pixel_scale=0.2, progress=False
    )
    assert spec.classes == ("lens", "nonlens") and spec.image_shape == (3, 12, 12) and spec.pixel_scale == 0.2
    assert [dsd[s].num_rows for s in ("train", "val", "test")] == [0, 0, 7]  # no split folders: all test
    te = load_split(dsd, "test")
    assert te.sources == [
        "lens/a.png",
        "lens/deep/b.png",
        "nonlens/c.fits",
        "nonlens/stack.npy[0]",
        "nonlens/stack.npy[1]",
        "nonlens/stack.npy[2]",
        "nonlens/stack.npy[3]",
    ]
    np.testing.assert_allclose(te.images[0, 0], 1.0)  # red channel of the PNG scaled to [0, 1]
    np.testing.assert_allclose(te.images[0, 1:], 0.0)
    np.testing.assert_allclose(te.images[1], 128 / 255, rtol=1e-5)  # 20x20 resized to 12x12
    np.testing.assert_allclose(te.images[2], 2.0)
    stack = np.load(root / "nonlens" / "stack.npy")
    np.testing.assert_array_equal(te.images[4], np.moveaxis(stack[1], -1, 0))


def test_cutouts_single_class_and_split_folders(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    for i in range(3):
        np.save(root / f"{i}.npy", np.full((5, 5), float(i), np.float32))
    spec, dsd = import_dataset(root, "cutouts", "flat", cache=tmp_path / "c", progress=False)
    assert spec.classes == ("unlabelled",) and spec.image_shape == (1, 5, 5) and dsd["test"].num_rows == 3
    split_root = tmp_path / "split"
    for split, n in (("train", 4), ("test", 2)):
        for c in ("a", "b"):
            (split_root / split / c).mkdir(parents=True)
            for i in range(n):
                np.save(split_root / split / c / f"{i}.npy", np.zeros((2, 5, 5), np.float32))
    spec, dsd = import_dataset(split_root, "cutouts", "split", cache=tmp_path / "c", progress=False)
    assert [dsd[s].num_rows for s in ("train", "val", "test")] == [6, 2, 4]


def test_import_errors(tmp_path):
    with pytest.raises(DataError, match="unknown format 'hdf5'"):
        import_dataset(tmp_path, "hdf5", "x", cache=tmp_path / "c")
    with pytest.raises(DataError, match="not a folder"):
        import_dataset(tmp_path / "nope", "cutouts", "x", cache=tmp_path / "c")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        import_dataset(tmp_path / "empty", "cutouts", "x", cache=tmp_path / "c")
    with pytest.raises(DataError, match="no DeepLense layout found"):
        import_dataset(tmp_path / "empty", "deeplense", "x", cache=tmp_path / "c")
    with pytest.raises(DataError, match="unknown dataset 'x'"):
        resolve_spec("x", tmp_path / "c")


# ------------------------------------------------------------------------------------------ real data


def _real(sub: str) -> Path:
    p = REAL / sub
    if not p.is_dir():
        pytest.skip(f"real data folder {sub} not found (set LENSBENCH_REAL_DATA)")
    return p


def test_real_hsc_lens_finding_sample(tmp_path):
    root = _real("deeplense-hsc-lensfinding-sample")
    spec, dsd = import_dataset(root, "lens-finding", "hsc-sample", cache=tmp_path, progress=False)
    assert spec.image_shape == (3, 64, 64) and spec.classes == ("nonlens", "lens")
    assert read_meta(dsd)["counts"] == {
        "train": {"nonlens": 9, "lens": 9},
        "val": {"nonlens": 1, "lens": 1},
        "test": {"nonlens": 10, "lens": 10},
    }
    te = load_split(dsd, "test")
    assert te.images.min() >= 0 and te.images.max() <= 1  # min-max normalised upstream
    np.testing.assert_array_equal(
        te.images[te.sources.index("test_lenses/7.npy")], np.load(root / "test_lenses" / "7.npy")
    )


def test_real_cutouts_fits_and_npy_stack(tmp_path):
    slacs = _real("slacs-hst-cutouts")
    spec, dsd = import_dataset(
        slacs / "99x99", "cutouts", "slacs", cache=tmp_path, pixel_scale=0.05, progress=False
    )
    assert spec.image_shape == (1, 99, 99) and dsd["test"].num_rows == 7
    assert np.isfinite(load_split(dsd, "test").images).all()
    pybia = _real("pybia-cosmos-lens-candidates")
    spec, dsd = import_dataset(pybia, "cutouts", "pybia", cache=tmp_path, progress=False)
    assert spec.image_shape == (3, 100, 100) and dsd["test"].num_rows == 20
    raw = np.load(pybia / "lenses.npy")
    np.testing.assert_array_equal(load_split(dsd, "test").images[5], np.moveaxis(raw[5], -1, 0))


def test_adapter_spec_resolves_data_root_by_name(tmp_path, monkeypatch):
    _lens_finding(tmp_path / "real" / "my-lf")
    spec = DatasetSpec(
        name="my-lf",
        version=1,
        description="x",
        classes=("nonlens", "lens"),
        image_shape=(3, 8, 8),
        pixel_scale=0.168,
        adapter="lens-finding",
    )
    dsd = materialise(spec, None, cache=tmp_path / "c", data_root=tmp_path / "real", progress=False)
    assert dsd["test"].num_rows == 8
    monkeypatch.setenv("LENSBENCH_REAL_DATA", str(tmp_path / "real"))
    assert resolve_data_root(spec, cache=tmp_path / "c") == tmp_path / "real" / "my-lf"
    monkeypatch.delenv("LENSBENCH_REAL_DATA")
    with pytest.raises(DataError, match="no data folder found"):
        materialise(spec, None, cache=tmp_path / "c")


def test_real_data_root_is_read_in_one_place(tmp_path, monkeypatch):
    from lensbench.data.paths import real_data_root

    monkeypatch.setenv("LENSBENCH_REAL_DATA", str(tmp_path / "env"))
    assert real_data_root(tmp_path / "given") == tmp_path / "given"  # an explicit folder wins
    assert real_data_root() == tmp_path / "env"
    monkeypatch.delenv("LENSBENCH_REAL_DATA")
    assert real_data_root() is None


# ------------------------------------------------------------------------- object .npy files, safely


class RunsCode:
    """A pickle payload that would run a shell command when unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def _crafted_axion(path: Path, marker: Path) -> None:
    obj = np.empty(2, dtype=object)  # looks like a DeepLense [image, m_a] file
    obj[0], obj[1] = RunsCode(marker), 1e-23
    np.save(path, obj, allow_pickle=True)


def test_object_npy_of_numeric_arrays_loads(tmp_path):
    from lensbench.data.npyfiles import load_npy, npy_shape

    img = np.arange(12, dtype=np.float64).reshape(3, 4)
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = img, np.float64(3e-23)  # numpy scalars pickle through numpy's `scalar`
    np.save(tmp_path / "a.npy", obj, allow_pickle=True)
    got = load_npy(tmp_path / "a.npy", object_arrays=True)
    assert got.dtype == object and got.shape == (2,) and npy_shape(tmp_path / "a.npy") == (2,)
    np.testing.assert_array_equal(got[0], img)
    assert got[0].dtype == np.float64 and float(got[1]) == 3e-23
    np.save(tmp_path / "plain.npy", img.astype(np.float32))
    np.testing.assert_array_equal(load_npy(tmp_path / "plain.npy"), img.astype(np.float32))
    # files written by NumPy 1.x (the official DeepLense ones) name numpy.core instead of numpy._core
    payload = pickle.dumps(obj, protocol=3).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in payload
    with open(tmp_path / "np1.npy", "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "|O", "fortran_order": False, "shape": (2,)})
        fh.write(payload)
    old = load_npy(tmp_path / "np1.npy", object_arrays=True)
    np.testing.assert_array_equal(old[0], img)
    assert float(old[1]) == 3e-23


def test_crafted_npy_is_refused_and_runs_nothing(tmp_path, monkeypatch):
    from lensbench.data.npyfiles import load_npy, npy_shape

    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "marker"
    _crafted_axion(tmp_path / "evil.npy", marker)
    assert npy_shape(tmp_path / "evil.npy") == (2,)  # probing reads the header only
    refused = r"evil\.npy: refused to load: its pickle asks for (posix|os|nt)\.system"
    with pytest.raises(DataError, match=refused):
        load_npy(tmp_path / "evil.npy", object_arrays=True)
    assert not marker.exists()
    # the same file among DeepLense axion files: refused while probing shapes at import, and named
    make_model1(tmp_path / "dl", n_train=3, n_test=1)
    _crafted_axion(tmp_path / "dl" / "Model_I" / "axion" / "axion_sim_1000.npy", marker)
    with pytest.raises(DataError, match=r"Model_I/axion/axion_sim_1000\.npy: refused to load"):
        import_dataset(tmp_path / "dl" / "Model_I", "deeplense", "evil", cache=tmp_path / "c", progress=False)
    assert not marker.exists()
    assert not (tmp_path / "c" / "datasets" / "evil" / "v1" / "all").exists()


# ------------------------------------------------------------------------------ a format of one's own


def test_a_registered_format_is_read_like_the_own_ones(tmp_path):
    """A package's format (the ``FileFormat`` interface) plugs in through the registry: its layout,
    its columns and its reader are used by import, materialise and the fingerprint."""
    from lensbench import registry
    from lensbench.data.formats import FolderFormat
    from lensbench.data.layouts import list_files

    class Prefixed(FolderFormat):  # <class>_<n>.npy in one folder, all for testing; column = image mean
        name = "prefixed-npy"
        classes = ("b", "a")

        def layout(self, root, classes):
            files = list_files(root, suffixes=(".npy",))
            want = classes or self.classes
            return {"train": {c: [] for c in want},
                    "test": {c: [p for p in files if p.name.startswith(f"{c}_")] for c in want}}

        def read(self, item):
            img, _ = super().read(item)
            return img, {"level": float(img.mean())}

        def columns(self, classes):
            return ("level",)

    root = tmp_path / "flat"
    root.mkdir()
    for c, level in (("a", 1.0), ("b", 2.0)):
        for i in range(3):
            np.save(root / f"{c}_{i}.npy", np.full((4, 4), level + i, np.float32))
    registry.formats.register(Prefixed(), "test")
    try:
        spec, dsd = import_dataset(root, "prefixed-npy", "flat-own", cache=tmp_path / "c", progress=False)
        assert spec.classes == ("b", "a") and spec.columns == ("level",) and spec.image_shape == (1, 4, 4)
        te = load_split(dsd, "test")
        assert te.sources == [f"b_{i}.npy" for i in range(3)] + [f"a_{i}.npy" for i in range(3)]
        np.testing.assert_array_equal(te.columns["level"], [2, 3, 4, 1, 2, 3])
        assert te.labels.tolist() == [0, 0, 0, 1, 1, 1]
        fp = read_meta(dsd)["fingerprint"]
        np.save(root / "a_0.npy", np.zeros((4, 4), np.float32))
        assert fingerprint(spec, None, cache=tmp_path / "c") != fp
    finally:
        registry.formats.unregister("prefixed-npy")
