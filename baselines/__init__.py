"""LensBench baselines (registered through entry points)."""
