"""placeholder"""

from __future__ import annotations


def demo() -> None:
    """Not yet."""
