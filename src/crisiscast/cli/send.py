"""placeholder"""

from __future__ import annotations


def send() -> None:
    """Not yet."""
