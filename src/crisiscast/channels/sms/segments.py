"""SMS encoding and segment count, as Twilio's message segment calculator computes them.

Rules (GSM 03.38 and Twilio's calculator, github.com/TwilioDevEd/message-segment-calculator):

* GSM-7 when every character is in the GSM basic or extension table, else UCS-2 for the whole
  message. A grapheme cluster of two or more UTF-16 code units (an accent written as a
  combining mark, an emoji sequence) always means UCS-2.
* A segment carries 140 octets (1120 bits). A GSM-7 character takes 7 bits, an extension-table
  character (``^ { } \\ [ ~ ] | €`` and form feed) 14 bits (escape + code); a UCS-2 character takes
  16 bits per UTF-16 code unit. A concatenated message spends 6 octets per segment on the
  user data header: 160/153 GSM-7 characters, 70/67 UTF-16 code units.
* A grapheme cluster is never split across segments (so an extension character, a surrogate pair
  or a whole emoji sequence moves to the next segment whole). Clusters are drawn as the
  calculator draws them (``crisiscast.channels.sms.clusters``: Unicode 10 emoji rules), and
  ``\r\n`` counts as two characters.

``characters`` counts encoding units: GSM-7 septets (extension characters count 2) or UTF-16
code units. (The calculator's own "characters" figure counts grapheme clusters for UCS-2; the
segment count and encoding are the same.)

Smart Encoding replaces look-alike characters (curly quotes, long dashes, ellipsis, non-breaking
and other special spaces …) with GSM-7 equivalents, using the same table as Twilio's calculator
(so, like it, a non-breaking space becomes two spaces, a tab seven, zero-width characters nothing).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from crisiscast.channels.sms.clusters import sms_clusters

__all__ = ["GSM7_BASIC", "GSM7_EXTENSION", "SmsSegments", "is_gsm7", "smart_encode", "sms_segments"]

SEGMENT_BITS = 1120
"""One SMS carries 140 octets of user data."""
UDH_BITS = 48
"""The user data header a concatenated message spends in every segment (6 octets)."""

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The GSM 03.38 default alphabet (one septet each)."""

GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
"""The GSM 03.38 extension table (escape + code: two septets each)."""

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True, slots=True)
class SmsSegments:
    """How an SMS body is encoded and how many segments it costs.

    ``characters`` is in encoding units (GSM-7 septets or UTF-16 code units);
    ``non_gsm_characters`` lists, in order and without repeats, the characters that force UCS-2.
    """

    encoding: Encoding
    segments: int
    characters: int
    non_gsm_characters: tuple[str, ...] = ()


_SMART_GROUPS: tuple[tuple[str, str], ...] = (
    ("", "\u0010\u0000\u0003\u0004\u0017\u0019\u0011\u0012\u0013\u0014\u2060\u200b\ufeff"),
    (" ", "\u2028\u2029\u2001"),
    ("!", "\u01c3\ufe15\ufe57\uff01"),
    ('"', "\u00ab\u00bb\u201c\u201d\u02ba\u02ee\u201f\u201e\u275d\u275e\u301d\u301e\uff02"),
    ("#", "\ufe5f\uff03"),
    ("$", "\ufe69\uff04"),
    ("%", "\ufe6a\uff05"),
    ("&", "\ufe60\uff06"),
    (
        "'",
        "\u2018\u2019\u02bb\u02c8\u02bc\u02bd\u02b9\u201b\uff07\u00b4\u02ca\u0060\u02cb\u275b\u275c\u0313\u0314\ufe10\ufe11",
    ),
    ("(", "\u2768\u276a\ufe59\uff08\u27ee\u2985"),
    (")", "\u2769\u276b\ufe5a\uff09\u27ef\u2986"),
    (
        "*",
        "\u204e\u2217\u229b\u2722\u2723\u2724\u2725\u2731\u2732\u2733\u273a\u273b\u273c\u273d\u2743\u2749\u274a\u274b\u29c6\ufe61\uff0a",
    ),
    ("+", "\u02d6\ufe62\uff0b"),
    (",", "\u201a\u0326\ufe50\ufe51\uff0c\uff64\u3001"),
    ("-", "\u23bc\u23bd\u2015\ufe63\uff0d\u2010\u2043\u2014\u2013\u2022"),
    (".", "\u3002\ufe52\uff0e\uff61"),
    ("/", "\u00f7\u29f8\u0337\u0338\u2044\u2215\uff0f"),
    ("0", "\uff10"),
    ("1", "\uff11"),
    ("2", "\uff12"),
    ("3", "\uff13"),
    ("4", "\uff14"),
    ("5", "\uff15"),
    ("6", "\uff16"),
    ("7", "\uff17"),
    ("8", "\uff18"),
    ("9", "\uff19"),
    (":", "\u02d0\u02f8\u2982\ua789\ufe13\uff1a"),
    (";", "\u204f\ufe14\ufe54\uff1b"),
    ("<", "\ufe64\uff1c\u203a"),
    ("=", "\u0347\ua78a\ufe66\uff1d"),
    (">", "\ufe65\uff1e\u2039"),
    ("?", "\ufe16\ufe56\uff1f"),
    ("@", "\ufe6b\uff20"),
    ("A", "\uff21\u1d00"),
    ("B", "\uff22\u0299"),
    ("C", "\uff23\u1d04"),
    ("D", "\uff24\u1d05"),
    ("E", "\uff25\u1d07"),
    ("F", "\uff26\ua730"),
    ("G", "\uff27\u0262"),
    ("H", "\uff28\u029c"),
    ("I", "\uff29\u026a"),
    ("J", "\uff2a\u1d0a"),
    ("K", "\uff2b\u1d0b"),
    ("L", "\uff2c\u029f"),
    ("M", "\uff2d\u1d0d"),
    ("N", "\uff2e\u0274"),
    ("O", "\uff2f\u1d0f"),
    ("P", "\uff30\u1d18"),
    ("Q", "\uff31"),
    ("R", "\uff32\u0280"),
    ("S", "\uff33\ua731"),
    ("T", "\uff34\u1d1b"),
    ("U", "\uff35\u1d1c"),
    ("V", "\uff36\u1d20"),
    ("W", "\uff37\u1d21"),
    ("X", "\uff38"),
    ("Y", "\uff39\u028f"),
    ("Z", "\uff3a\u1d22"),
    ("[", "\uff3b"),
    ("\\", "\u29f9\u29f5\u20e5\ufe68\uff3c"),
    ("]", "\uff3d"),
    ("^", "\u02c6\u0302\uff3e\u1dcd"),
    ("_", "\u0332\uff3f\u2017"),
    ("{", "\u2774\ufe5b\uff5b"),
    ("|", "\u20d2\u20d3\u2223\uff5c\u23b8\u23b9\u23d0\u239c\u239f"),
    ("}", "\u2775\ufe5c\uff5d"),
    ("~", "\u02dc\u02f7\u0303\u0330\u0334\u223c\uff5e"),
    (
        "  ",
        "\u00a0\u2000\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\u008d\u009f\u0080\u0090\u009b",
    ),
    ("!!", "\u203c"),
    ("...", "\u2026"),
    ("1/2", "\u00bd"),
    ("1/4", "\u00bc"),
    ("3/4", "\u00be"),
    ("       ", "\u0009"),
)

SMART_ENCODING: dict[str, str] = {source: target for target, sources in _SMART_GROUPS for source in sources}
"""Character -> GSM-7 replacement applied by Smart Encoding (Twilio's table)."""


def smart_encode(text: str) -> str:
    """``text`` with every Smart Encoding look-alike replaced by its GSM-7 equivalent."""
    if not any(ch in SMART_ENCODING for ch in text):
        return text
    return "".join(SMART_ENCODING.get(ch, ch) for ch in text)


def is_gsm7(text: str) -> bool:
    """True when ``text`` can be sent in GSM-7 (every character in the basic or extension table)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _clusters(text: str) -> list[str]:
    out: list[str] = []
    for cluster in sms_clusters(text):
        # The calculator counts a CRLF pair as two characters.
        out.extend(("\r", "\n") if cluster == "\r\n" else (cluster,))
    return out


def _utf16_units(cluster: str) -> int:
    return len(cluster.encode("utf-16-le")) // 2


def _single_gsm(cluster: str) -> bool:
    return len(cluster) == 1 and (cluster in GSM7_BASIC or cluster in GSM7_EXTENSION)


def sms_segments(text: str, *, smart_encoding: bool = False) -> SmsSegments:
    """The encoding, segment count and length of ``text`` sent as one SMS.

    With ``smart_encoding`` the Smart Encoding replacements are applied first (as Twilio does
    when Smart Encoding is on). An empty text is one (empty) segment, as Twilio counts it.
    Remembered per text (a pure function): the preview and the plan of one alert, and every
    alert from the same template, measure the same bodies again.
    """
    return _sms_segments(text, smart_encoding)


@functools.lru_cache(maxsize=4096)
def _sms_segments(text: str, smart_encoding: bool) -> SmsSegments:
    if smart_encoding:
        text = smart_encode(text)
    clusters = _clusters(text)
    ucs2 = any(_utf16_units(c) >= 2 or not _single_gsm(c) for c in clusters)
    sizes_bits: list[int] = []
    for cluster in clusters:
        if ucs2:
            sizes_bits.append(16 * _utf16_units(cluster))
        else:
            sizes_bits.append(14 if cluster in GSM7_EXTENSION else 7)
    if ucs2:
        characters = sum(_utf16_units(c) for c in clusters)
        non_gsm = tuple(dict.fromkeys(c for c in clusters if not _single_gsm(c)))
        return SmsSegments("UCS-2", _count_segments(sizes_bits), characters, non_gsm)
    return SmsSegments("GSM-7", _count_segments(sizes_bits), sum(sizes_bits) // 7)


def _count_segments(sizes_bits: list[int]) -> int:
    """Pack characters into segments exactly as the calculator does.

    The first segment starts without a header; when a second one is needed the first gets its
    header too and hands over the characters that no longer fit, in order.
    """
    segments: list[list[int]] = [[]]
    used_bits = [0]
    for size in sizes_bits:
        if SEGMENT_BITS - used_bits[-1] < size:
            if len(segments) == 1:
                first, moved = segments[0], list[int]()
                used_bits[0] += UDH_BITS
                while used_bits[0] > SEGMENT_BITS and first:
                    item = first.pop()
                    moved.insert(0, item)
                    used_bits[0] -= item
                segments.append(moved)
                used_bits.append(UDH_BITS + sum(moved))
            else:
                segments.append([])
                used_bits.append(UDH_BITS)
        segments[-1].append(size)
        used_bits[-1] += size
    return len(segments)
