"""Real lens-finding test sets (external: evaluation only, never trained on), read from the user's
real-data root (``--data-root`` or ``$LENSBENCH_REAL_DATA``; the files are never copied into the
project).

- ``deeplense-hsc-lensfinding-sample`` (adapter ``lens-finding``): the 40-image sample of the ML4SCI
  DeepLense lens-finding task, real HSC-SSP cutouts, (3, 64, 64) g, r, i, each band min-max
  normalised to [0, 1]; 20 lenses and 20 non-lenses in ``{train,test}_{lenses,nonlenses}/``. The
  adapter keeps the folder's train/test split and carves val from train; the lens-finding tasks use
  the union of all splits (``lensbench.data.taskdata.is_external``).
- ``spacewarps-gallery-lensfinding`` (adapter ``cutouts``, via a prepared view): the Space Warps
  field-guide PNGs of ``spacewarps-cfhtls-vics82-gallery/``. Its folders are not class folders, so
  the mapping lives here (``GALLERY_CLASSES``): ``lens`` = the 97 CFHTLS gallery lenses
  (``guide/lenses/gallery/``, 215x215); ``nonlens`` = the 37 non-lens look-alikes
  (``guide/non-lenses/**``) and the 10 imaging artefacts (``guide/artifacts/**``), 47 in all. The
  36 guide example lenses (mixed 440x440 and VICS82 framing) and the 5 unlabelled candidates are
  left out. ``prepare_gallery`` converts each PNG (``gallery_image``) into a (3, 64, 64) .npy in a
  cache folder ``<cache>/views/<name>/v<version>/{lens,nonlens}/`` that the ``cutouts`` format reads
  (``GalleryView``, registered in ``lensbench.registry.preparers`` through the entry point
  ``lensbench = "lensbench.tasks.real_datasets:preparers"``); the view is rewritten only when the
  source files (path, size, mtime) or this preparation change.

Gallery preparation (``gallery_image``): RGB display PNG (R, G, B = i, r, g for CFHTLS gri) ->
channels reversed to (g, r, i) like the HSC sample; a centred square crop of the HSC field of view
(64 x 0.168" = 10.75") assuming the CFHTLS MegaCam scale 0.186"/px for every file (58 px; also
used for the VICS82 and other guide images, whose scale is not documented); bilinear antialiased
resize to 64x64; per-band min-max to [0, 1].

Caveats (stated in the task descriptions): these are 8-bit display stretches, not fluxes; the
negatives are heterogeneous (CFHTLS 440x440 fields whose object of interest is not always central,
VICS82 iJKs colours, artefacts), while the lenses are uniform centred cutouts, so framing and
colour differ between the classes as well as the lensing. Treat the AUC as an out-of-distribution
indicator, not a leaderboard-grade number.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from lensbench.data.errors import DataError
from lensbench.data.paths import real_data_root, views_dir
from lensbench.specs import DatasetSpec

HSC_NAME = "deeplense-hsc-lensfinding-sample"
GALLERY_NAME = "spacewarps-gallery-lensfinding"
GALLERY_FOLDER = "spacewarps-cfhtls-vics82-gallery"
GALLERY_VERSION = 1
CLASSES = ("nonlens", "lens")
GALLERY_CLASSES = {"lens": ("guide/lenses/gallery",), "nonlens": ("guide/non-lenses", "guide/artifacts")}
GALLERY_COUNTS = {"lens": 97, "nonlens": 47}  # as shipped (README of the gallery folder)
CFHTLS_PIXEL_SCALE = 0.186
HSC_PIXEL_SCALE = 0.168
NPIX = 64
_PREP_VERSION = "1"  # bump when gallery_image changes: the view is rebuilt

HSC_CITATION = ("ML4SCI DeepLense lens-finding task (GSoC test), real HSC-SSP PDR2 cutouts (Aihara et al. 2019); "
                "sample from github.com/coderpheonix/ML4Sci_DeepLense_GSoC")
GALLERY_CITATION = ("Space Warps (Marshall et al. 2016, MNRAS 455, 1171; More et al. 2016, MNRAS 455, 1191), "
                    "field guide images from github.com/zooniverse/Lens-Zoo (Apache-2.0); CFHTLS and VICS82 pixels")


def specs() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name=HSC_NAME, version=1, adapter="lens-finding", classes=CLASSES, image_shape=(3, NPIX, NPIX),
            pixel_scale=HSC_PIXEL_SCALE, seed=0, citation=HSC_CITATION,
            licence="research use (HSC-SSP public data; no licence file upstream)",
            description="Real HSC lenses vs non-lenses (20 + 20), 3x64x64 g,r,i per-band min-max; the DeepLense "
                        "lens-finding sample. External test set: read from the real-data root, all splits used."),
        DatasetSpec(
            name=GALLERY_NAME, version=GALLERY_VERSION, adapter="cutouts", classes=CLASSES,
            image_shape=(3, NPIX, NPIX), pixel_scale=HSC_PIXEL_SCALE, seed=0, citation=GALLERY_CITATION,
            licence="Apache-2.0 (Lens-Zoo repository); CFHTLS / VICS82 survey pixels",
            description="Real CFHTLS Space Warps gallery lenses (97) vs Space Warps non-lens look-alikes and "
                        "artefacts (47); display PNGs cropped to 10.75\" and resized to 3x64x64, per-band min-max. "
                        "Prepared from spacewarps-cfhtls-vics82-gallery/ by tasks.real_datasets."),
    ]


# ----------------------------------------------------------------------------- Space Warps gallery
def gallery_files(folder: Path) -> dict[str, list[Path]]:
    """class -> sorted PNG files of the gallery folder, per ``GALLERY_CLASSES``."""
    out = {}
    for cls, subs in GALLERY_CLASSES.items():
        files = []
        for sub in subs:
            d = folder / sub
            if not d.is_dir():
                raise DataError(f"{folder}: expected the sub-folder '{sub}/' of the Space Warps gallery")
            files += [p for p in d.rglob("*") if p.is_file() and p.suffix.lower() == ".png"]
        if not files:
            raise DataError(f"{folder}: no PNG files for class {cls!r} under {subs}")
        out[cls] = sorted(files)
    return out


def gallery_image(path: Path) -> np.ndarray:
    """One gallery PNG as float32 (3, 64, 64): (g, r, i), 10.75" centred crop, per-band [0, 1]."""
    import torch
    import torch.nn.functional as F
    from PIL import Image

    try:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except OSError as e:
        raise DataError(f"{path}: cannot read PNG ({e})") from e
    chw = np.ascontiguousarray(np.moveaxis(rgb, -1, 0)[::-1])  # (R, G, B) = (i, r, g) -> (g, r, i)
    side = round(NPIX * HSC_PIXEL_SCALE / CFHTLS_PIXEL_SCALE)
    h, w = chw.shape[1:]
    side = min(side, h, w)
    r0, c0 = (h - side) // 2, (w - side) // 2
    crop = torch.from_numpy(chw[:, r0:r0 + side, c0:c0 + side].copy())[None]
    img = F.interpolate(crop, size=(NPIX, NPIX), mode="bilinear", align_corners=False, antialias=True)[0]
    flat = img.flatten(1)
    lo, hi = flat.min(1).values[:, None, None], flat.max(1).values[:, None, None]
    return ((img - lo) / (hi - lo).clamp(min=1e-12)).numpy().astype(np.float32)


def _view_name(rel: str) -> str:
    return rel.replace("/", "__").rsplit(".", 1)[0] + ".npy"


def prepare_gallery(data_root=None, cache=None) -> Path:
    """The prepared view folder of the gallery (built or refreshed if needed); ``DataError`` naming
    the expected folder when the real data is absent."""
    base = real_data_root(data_root)
    if base is None:
        raise DataError(f"dataset {GALLERY_NAME!r}: needs the real-data root that contains '{GALLERY_FOLDER}/'; "
                        f"pass --data-root or set LENSBENCH_REAL_DATA")
    folder = Path(base) / GALLERY_FOLDER
    if not folder.is_dir():
        raise DataError(f"dataset {GALLERY_NAME!r}: expected the folder '{GALLERY_FOLDER}/' inside the real-data "
                        f"root {str(base)!r}, but {str(folder)!r} does not exist")
    files = gallery_files(folder)
    h = hashlib.sha256(f"prep {_PREP_VERSION} {NPIX} {CFHTLS_PIXEL_SCALE}\n".encode())
    h.update(Path(__file__).read_bytes())
    for cls in CLASSES:
        for p in files[cls]:
            st = p.stat()
            h.update(f"{cls}|{p.relative_to(folder).as_posix()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    key = h.hexdigest()
    view = views_dir(GALLERY_NAME, GALLERY_VERSION, cache)
    stamp = view / "prepared.json"
    try:
        if json.loads(stamp.read_text()).get("key") == key:
            return view
    except (OSError, ValueError):
        pass
    for cls in CLASSES:
        d = view / cls
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.npy"):
            old.unlink()
        for p in files[cls]:
            np.save(d / _view_name(p.relative_to(folder).as_posix()), gallery_image(p))
    stamp.write_text(json.dumps({"key": key, "source": str(folder.resolve()),
                                 "counts": {c: len(files[c]) for c in CLASSES}}, indent=2))
    return view


class GalleryView:
    """The preparer of ``spacewarps-gallery-lensfinding`` (``lensbench.registry.Preparer``)."""

    dataset = GALLERY_NAME

    def prepare(self, data_root=None, cache=None) -> Path:
        return prepare_gallery(data_root, cache)


def preparers() -> list[GalleryView]:
    """The ``lensbench.preparers`` entry point: the file datasets here that need preparing."""
    return [GalleryView()]
