"""Real-galaxy lensing sources: the COSMOS HST/ACS F814W cutouts (numpy only).

The real-data root is a path the user gives (the tests use ``../shared/data/real`` relative to the
repo root, or the environment variable ``LENSBENCH_REAL_DATA``). Inside it this module reads the
folder ``cosmos-hst-acs-f814w-cutouts/``: ``fits/cosmos_NNNNNN.fits`` (168x168 float64, 0.03"/px)
listed in ``metadata/cutout_manifest.csv`` (column ``source_id``). The pixels are never copied into
the project.

Preparation of each galaxy (done once per process and cached), with our own quality cuts (the
uploader's accept/reject flags are not used):

1. subtract the sky (median of a 12-pixel border) and estimate the noise sigma (border MAD);
2. segment the central object: 5x5 box-smoothed image above 2 sigma(smoothed), grown from the
   brightest smoothed pixel within 0.45" of the cutout centre, then dilated by 3 pixels; all other
   pixels (neighbours, sky) are set to 0 and negative pixels are clipped to 0;
3. reject the cutout when there is no significant central peak (< 10 sigma smoothed), when the
   segment touches the cutout edge, when the integrated S/N is below 60, or when the half-light
   radius is below 0.075" (star-like);
4. recentre by whole pixels on the flux-weighted centre, normalise to unit total flux and record
   the half-light radius (arcsec). With the shared cutouts, 56 of the 217 galaxies pass.

A minimal FITS reader is included (primary HDU, BITPIX -64/-32/16/32, BSCALE/BZERO), because
``lensing/`` may import only numpy and torch.
"""

from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

COSMOS_FOLDER = "cosmos-hst-acs-f814w-cutouts"
COSMOS_PIXEL_SCALE = 0.03  # arcsec / px
_SEED_RADIUS = 0.45  # arcsec: the galaxy must peak this close to the cutout centre
_MIN_SNR = 60.0  # integrated S/N of the segmented galaxy in the cutout
_MIN_R_HALF = 0.075  # arcsec: more compact objects are treated as stars and skipped


class RealDataError(FileNotFoundError):
    """The real-data folder or one of its files is missing or malformed."""


def read_fits_primary(path: str | os.PathLike) -> np.ndarray:
    """Read the primary-HDU image of a FITS file as float64 (rows = NAXIS2, columns = NAXIS1)."""
    path = Path(path)
    with open(path, "rb") as fh:
        header: dict[str, str] = {}
        n_blocks = 0
        done = False
        while not done:
            block = fh.read(2880)
            if len(block) < 2880:
                raise RealDataError(f"{path}: truncated FITS header (no END card)")
            n_blocks += 1
            for i in range(0, 2880, 80):
                card = block[i:i + 80].decode("ascii", errors="replace")
                key = card[:8].strip()
                if key == "END":
                    done = True
                    break
                if card[8:10] == "= ":
                    header[key] = card[10:].split("/")[0].strip()
        try:
            bitpix = int(header["BITPIX"])
            naxis = int(header["NAXIS"])
            shape = tuple(int(header[f"NAXIS{k}"]) for k in range(naxis, 0, -1))
        except KeyError as exc:
            raise RealDataError(f"{path}: FITS header lacks {exc.args[0]}") from None
        dtype = {-64: ">f8", -32: ">f4", 16: ">i2", 32: ">i4", 8: "u1"}.get(bitpix)
        if dtype is None or naxis != 2:
            raise RealDataError(f"{path}: expected a 2-D image with BITPIX in (-64,-32,8,16,32), "
                                f"got NAXIS={naxis}, BITPIX={bitpix}")
        count = int(np.prod(shape))
        data = np.frombuffer(fh.read(count * abs(bitpix) // 8), dtype=dtype)
        if data.size != count:
            raise RealDataError(f"{path}: truncated FITS data ({data.size} of {count} values)")
    img = data.reshape(shape).astype(np.float64)
    bscale = float(header.get("BSCALE", "1") or 1)
    bzero = float(header.get("BZERO", "0") or 0)
    return img * bscale + bzero


@dataclass(frozen=True)
class GalaxySet:
    """Prepared real galaxies: ``images`` (N, h, w) float32, unit flux each, at ``pixel_scale``."""

    images: np.ndarray
    pixel_scale: float
    half_light_radius: np.ndarray  # (N,) arcsec
    ids: tuple[str, ...]


def cosmos_dir(data_root: str | os.PathLike | None) -> Path:
    """The COSMOS folder inside ``data_root``; a clear error when it is missing."""
    if data_root is None:
        raise RealDataError(
            f"this recipe needs real COSMOS galaxies: pass data_root=<real-data root> that contains "
            f"the folder '{COSMOS_FOLDER}/' (e.g. the project's ../shared/data/real, or set "
            f"LENSBENCH_REAL_DATA)")
    folder = Path(data_root) / COSMOS_FOLDER
    if not (folder / "fits").is_dir():
        raise RealDataError(f"expected the folder '{COSMOS_FOLDER}/fits/' inside the real-data root "
                            f"{str(data_root)!r}, but {str(folder / 'fits')!r} does not exist")
    return folder


def _dilate(mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= out[:, :-1].copy()
    out[:, :-1] |= out[:, 1:].copy()
    return out


def _box_smooth(img: np.ndarray, k: int = 5) -> np.ndarray:
    pad = np.pad(img, k // 2, mode="edge")
    c = np.cumsum(np.cumsum(np.pad(pad, ((1, 0), (1, 0))), axis=0), axis=1)
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def _prepare(img: np.ndarray, pixel_scale: float) -> tuple[np.ndarray, float] | None:
    """Segment the central galaxy; None when there is no usable one (see the module docstring)."""
    h, w = img.shape
    b = 12
    border = np.concatenate([img[:b].ravel(), img[-b:].ravel(), img[:, :b].ravel(), img[:, -b:].ravel()])
    sky = np.median(border)
    sigma = 1.4826 * np.median(np.abs(border - sky))
    img = img - sky
    smooth = _box_smooth(img, 5)
    thresh = 2.0 * sigma / 5.0  # 2 sigma of the 5x5-box-smoothed noise
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r_pix = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2)
    central = r_pix <= _SEED_RADIUS / pixel_scale
    seed_val = np.where(central, smooth, -np.inf)
    iy, ix = np.unravel_index(np.argmax(seed_val), seed_val.shape)
    if smooth[iy, ix] < 10.0 * sigma / 5.0:
        return None  # no significant object at the centre
    detect = smooth > thresh
    region = np.zeros_like(detect)
    region[iy, ix] = True
    for _ in range(h * w):
        grown = _dilate(region) & detect
        if grown.sum() == region.sum():
            break
        region = grown
    if region[0].any() or region[-1].any() or region[:, 0].any() or region[:, -1].any():
        return None  # blended with the cutout edge / too large
    for _ in range(3):
        region = _dilate(region)
    gal = np.clip(img, 0.0, None) * region
    total = gal.sum()
    if (img * region).sum() / (sigma * np.sqrt(region.sum())) < _MIN_SNR:
        return None  # too faint: the cutout noise would dominate the lensed source
    cy, cx = (gal * yy).sum() / total, (gal * xx).sum() / total
    sy, sx = round(cy - (h - 1) / 2), round(cx - (w - 1) / 2)
    gal = np.roll(gal, (-sy, -sx), axis=(0, 1))
    r = (np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2) * pixel_scale).ravel()
    order = np.argsort(r)
    cum = np.cumsum(gal.ravel()[order])
    r_half = float(r[order][np.searchsorted(cum, 0.5 * cum[-1])])
    if r_half < _MIN_R_HALF:
        return None  # star-like (unresolved)
    return (gal / total).astype(np.float32), r_half


@functools.lru_cache(maxsize=4)
def _load_cosmos_cached(folder: str) -> GalaxySet:
    folder_p = Path(folder)
    manifest = folder_p / "metadata" / "cutout_manifest.csv"
    if not manifest.is_file():
        raise RealDataError(f"expected the manifest {str(manifest)!r} (column 'source_id')")
    with open(manifest, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "source_id" not in rows[0]:
        raise RealDataError(f"{manifest}: expected a CSV with a 'source_id' column")
    ids = tuple(sorted(r["source_id"] for r in rows))
    images, radii, kept = [], [], []
    for sid in ids:
        path = folder_p / "fits" / f"{sid}.fits"
        if not path.is_file():
            raise RealDataError(f"{manifest} lists {sid!r} but {str(path)!r} is missing")
        prepared = _prepare(read_fits_primary(path), COSMOS_PIXEL_SCALE)
        if prepared is None:
            continue
        images.append(prepared[0])
        radii.append(prepared[1])
        kept.append(sid)
    if not kept:
        raise RealDataError(f"no usable galaxy found under {folder_p}")
    return GalaxySet(np.stack(images), COSMOS_PIXEL_SCALE, np.asarray(radii, dtype=np.float64), tuple(kept))


def load_cosmos(data_root: str | os.PathLike | None) -> GalaxySet:
    """Load (once per process) the prepared accepted COSMOS galaxies under ``data_root``."""
    return _load_cosmos_cached(str(cosmos_dir(data_root).resolve()))
