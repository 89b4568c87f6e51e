"""A rich console that never lets a text's own control characters reach the terminal.

Text printed by crisiscast (a message's words in a preview, an audit record, a provider's
error) may hold characters that drive the terminal: ``ESC[8m`` would hide the words after it,
``ESC[2J`` clear the approver's screen, a direction override reorder a line. Every segment of
text this console renders goes through ``crisiscast.safe_text.terminal_safe`` first, so such
characters are shown as visible escapes (``\\x1b[8m``); the console's own colours and cursor
controls are not text and are unaffected.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

from crisiscast.safe_text import terminal_safe

__all__ = ["SafeConsole", "safe_console"]


class SafeConsole(Console):
    """``rich.console.Console`` whose rendered text is passed through ``terminal_safe``."""

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control or not segment.text:
                yield segment
            else:
                yield Segment(terminal_safe(segment.text), segment.style, segment.control)


def safe_console(**kwargs: Any) -> SafeConsole:
    """A ``SafeConsole`` made with ``kwargs``."""
    return SafeConsole(**kwargs)
