"""The data layer's one error type."""

from __future__ import annotations


class DataError(ValueError):
    """Bad dataset input: the message names the file or field and what was expected."""
