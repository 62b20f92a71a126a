"""``lensbench data export``: parquet shards that load back bit-identically with ``datasets``, a Hub
dataset card with YAML metadata, and a Croissant file that ``mlcroissant`` validates and reads."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REAL_DATA

from lensbench.cli import main
from lensbench.specs import SPLITS


def export(*args) -> int:
    return main(["data", "export", *map(str, args)])


@pytest.fixture
def exported(toy_bench, tmp_path):
    out = tmp_path / "hub"
    assert export("toy", "--to", out, "--cache", toy_bench.cache) == 0
    return out, toy_bench.cache


def original(cache, name="toy", sizes=None):
    from lensbench import registry
    from lensbench.data.cache import materialise

    spec = registry.datasets.get(name)
    return materialise(spec, sizes or {"train": 64, "val": 32, "test": 32}, cache=cache, progress=False)


def test_parquet_round_trips_bit_identically_with_the_fingerprint(exported, tmp_path):
    import datasets

    from lensbench.data.reading import load_split, read_meta

    out, cache = exported
    dsd = original(cache)
    fp = read_meta(dsd)["fingerprint"]
    files = {s: sorted(str(p) for p in (out / "data" / "toy").glob(f"{s}-*.parquet")) for s in SPLITS}
    loaded = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "hf"))
    for s in SPLITS:
        want = load_split(dsd, s)
        got = loaded[s].with_format("numpy")[:]
        images = np.asarray(got["image"], dtype=np.float32)
        assert images.shape == (128 if s == "train" else 64, 1, 16, 16)  # 2 classes
        assert images.view(np.uint32).tobytes() == want.images.view(np.uint32).tobytes()  # every bit
        assert np.array_equal(got["label"], want.labels)
        assert np.array_equal(np.asarray(got["radius"], np.float32), want.columns["radius"], equal_nan=True)
        meta = json.loads(pq.read_schema(files[s][0]).metadata[b"lensbench"])
        assert meta["fingerprint"] == fp and meta["image_shape"] == [1, 16, 16] and meta["split"] == s
    plain = pq.read_table(files["test"][0]).column("image").to_pylist()  # any parquet reader: nested lists
    assert np.array_equal(np.asarray(plain, np.float32), load_split(dsd, "test").images)
    card = (out / "README.md").read_text()
    assert f"`{fp}`" in card
    hub = datasets.load_dataset(str(out), "toy", cache_dir=str(tmp_path / "hf2"))  # as from the Hub: the card's
    assert type(hub["test"].features["image"]).__name__ == "Array3D"  # dataset_info restores the array type
    assert hub["test"].features["label"].names == ["no_sub", "cdm"]
    assert np.asarray(hub["test"].with_format("numpy")[:]["image"]).tobytes() == load_split(dsd, "test").images.tobytes()


def test_card_has_hub_yaml_and_the_sections(exported):
    out, _ = exported
    text = (out / "README.md").read_text()
    assert text.startswith("---\n")
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["license"] == "cc-by-4.0"
    assert header["task_categories"] == ["image-classification", "other"]  # classification + anomaly, regression
    assert header["size_categories"] == ["n<1K"]  # 2 classes x (64 + 32 + 32)
    (cfg,) = header["configs"]
    assert cfg["config_name"] == "toy"
    assert cfg["data_files"] == [{"split": s, "path": f"data/toy/{s}-*.parquet"} for s in SPLITS]
    for section in ("How it was made", "Simulator version", "Recipe", "Seeds", "Fingerprint", "Known limitations",
                    "Intended use", "huggingface-cli upload"):
        assert section in text
    assert "| toy | toy@v1 | test/anomaly, test/classification, test/regression | 128 | 64 | 64 |" in text


def test_croissant_validates_and_reads_records(exported, monkeypatch):
    mlc = pytest.importorskip("mlcroissant")
    from lensbench.data.reading import load_split

    out, cache = exported
    doc = json.loads((out / "croissant.json").read_text())
    for key in ("rai:dataCollection", "rai:dataLimitations", "rai:dataBiases", "rai:personalSensitiveInformation",
                "rai:dataUseCases"):
        assert len(doc[key]) > 20, key
    ds = mlc.Dataset(jsonld=out / "croissant.json")  # raises on validation errors
    assert not ds.metadata.issues.errors
    monkeypatch.chdir(out)  # mlcroissant resolves the FileSet globs from the working directory
    records = list(ds.records(record_set="toy-test"))
    want = load_split(original(cache), "test")
    assert len(records) == len(want)
    assert [int(r["toy-test/label"]) for r in records] == want.labels.tolist()
    first = np.asarray(records[0]["toy-test/image"], dtype=np.float32).reshape(1, 16, 16)
    assert np.array_equal(first, want.images[0])
    shards = [d for d in doc["distribution"] if d["@type"] == "cr:FileObject"]
    assert len(shards) == 3 and all(len(d["sha256"]) == 64 for d in shards)


def test_export_by_task_id_and_user_errors(toy_bench, tmp_path, capsys):
    out = tmp_path / "task"
    assert export("test/regression", "--to", out, "--cache", toy_bench.cache) == 0
    assert sorted(p.name for p in (out / "data" / "toy").iterdir()) == [f"{s}-00000-of-00001.parquet" for s in
                                                                        ("test", "train", "val")]
    assert export("test/regression", "--to", out, "--cache", toy_bench.cache) == 2  # not empty
    assert "--force" in capsys.readouterr().err
    assert export("no-such-dataset", "--to", tmp_path / "x", "--cache", toy_bench.cache) == 2
    assert export("toy", "--to", tmp_path / "y", "--preset", "huge", "--cache", toy_bench.cache) == 2


@pytest.mark.skipif(not REAL_DATA.is_dir(), reason=f"shared real-data folder {REAL_DATA} absent")
def test_real_image_export_keeps_sources_and_licence(tmp_path):
    out = tmp_path / "hsc"
    assert export("deeplense-hsc-lensfinding-sample", "--to", out, "--cache", tmp_path / "c",
                  "--data-root", REAL_DATA) == 0
    header = yaml.safe_load((out / "README.md").read_text().split("---\n")[1])
    assert header["license"] == "other" and "HSC" in header["license_name"]
    table = pq.read_table(min((out / "data" / "deeplense-hsc-lensfinding-sample").glob("test-*.parquet")))
    assert table.num_rows > 0 and all(s.endswith(".npy") for s in table.column("source").to_pylist())
    doc = json.loads((out / "croissant.json").read_text())
    assert doc["rai:hasSyntheticData"] is False
