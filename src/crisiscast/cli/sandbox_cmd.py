"""placeholder"""

from __future__ import annotations


def sandbox() -> None:
    """Not yet."""
