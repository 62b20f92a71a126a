"""LensBench: versioned lensing tasks, one harness, records and leaderboards."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lensbench")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
