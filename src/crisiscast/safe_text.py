"""Characters that must never reach a message or a screen unseen.

A message's words are read by people on terminals (the approver's preview), phones and web
pages. Some characters change what those people see without being seen themselves:

* **control characters** (Unicode category ``Cc``: C0, DEL and C1), such as ESC, which starts
  terminal sequences (``ESC[8m`` hides the text that follows, ``ESC[2J`` clears the screen);
* **bidirectional controls** (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C), which
  reorder text so a screen shows something other than what is sent;
* **invisible format characters** (category ``Cf``: zero-width space, word joiner, soft
  hyphen, byte-order mark, tag characters …), line/paragraph separators (``Zl``/``Zp``),
  lone surrogates (``Cs``) and the Hangul filler letters, which split or pad words invisibly.

``unsafe_character`` finds the first one (a newline is allowed only where ``multiline``; the
joiners U+200C/U+200D only after a non-ASCII character, as emoji sequences and some scripts
need them), and intake refuses text holding one. ``terminal_safe`` is for output: it
turns each such character into a visible escape (``\\x1b``, ``\\u202e``) before it is printed.
"""

from __future__ import annotations

import unicodedata

__all__ = ["describe", "problem", "terminal_safe", "unsafe_character"]

_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_JOINERS = frozenset("\u200c\u200d")
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _is_unsafe(text: str, i: int, *, multiline: bool) -> bool:
    ch = text[i]
    if ch.isascii() and " " <= ch <= "~":
        return False
    if ch == "\n":
        return not multiline
    if ch in _INVISIBLE_LETTERS:
        return True
    if unicodedata.category(ch) not in _UNSAFE_CATEGORIES:
        return False
    if ch in _JOINERS:  # allowed after an emoji or a letter of a script that needs them
        return i == 0 or text[i - 1].isascii()
    return True


def unsafe_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character of ``text`` that may not appear in a message field, or None."""
    for i, ch in enumerate(text):
        if _is_unsafe(text, i, multiline=multiline):
            return ch
    return None


def describe(ch: str) -> str:
    """``ch`` for a sentence: its kind and code point, e.g. ``a control character (U+001B)``."""
    code = f"U+{ord(ch):04X}"
    if ch in _BIDI:
        return f"a text-direction control ({code})"
    category = unicodedata.category(ch)
    if category == "Cc":
        return f"a control character ({code})"
    return f"an invisible character ({code})"


def problem(text: str, *, multiline: bool = False) -> str | None:
    """A sentence fragment saying what is wrong with ``text`` (None when it is safe)."""
    ch = unsafe_character(text, multiline=multiline)
    if ch is None:
        return None
    where = "; only plain text and line breaks are allowed" if multiline else "; only plain text is allowed"
    return f"it holds {describe(ch)}, which can hide or change what people see{where}"


def terminal_safe(text: str) -> str:
    """``text`` with every unsafe character (except newlines and tabs) shown as an escape."""
    if text.isascii() and text.isprintable():
        return text
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch in "\n\t" or not _is_unsafe(text, i, multiline=True):
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)
