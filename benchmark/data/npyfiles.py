"""NumPy ``.npy`` files without running code: header-only shapes, and object arrays through a
restricted unpickler.

A ``.npy`` of dtype ``object`` stores a pickle, and ``numpy.load(allow_pickle=True)`` runs whatever
that pickle calls. The official DeepLense axion files are such object arrays (``[image, m_a]``), so
they are read here with ``SafeUnpickler``, which resolves only the globals NumPy needs to rebuild
arrays of numbers (``_reconstruct``, ``ndarray``, ``dtype``, ``scalar``, under ``numpy.core`` and
``numpy._core``) and refuses any other with a ``DataError`` naming the file. Arrays of plain dtypes
are read without pickle.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from lensbench.data.errors import DataError

ALLOWED_GLOBALS = frozenset(
    {("numpy", "ndarray"), ("numpy", "dtype")}
    | {(f"{m}.multiarray", n) for m in ("numpy.core", "numpy._core") for n in ("_reconstruct", "scalar")}
)


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that can build NumPy arrays and scalars and nothing else."""

    def __init__(self, file, where: str):
        super().__init__(file, encoding="ASCII")
        self.where = where

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise DataError(
                f"{self.where}: refused to load: its pickle asks for {module}.{name}; only NumPy arrays of "
                "numbers are read from object .npy files (this file may be crafted to run code)"
            )
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise DataError(f"{self.where}: refused to load: its pickle uses persistent ids")


def _header(fh, path: Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(fh)
    except ValueError as e:
        raise DataError(f"{path}: cannot read .npy (not a NumPy .npy file: {e})") from e
    fmt = np.lib.format
    read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
    if read is None:
        raise DataError(f"{path}: cannot read .npy (format version {version}, expected 1.0 or 2.0)")
    try:
        shape, fortran, dtype = read(fh)
    except ValueError as e:
        raise DataError(f"{path}: cannot read .npy header ({e})") from e
    return tuple(shape), bool(fortran), dtype


def npy_shape(path: Path) -> tuple[int, ...]:
    """The array shape in a ``.npy`` header (nothing else is read)."""
    try:
        with open(path, "rb") as fh:
            return _header(fh, path)[0]
    except OSError as e:
        raise DataError(f"{path}: cannot read .npy ({e})") from e


def load_npy(path: Path, object_arrays: bool = False) -> np.ndarray:
    """The array in ``path``. An object array is read only with ``object_arrays`` (through
    ``SafeUnpickler``); ``DataError`` naming the file for anything unreadable or refused."""
    try:
        with open(path, "rb") as fh:
            shape, _, dtype = _header(fh, path)
            if not dtype.hasobject:
                try:
                    fh.seek(0)
                    return np.lib.format.read_array(fh, allow_pickle=False)
                except Exception as e:  # truncated data, bad dtype...: name the file
                    raise DataError(f"{path}: cannot read .npy ({type(e).__name__}: {e})") from e
            if not object_arrays:
                raise DataError(
                    f"{path}: cannot read .npy (it holds Python objects, which would need allow_pickle; only "
                    "formats that expect object arrays, like deeplense, read them)"
                )
            try:
                arr = SafeUnpickler(fh, str(path)).load()
            except DataError:
                raise
            except Exception as e:  # any broken pickle: name the file
                raise DataError(f"{path}: cannot read pickled .npy ({type(e).__name__}: {e})") from e
    except OSError as e:
        raise DataError(f"{path}: cannot read .npy ({e})") from e
    if type(arr) is not np.ndarray or arr.shape != shape:
        got = getattr(arr, "shape", type(arr).__name__)
        raise DataError(f"{path}: pickled .npy holds {got}, expected an array of shape {shape}")
    return arr
