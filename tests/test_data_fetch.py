"""``lensbench data fetch``: downloads from a loopback HTTP server (a mirror), sha256 checks, retries of
corrupted and cut-short downloads, the error without a server, ``--from DIR``, ``--check``; then the
real lens-finding sample fetched from a loopback copy of the shared real-data folder and built into a
dataset with the same fingerprint as the original."""

from __future__ import annotations

import functools
import hashlib
import json
import socket
import threading
from collections import Counter
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from conftest import REAL_DATA

from lensbench.cli import main
from lensbench.data import sources

TOY = {"a/one.npy": np.arange(3000, dtype=np.float32).tobytes(), "b/two & three.bin": bytes(range(256)) * 40}


class Mirror:
    """A loopback HTTP server of ``files`` (URL path -> bytes) that can corrupt or cut a file short the
    next ``n`` times it is requested, and counts requests."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.hits, self.corrupt, self.cut = files, Counter(), Counter(), Counter()
        mirror = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self):
                path = unquote(self.path)
                if path not in mirror.files:
                    self.send_error(404)
                    return
                mirror.hits[path] += 1
                body = mirror.files[path]
                if mirror.corrupt[path] > 0:
                    mirror.corrupt[path] -= 1
                    body = bytes([body[0] ^ 0xFF]) + body[1:]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mirror.cut[path] > 0:  # announce every byte, send half, hang up
                    mirror.cut[path] -= 1
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A one-source registry (``toy-lenses``) in ``$LENSBENCH_DATA_SOURCES`` and a mirror serving it."""
    doc = {"format": 1, "url": "https://example.invalid/{repository}/{commit}/{path}", "sources": {"toy-lenses": {
        "description": "toy", "repository": "someone/toy", "commit": "c" * 40, "upstream_path": "data",
        "licence": "CC-BY-4.0 (toy)", "citation": "Toy et al. 2026", "used_by": ["toy-dataset"],
        "files": {rel: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)} for rel, b in TOY.items()}}}}
    (tmp_path / "sources.json").write_text(json.dumps(doc))
    monkeypatch.setenv(sources.SOURCES_ENV, str(tmp_path / "sources.json"))
    monkeypatch.delenv(sources.MIRROR_ENV, raising=False)
    mirror = Mirror({f"/toy-lenses/{rel}": b for rel, b in TOY.items()})
    yield mirror, tmp_path / "root"
    mirror.close()


def fetch(*args) -> int:
    return main(["data", "fetch", *map(str, args), "--no-progress"])


def landed(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root / "toy-lenses").as_posix(): p.read_bytes()
            for p in sorted((root / "toy-lenses").rglob("*")) if p.is_file()}


def test_good_download_lands_verified_and_prints_licence_and_citation(toy, capsys):
    mirror, root = toy
    assert fetch("toy-dataset", "--data-root", root, "--mirror", mirror.url) == 0  # by the dataset that reads it
    assert landed(root) == TOY
    out = capsys.readouterr().out
    assert "licence: CC-BY-4.0 (toy)" in out and "cite: Toy et al. 2026" in out and "2 files" in out
    assert sum(mirror.hits.values()) == 2
    assert fetch("toy-lenses", "--data-root", root, "--mirror", mirror.url) == 0
    assert sum(mirror.hits.values()) == 2  # verified files are kept, nothing downloaded again
    assert fetch("toy-lenses", "--data-root", root, "--check") == 0


def test_corrupted_download_is_refused_and_retried(toy, capsys):
    mirror, root = toy
    mirror.corrupt["/toy-lenses/a/one.npy"] = 1
    assert fetch("toy-lenses", "--data-root", root, "--mirror", mirror.url, "--retries", "1") == 0
    assert mirror.hits["/toy-lenses/a/one.npy"] == 2 and landed(root) == TOY
    (root / "toy-lenses" / "a" / "one.npy").write_bytes(b"damaged on disk")  # a bad local copy is replaced
    assert fetch("toy-lenses", "--data-root", root, "--mirror", mirror.url) == 0
    assert mirror.hits["/toy-lenses/a/one.npy"] == 3 and landed(root) == TOY
    (root / "toy-lenses" / "a" / "one.npy").unlink()
    mirror.corrupt["/toy-lenses/a/one.npy"] = 5  # corrupt on every attempt: refused, nothing written
    capsys.readouterr()
    assert fetch("toy-lenses", "--data-root", root, "--mirror", mirror.url, "--retries", "1") == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert "refused" in err and "sha256" in err and "toy-lenses/a/one.npy" in err
    assert sorted(landed(root)) == ["b/two & three.bin"]  # no partial or temporary file left behind
    assert fetch("toy-lenses", "--data-root", root, "--check") == 1


def test_download_cut_short_is_restarted(toy):
    mirror, root = toy
    mirror.cut["/toy-lenses/b/two & three.bin"] = 1
    assert fetch("toy-lenses", "--data-root", root, "--mirror", mirror.url, "--retries", "1") == 0
    assert mirror.hits["/toy-lenses/b/two & three.bin"] == 2 and landed(root) == TOY


def test_no_server_is_a_clear_error_naming_the_url(toy, capsys):
    _, root = toy
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert fetch("toy-lenses", "--data-root", root, "--mirror", f"http://127.0.0.1:{port}", "--retries", "0") == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert f"cannot download http://127.0.0.1:{port}/toy-lenses/a/one.npy" in err and "Traceback" not in err
    assert not landed(root) if (root / "toy-lenses").exists() else True


def test_from_local_folder_verifies_the_same_sha256(toy, tmp_path, capsys):
    _, root = toy
    local = tmp_path / "usb" / "toy-lenses"
    for rel, b in TOY.items():
        (local / rel).parent.mkdir(parents=True, exist_ok=True)
        (local / rel).write_bytes(b)
    assert fetch("toy-lenses", "--data-root", root, "--from", tmp_path / "usb") == 0  # a real-data root copy
    assert landed(root) == TOY and "licence: CC-BY-4.0" in capsys.readouterr().out
    root2 = tmp_path / "root2"
    assert fetch("toy-lenses", "--data-root", root2, "--from", local) == 0  # or the source's own folder
    assert landed(root2) == TOY
    (local / "a" / "one.npy").write_bytes(b"tampered")
    root3 = tmp_path / "root3"
    assert fetch("toy-lenses", "--data-root", root3, "--from", local) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert "refused" in err and "one.npy" in err
    assert not (root3 / "toy-lenses" / "a" / "one.npy").exists()


def test_user_errors_exit_2(toy, tmp_path, monkeypatch, capsys):
    _, root = toy
    monkeypatch.delenv("LENSBENCH_REAL_DATA", raising=False)
    assert fetch("toy-lenses") == 2 and "--data-root" in capsys.readouterr().err
    assert fetch("no-such-data", "--data-root", root) == 2
    assert "toy-lenses" in capsys.readouterr().err.replace("\n", "")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": 1, "url": "x", "sources": {"evil": {"files": {"../../etc/x": {}}}}}))
    monkeypatch.setenv(sources.SOURCES_ENV, str(bad))
    assert fetch("evil", "--data-root", root) == 2 and str(bad) in capsys.readouterr().err.replace("\n", "")


def test_registry_pins_raw_urls_and_covers_what_the_tasks_read():
    reg = sources.packaged()
    hsc = reg["deeplense-hsc-lensfinding-sample"]
    f = next(f for f in hsc.files if f.rel == "train_lenses/1.npy")
    assert hsc.url(f) == ("https://raw.githubusercontent.com/coderpheonix/ML4Sci_DeepLense_GSoC/"
                          "0b16833055f1a3f8d64eb8e71ab3ada507a913c9/Lens_Finding_%26_Data_Pipelines/data/train_lenses/1.npy")
    assert hsc.url(f, "http://m/") == "http://m/deeplense-hsc-lensfinding-sample/train_lenses/1.npy"
    assert {s.name for s in sources.resolve(["lensfinding-des-v1"])} == {"des-galaxy-cutouts-grizY",
                                                                        "cosmos-hst-acs-f814w-cutouts"}
    assert {s.name for s in sources.resolve(["lens-finding/hsc"])} == {  # a task: train and test data
        "deeplense-hsc-lensfinding-sample", "des-galaxy-cutouts-grizY", "cosmos-hst-acs-f814w-cutouts"}
    assert [len(s.files) for s in reg.values()] == [40, 185, 6, 221]
    assert all(s.licence and s.citation and len(s.commit) == 40 for s in reg.values())


needs_real = pytest.mark.skipif(not REAL_DATA.is_dir(), reason=f"shared real-data folder {REAL_DATA} absent")


@needs_real
def test_registry_matches_the_shared_real_data():
    assert main(["data", "fetch", "--all", "--check", "--data-root", str(REAL_DATA)]) == 0


@needs_real
def test_fetched_layout_builds_the_real_task_dataset(tmp_path, monkeypatch):
    from lensbench import registry
    from lensbench.data.cache import materialise
    from lensbench.data.reading import load_split, read_meta

    monkeypatch.delenv(sources.SOURCES_ENV, raising=False)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(REAL_DATA))
    handler.func.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        root = tmp_path / "real"
        assert fetch("deeplense-hsc-lensfinding-sample", "--data-root", root,
                     "--mirror", f"http://127.0.0.1:{server.server_address[1]}") == 0
    finally:
        server.shutdown()
        server.server_close()
    monkeypatch.setenv("LENSBENCH_REAL_DATA", str(root))  # the way a user points the tasks at it
    task = registry.tasks.get("lens-finding/hsc")
    spec = registry.datasets.get(task.test_dataset)
    fetched = materialise(spec, None, cache=tmp_path / "c1", progress=False)
    original = materialise(spec, None, cache=tmp_path / "c2", data_root=REAL_DATA, progress=False)
    assert read_meta(fetched)["fingerprint"] == read_meta(original)["fingerprint"]
    labels = np.concatenate([load_split(fetched, s).labels for s in ("train", "val", "test")])
    assert np.bincount(labels).tolist() == [20, 20]
