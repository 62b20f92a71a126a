"""Reading one lens image from a file: ``.npy``, PNG/JPEG (Pillow) or FITS (astropy).

Every reader returns a float32 ``(C, H, W)`` array: an ``(H, W)`` array gets one channel, and an
axis of length <= 4 is read as channels (``(H, W, C)`` is moved to ``(C, H, W)``). A file may hold a
stack of images (``stack_len``): a .npy of ndim 4, or of ndim 3 whose first and last axes are both
longer than 4, and a 3-D FITS cube whose first axis is longer than 4. PNG/JPEG are scaled to
[0, 1] (16-bit PNGs by 65535). No normalisation otherwise: pixel values are returned as stored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lensbench.data.errors import DataError
from lensbench.data.npyfiles import load_npy, npy_shape

IMAGE_SUFFIXES = (".npy", ".png", ".jpg", ".jpeg", ".fits", ".fit", ".fits.gz", ".fit.gz")
PIL_SUFFIXES = (".png", ".jpg", ".jpeg")
_SINGLE_BAND_MODES = ("L", "LA", "1", "I;16", "I;16B", "I;16L", "I")


def where(path: Path, index: int | None) -> str:
    """How an image is named in messages: the file, with ``[index]`` inside a stack."""
    return str(path) + ("" if index is None else f"[{index}]")


def chw_shape(shape: tuple[int, ...], at: str) -> tuple[int, int, int]:
    """The (C, H, W) an array of ``shape`` becomes: (H, W) -> (1, H, W); an axis <= 4 is channels."""
    if len(shape) == 2:
        return (1, *shape)
    if len(shape) == 3:
        if shape[0] <= 4:
            return tuple(shape)
        if shape[-1] <= 4:
            return (shape[-1], shape[0], shape[1])
        raise DataError(
            f"{at}: image shape {tuple(shape)}: cannot tell the channel axis "
            "(expected (H, W), (C, H, W) or (H, W, C) with C <= 4)"
        )
    raise DataError(
        f"{at}: image has {len(shape)} dimensions {tuple(shape)}, expected (H, W), (C, H, W) or (H, W, C)"
    )


def to_chw(arr: np.ndarray, at: str) -> np.ndarray:
    """(H, W) -> (1, H, W); (C, H, W) or (H, W, C) with C <= 4 -> (C, H, W); float32."""
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise DataError(f"{at}: array dtype {arr.dtype}, expected a numeric image")
    chw = chw_shape(arr.shape, at)
    if arr.ndim == 2:
        arr = arr[None]
    elif chw != arr.shape:
        arr = np.moveaxis(arr, -1, 0)
    return np.ascontiguousarray(arr, dtype=np.float32)


def fits_hdu(path: Path):
    """``(hdul, hdu)``: the open FITS file and its first image HDU with a 2-D or 3-D array."""
    from astropy.io import fits

    try:
        hdul = fits.open(path, memmap=False)
    except Exception as e:  # astropy raises many types for a bad file
        raise DataError(f"{path}: cannot read FITS ({type(e).__name__}: {e})") from e
    for hdu in hdul:
        if getattr(hdu, "is_image", False) and len(hdu.shape) >= 2:
            return hdul, hdu
    hdul.close()
    raise DataError(f"{path}: no image HDU with a 2-D or 3-D array")


def load_pil(path: Path) -> np.ndarray:
    """A PNG/JPEG as float32 in [0, 1]: (H, W) for single-band images, else (3, H, W) RGB."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.asarray(im, dtype=np.float32) / 65535.0
            im = im.convert("L" if im.mode in ("L", "LA", "1") else "RGB")
            arr = np.asarray(im, dtype=np.float32) / 255.0
    except OSError as e:
        raise DataError(f"{path}: cannot read image ({e})") from e
    return arr if arr.ndim == 2 else np.moveaxis(arr, -1, 0)


def load_array(path: Path) -> np.ndarray:
    """The whole array in an image file (a stack included), as stored."""
    low = path.name.lower()
    if low.endswith(".npy"):
        return load_npy(path)
    if low.endswith(PIL_SUFFIXES):
        return load_pil(path)
    if ".fit" in low:
        hdul, hdu = fits_hdu(path)
        with hdul:
            return np.asarray(hdu.data, dtype=np.float32)
    raise DataError(f"{path}: unsupported file type (expected one of {IMAGE_SUFFIXES})")


def read_image(path: Path, index: int | None = None, arr: np.ndarray | None = None) -> np.ndarray:
    """Image ``index`` of a stack file (or the file's one image) as float32 (C, H, W). ``arr``: the
    file's array when the caller has read it already."""
    arr = load_array(path) if arr is None else arr
    if index is not None:
        if index >= len(arr):
            raise DataError(f"{where(path, index)}: stack has only {len(arr)} images")
        arr = arr[index]
    return to_chw(np.asarray(arr), where(path, index))


def stack_len(path: Path) -> int | None:
    """Number of images in a stack file, or None for a single image (read from headers only)."""
    low = path.name.lower()
    if low.endswith(".npy"):
        shape = npy_shape(path)
        if len(shape) == 4 or (len(shape) == 3 and shape[0] > 4 and shape[-1] > 4):
            return shape[0]
        return None
    if ".fit" in low:
        hdul, hdu = fits_hdu(path)
        with hdul:
            shape = hdu.shape
        return shape[0] if len(shape) == 3 and shape[0] > 4 else None
    return None


def header_shape(path: Path, index: int | None = None) -> tuple[int, int, int] | None:
    """(C, H, W) of an image from the file's header (no pixels read); None when only a full read
    can tell (a .npy holding one image, which may be an object array)."""
    low, at = path.name.lower(), where(path, index)
    if low.endswith(PIL_SUFFIXES):
        from PIL import Image

        try:
            with Image.open(path) as im:
                return (1 if im.mode in _SINGLE_BAND_MODES else 3, im.size[1], im.size[0])
        except OSError as e:
            raise DataError(f"{path}: cannot read image ({e})") from e
    if low.endswith(".npy") and index is not None:
        return chw_shape(npy_shape(path)[1:], at)
    if ".fit" in low:
        hdul, hdu = fits_hdu(path)
        with hdul:
            shape = tuple(hdu.shape)
        return chw_shape(shape[1:] if index is not None else shape, at)
    return None


def fit_shape(img: np.ndarray, target: tuple[int, int, int], at: str, resize: bool) -> np.ndarray:
    """``img`` at the dataset's ``target`` (C, H, W): resized (bilinear, antialiased) when ``resize``
    and only (H, W) differ, else a DataError naming the image."""
    if img.shape == target:
        return img
    if resize and img.shape[0] == target[0]:
        import torch
        import torch.nn.functional as F

        t = F.interpolate(
            torch.from_numpy(img)[None], size=target[1:], mode="bilinear", align_corners=False, antialias=True
        )
        return t[0].numpy()
    raise DataError(f"{at}: image shape {img.shape}, expected {target}")
