"""LensBench harness: specs, registries, data, trainer, metrics, records, tracking, leaderboards."""

__version__ = "0.1.0"
