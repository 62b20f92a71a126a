"""LensBench tasks (registered through entry points)."""
