"""Grapheme clusters as Twilio's segment calculator sees them (UAX #29, Unicode 10 emoji rules).

The calculator keeps a grapheme cluster whole in one segment, so where it draws cluster
boundaries changes segment counts. It splits with the Unicode 10 rules (the ``grapheme-splitter``
library): an emoji modifier joins only an ``E_Base`` emoji, and a zero-width joiner joins only
a ``Glue_After_Zwj`` emoji or one of boy/girl/man/woman. Newer sequences (e.g. ``🐈‍⬛``,
``❤️‍🔥``, ``👩🏽‍🦰``) are therefore several clusters to it, while the current Unicode rules
(``crisiscast.text.split.graphemes``) keep them whole.

This module reproduces those rules. The non-emoji break properties come from the ``grapheme``
package (Unicode 13, the same for every character the older tables knew); the emoji
properties are Unicode 10's, listed below.
"""

from __future__ import annotations

from enum import IntEnum

from grapheme.grapheme_property_group import GraphemePropertyGroup as _G
from grapheme.grapheme_property_group import get_group_ord

__all__ = ["sms_clusters"]


class _P(IntEnum):
    CR = 0
    LF = 1
    CONTROL = 2
    EXTEND = 3
    REGIONAL_INDICATOR = 4
    SPACING_MARK = 5
    L = 6
    V = 7
    T = 8
    LV = 9
    LVT = 10
    OTHER = 11
    PREPEND = 12
    E_BASE = 13
    E_MODIFIER = 14
    ZWJ = 15
    GLUE_AFTER_ZWJ = 16
    E_BASE_GAZ = 17


_FROM_UNICODE_13 = {
    _G.PREPEND: _P.PREPEND,
    _G.CR: _P.CR,
    _G.LF: _P.LF,
    _G.CONTROL: _P.CONTROL,
    _G.EXTEND: _P.EXTEND,
    _G.REGIONAL_INDICATOR: _P.REGIONAL_INDICATOR,
    _G.SPACING_MARK: _P.SPACING_MARK,
    _G.L: _P.L,
    _G.V: _P.V,
    _G.T: _P.T,
    _G.LV: _P.LV,
    _G.LVT: _P.LVT,
    _G.ZWJ: _P.ZWJ,
    _G.EXTENDED_PICTOGRAPHIC: _P.OTHER,
    _G.OTHER: _P.OTHER,
}

# Unicode 10.0 Grapheme_Cluster_Break emoji values (GraphemeBreakProperty.txt, emoji-data.txt).
_E_BASE_RANGES = (
    (0x261D, 0x261D), (0x26F9, 0x26F9), (0x270A, 0x270D), (0x1F385, 0x1F385), (0x1F3C2, 0x1F3C4),
    (0x1F3C7, 0x1F3C7), (0x1F3CA, 0x1F3CC), (0x1F442, 0x1F443), (0x1F446, 0x1F450), (0x1F46E, 0x1F46E),
    (0x1F470, 0x1F478), (0x1F47C, 0x1F47C), (0x1F481, 0x1F483), (0x1F485, 0x1F487), (0x1F4AA, 0x1F4AA),
    (0x1F574, 0x1F575), (0x1F57A, 0x1F57A), (0x1F590, 0x1F590), (0x1F595, 0x1F596), (0x1F645, 0x1F647),
    (0x1F64B, 0x1F64F), (0x1F6A3, 0x1F6A3), (0x1F6B4, 0x1F6B6), (0x1F6C0, 0x1F6C0), (0x1F6CC, 0x1F6CC),
    (0x1F918, 0x1F91C), (0x1F91E, 0x1F91F), (0x1F926, 0x1F926), (0x1F930, 0x1F939), (0x1F93D, 0x1F93E),
    (0x1F9D1, 0x1F9DD),
)  # fmt: skip
_E_MODIFIER_RANGES = ((0x1F3FB, 0x1F3FF),)
_GLUE_AFTER_ZWJ = frozenset(
    {0x2640, 0x2642, 0x2695, 0x2696, 0x2708, 0x2764, 0x1F308, 0x1F33E, 0x1F373, 0x1F393, 0x1F3A4, 0x1F3A8,
     0x1F3EB, 0x1F3ED, 0x1F48B, 0x1F4BB, 0x1F4BC, 0x1F527, 0x1F52C, 0x1F5E8, 0x1F680, 0x1F692}
)  # fmt: skip
_E_BASE_GAZ_RANGES = ((0x1F466, 0x1F469),)


def _in(ranges: tuple[tuple[int, int], ...], code: int) -> bool:
    return any(lo <= code <= hi for lo, hi in ranges)


def _property(code: int) -> _P:
    if code >= 0x1F000 or 0x2600 <= code <= 0x27FF:
        if _in(_E_BASE_RANGES, code):
            return _P.E_BASE
        if _in(_E_MODIFIER_RANGES, code):
            return _P.E_MODIFIER
        if code in _GLUE_AFTER_ZWJ:
            return _P.GLUE_AFTER_ZWJ
        if _in(_E_BASE_GAZ_RANGES, code):
            return _P.E_BASE_GAZ
    return _FROM_UNICODE_13[get_group_ord(code)]


_BREAK_BEFORE_SOMETHING = (_P.CONTROL, _P.CR, _P.LF)


def _breaks(start: _P, mid: list[_P], end: _P) -> bool:
    """Whether a cluster that began with ``start`` and continued with ``mid`` ends before ``end``."""
    every = [start, *mid, end]
    previous = every[-2]
    if _P.E_MODIFIER in every:
        index = len(every) - 1 - every[::-1].index(_P.E_MODIFIER)
        if (
            index > 1
            and all(p is _P.EXTEND for p in every[1:index])
            and start not in (_P.EXTEND, _P.E_BASE, _P.E_BASE_GAZ)
        ):
            return True
    if _P.REGIONAL_INDICATOR in every:
        index = len(every) - 1 - every[::-1].index(_P.REGIONAL_INDICATOR)
        if (
            index > 0
            and all(p is _P.REGIONAL_INDICATOR for p in every[1:index])
            and previous not in (_P.PREPEND, _P.REGIONAL_INDICATOR)
        ):
            return True
    if previous is _P.CR and end is _P.LF:
        return False
    if previous in _BREAK_BEFORE_SOMETHING or end in _BREAK_BEFORE_SOMETHING:
        return True
    if previous is _P.L and end in (_P.L, _P.V, _P.LV, _P.LVT):
        return False
    if previous in (_P.LV, _P.V) and end in (_P.V, _P.T):
        return False
    if previous in (_P.LVT, _P.T) and end is _P.T:
        return False
    if end in (_P.EXTEND, _P.ZWJ, _P.SPACING_MARK) or previous is _P.PREPEND:
        return False
    if _P.EXTEND in every:
        before_extend = len(every) - 1 - every[::-1].index(_P.EXTEND) - 1
    else:
        before_extend = len(every) - 2
    if (
        every[before_extend] in (_P.E_BASE, _P.E_BASE_GAZ)
        and all(p is _P.EXTEND for p in every[before_extend + 1 : -1])
        and end is _P.E_MODIFIER
    ):
        return False
    if previous is _P.ZWJ and end in (_P.GLUE_AFTER_ZWJ, _P.E_BASE_GAZ):
        return False
    if _P.REGIONAL_INDICATOR in mid:
        return True
    return not (previous is _P.REGIONAL_INDICATOR and end is _P.REGIONAL_INDICATOR)


def sms_clusters(text: str) -> list[str]:
    """``text`` cut into the clusters Twilio's calculator packs whole into segments."""
    clusters: list[str] = []
    if not text:
        return clusters
    start_index = 0
    start = _property(ord(text[0]))
    mid: list[_P] = []
    for index in range(1, len(text)):
        end = _property(ord(text[index]))
        if _breaks(start, mid, end):
            clusters.append(text[start_index:index])
            start_index, start, mid = index, end, []
        else:
            mid.append(end)
    clusters.append(text[start_index:])
    return clusters
