"""SMS encoding and segments: agreement with Twilio's message segment calculator.

The corpus rows were produced by running the calculator itself (``tests/data/make_sms_corpus.py``)
on each text, with and without Smart Encoding: ``(id, text, smart, encoding, segments,
characters)``. ``characters`` is crisiscast's figure: GSM-7 septets (extension characters count
2) or UTF-16 code units.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisiscast.channels.sms.clusters import sms_clusters
from crisiscast.channels.sms.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SMART_ENCODING,
    SmsSegments,
    is_gsm7,
    smart_encode,
    sms_segments,
)
from crisiscast.text.split import graphemes

CORPUS: list[tuple[str, str, bool, str, int, int]] = [
    ("empty", "", False, "GSM-7", 1, 0),
    ("empty", "", True, "GSM-7", 1, 0),
    ("latin", "Fire alarm in Building B. Evacuate via the east stairs now.", False, "GSM-7", 1, 59),
    ("latin", "Fire alarm in Building B. Evacuate via the east stairs now.", True, "GSM-7", 1, 59),
    ("latin-crlf", "Code red\r\nLevel 2\r\nAvoid the lifts", False, "GSM-7", 1, 34),
    ("latin-crlf", "Code red\r\nLevel 2\r\nAvoid the lifts", True, "GSM-7", 1, 34),
    ("spanish-mixed", "Niño, ¿dónde está? ¡Atención! Señor Muñoz, salga ya.", False, "UCS-2", 1, 52),
    ("spanish-mixed", "Niño, ¿dónde está? ¡Atención! Señor Muñoz, salga ya.", True, "UCS-2", 1, 52),
    (
        "spanish-gsm-only",
        "¡Señor Muñoz! ¿Qué pasa? Niños y niñas: salgan ya por la puerta Ñ.",
        False,
        "GSM-7",
        1,
        66,
    ),
    (
        "spanish-gsm-only",
        "¡Señor Muñoz! ¿Qué pasa? Niños y niñas: salgan ya por la puerta Ñ.",
        True,
        "GSM-7",
        1,
        66,
    ),
    (
        "spanish-accented",
        "Evacúe el edificio. Diríjase a la salida más cercana y no use el ascensor.",
        False,
        "UCS-2",
        2,
        74,
    ),
    (
        "spanish-accented",
        "Evacúe el edificio. Diríjase a la salida más cercana y no use el ascensor.",
        True,
        "UCS-2",
        2,
        74,
    ),
    (
        "spanish-accented-long",
        "Incendio en el edificio B. Evacúe por las escaleras del este. " * 4,
        False,
        "UCS-2",
        4,
        248,
    ),
    (
        "spanish-accented-long",
        "Incendio en el edificio B. Evacúe por las escaleras del este. " * 4,
        True,
        "UCS-2",
        4,
        248,
    ),
    ("extension-chars", "Cost €5 [room 3] {a|b} ~ ^ \\ end", False, "GSM-7", 1, 41),
    ("extension-chars", "Cost €5 [room 3] {a|b} ~ ^ \\ end", True, "GSM-7", 1, 41),
    ("extension-only-80", "€" * 80, False, "GSM-7", 1, 160),
    ("extension-only-80", "€" * 80, True, "GSM-7", 1, 160),
    ("extension-only-81", "€" * 81, False, "GSM-7", 2, 162),
    ("extension-only-81", "€" * 81, True, "GSM-7", 2, 162),
    ("chinese", "火警：请立即从东侧楼梯疏散，不要使用电梯。", False, "UCS-2", 1, 21),
    ("chinese", "火警：请立即从东侧楼梯疏散，不要使用电梯。", True, "UCS-2", 1, 21),
    ("chinese-70", "医" * 70, False, "UCS-2", 1, 70),
    ("chinese-70", "医" * 70, True, "UCS-2", 1, 70),
    ("chinese-71", "医" * 71, False, "UCS-2", 2, 71),
    ("chinese-71", "医" * 71, True, "UCS-2", 2, 71),
    ("arabic", "حريق في المبنى ب. يرجى الإخلاء فوراً عبر الدرج الشرقي.", False, "UCS-2", 1, 54),
    ("arabic", "حريق في المبنى ب. يرجى الإخلاء فوراً عبر الدرج الشرقي.", True, "UCS-2", 1, 54),
    ("arabic-long", "حريق في المبنى ب. يرجى الإخلاء فوراً عبر الدرج الشرقي. " * 3, False, "UCS-2", 3, 165),
    ("arabic-long", "حريق في المبنى ب. يرجى الإخلاء فوراً عبر الدرج الشرقي. " * 3, True, "UCS-2", 3, 165),
    ("emoji-simple", "Alert 🚨 evacuate now", False, "UCS-2", 1, 21),
    ("emoji-simple", "Alert 🚨 evacuate now", True, "UCS-2", 1, 21),
    ("emoji-skin-tone", "Well done 👍🏽 team", False, "UCS-2", 1, 19),
    ("emoji-skin-tone", "Well done 👍🏽 team", True, "UCS-2", 1, 19),
    ("emoji-zwj-family", "Family room 👨‍👩‍👧‍👦 closed", False, "UCS-2", 1, 30),
    ("emoji-zwj-family", "Family room 👨‍👩‍👧‍👦 closed", True, "UCS-2", 1, 30),
    ("emoji-zwj-health-worker", "👩‍⚕️ needed in ER", False, "UCS-2", 1, 18),
    ("emoji-zwj-health-worker", "👩‍⚕️ needed in ER", True, "UCS-2", 1, 18),
    ("emoji-zwj-newer", "🐈‍⬛ ❤️‍🔥 👩🏽‍🦰 🧑‍🤝‍🧑 😮‍💨", False, "UCS-2", 1, 33),
    ("emoji-zwj-newer", "🐈‍⬛ ❤️‍🔥 👩🏽‍🦰 🧑‍🤝‍🧑 😮‍💨", True, "UCS-2", 1, 33),
    ("emoji-flags", "🇺🇸🇪🇸🇲🇽", False, "UCS-2", 1, 12),
    ("emoji-flags", "🇺🇸🇪🇸🇲🇽", True, "UCS-2", 1, 12),
    ("combining-accent", "Cafe\u0301 closed", False, "UCS-2", 1, 12),
    ("combining-accent", "Cafe\u0301 closed", True, "UCS-2", 1, 12),
    ("smart-quotes", "Don’t use the “east” lifts — use stairs…", False, "UCS-2", 1, 40),
    ("smart-quotes", "Don’t use the “east” lifts — use stairs…", True, "GSM-7", 1, 42),
    ("smart-nbsp-tab", "Level\u00a02\tnow", False, "UCS-2", 1, 11),
    ("smart-nbsp-tab", "Level\u00a02\tnow", True, "GSM-7", 1, 18),
    ("smart-only-mapped-ucs2", "“Evacuate” now — ✱", False, "UCS-2", 1, 18),
    ("smart-only-mapped-ucs2", "“Evacuate” now — ✱", True, "GSM-7", 1, 18),
    ("gsm-152", "a" * 152, False, "GSM-7", 1, 152),
    ("gsm-152", "a" * 152, True, "GSM-7", 1, 152),
    ("gsm-153", "a" * 153, False, "GSM-7", 1, 153),
    ("gsm-153", "a" * 153, True, "GSM-7", 1, 153),
    ("gsm-154", "a" * 154, False, "GSM-7", 1, 154),
    ("gsm-154", "a" * 154, True, "GSM-7", 1, 154),
    ("gsm-159", "a" * 159, False, "GSM-7", 1, 159),
    ("gsm-159", "a" * 159, True, "GSM-7", 1, 159),
    ("gsm-160", "a" * 160, False, "GSM-7", 1, 160),
    ("gsm-160", "a" * 160, True, "GSM-7", 1, 160),
    ("gsm-161", "a" * 161, False, "GSM-7", 2, 161),
    ("gsm-161", "a" * 161, True, "GSM-7", 2, 161),
    ("gsm-305", "a" * 305, False, "GSM-7", 2, 305),
    ("gsm-305", "a" * 305, True, "GSM-7", 2, 305),
    ("gsm-306", "a" * 306, False, "GSM-7", 2, 306),
    ("gsm-306", "a" * 306, True, "GSM-7", 2, 306),
    ("gsm-307", "a" * 307, False, "GSM-7", 3, 307),
    ("gsm-307", "a" * 307, True, "GSM-7", 3, 307),
    ("gsm-318", "a" * 318, False, "GSM-7", 3, 318),
    ("gsm-318", "a" * 318, True, "GSM-7", 3, 318),
    ("gsm-319", "a" * 319, False, "GSM-7", 3, 319),
    ("gsm-319", "a" * 319, True, "GSM-7", 3, 319),
    ("gsm-320", "a" * 320, False, "GSM-7", 3, 320),
    ("gsm-320", "a" * 320, True, "GSM-7", 3, 320),
    ("gsm-321", "a" * 321, False, "GSM-7", 3, 321),
    ("gsm-321", "a" * 321, True, "GSM-7", 3, 321),
    ("gsm-322", "a" * 322, False, "GSM-7", 3, 322),
    ("gsm-322", "a" * 322, True, "GSM-7", 3, 322),
    ("gsm-458", "a" * 458, False, "GSM-7", 3, 458),
    ("gsm-458", "a" * 458, True, "GSM-7", 3, 458),
    ("gsm-459", "a" * 459, False, "GSM-7", 3, 459),
    ("gsm-459", "a" * 459, True, "GSM-7", 3, 459),
    ("gsm-460", "a" * 460, False, "GSM-7", 4, 460),
    ("gsm-460", "a" * 460, True, "GSM-7", 4, 460),
    ("gsm-477", "a" * 477, False, "GSM-7", 4, 477),
    ("gsm-477", "a" * 477, True, "GSM-7", 4, 477),
    ("gsm-478", "a" * 478, False, "GSM-7", 4, 478),
    ("gsm-478", "a" * 478, True, "GSM-7", 4, 478),
    ("gsm-479", "a" * 479, False, "GSM-7", 4, 479),
    ("gsm-479", "a" * 479, True, "GSM-7", 4, 479),
    ("gsm-480", "a" * 480, False, "GSM-7", 4, 480),
    ("gsm-480", "a" * 480, True, "GSM-7", 4, 480),
    ("gsm-481", "a" * 481, False, "GSM-7", 4, 481),
    ("gsm-481", "a" * 481, True, "GSM-7", 4, 481),
    ("gsm-151-then-euro", "a" * 151 + "€", False, "GSM-7", 1, 153),
    ("gsm-151-then-euro", "a" * 151 + "€", True, "GSM-7", 1, 153),
    ("gsm-152-then-euro", "a" * 152 + "€", False, "GSM-7", 1, 154),
    ("gsm-152-then-euro", "a" * 152 + "€", True, "GSM-7", 1, 154),
    ("gsm-153-then-euro", "a" * 153 + "€", False, "GSM-7", 1, 155),
    ("gsm-153-then-euro", "a" * 153 + "€", True, "GSM-7", 1, 155),
    ("gsm-158-then-euro", "a" * 158 + "€", False, "GSM-7", 1, 160),
    ("gsm-158-then-euro", "a" * 158 + "€", True, "GSM-7", 1, 160),
    ("gsm-159-then-euro", "a" * 159 + "€", False, "GSM-7", 2, 161),
    ("gsm-159-then-euro", "a" * 159 + "€", True, "GSM-7", 2, 161),
    ("gsm-160-then-euro", "a" * 160 + "€", False, "GSM-7", 2, 162),
    ("gsm-160-then-euro", "a" * 160 + "€", True, "GSM-7", 2, 162),
    ("gsm-305-then-euro", "a" * 305 + "€", False, "GSM-7", 3, 307),
    ("gsm-305-then-euro", "a" * 305 + "€", True, "GSM-7", 3, 307),
    ("gsm-306-then-euro", "a" * 306 + "€", False, "GSM-7", 3, 308),
    ("gsm-306-then-euro", "a" * 306 + "€", True, "GSM-7", 3, 308),
    ("ucs2-66", "ç" * 66, False, "UCS-2", 1, 66),
    ("ucs2-66", "ç" * 66, True, "UCS-2", 1, 66),
    ("ucs2-67", "ç" * 67, False, "UCS-2", 1, 67),
    ("ucs2-67", "ç" * 67, True, "UCS-2", 1, 67),
    ("ucs2-68", "ç" * 68, False, "UCS-2", 1, 68),
    ("ucs2-68", "ç" * 68, True, "UCS-2", 1, 68),
    ("ucs2-69", "ç" * 69, False, "UCS-2", 1, 69),
    ("ucs2-69", "ç" * 69, True, "UCS-2", 1, 69),
    ("ucs2-70", "ç" * 70, False, "UCS-2", 1, 70),
    ("ucs2-70", "ç" * 70, True, "UCS-2", 1, 70),
    ("ucs2-71", "ç" * 71, False, "UCS-2", 2, 71),
    ("ucs2-71", "ç" * 71, True, "UCS-2", 2, 71),
    ("ucs2-132", "ç" * 132, False, "UCS-2", 2, 132),
    ("ucs2-132", "ç" * 132, True, "UCS-2", 2, 132),
    ("ucs2-133", "ç" * 133, False, "UCS-2", 2, 133),
    ("ucs2-133", "ç" * 133, True, "UCS-2", 2, 133),
    ("ucs2-134", "ç" * 134, False, "UCS-2", 2, 134),
    ("ucs2-134", "ç" * 134, True, "UCS-2", 2, 134),
    ("ucs2-135", "ç" * 135, False, "UCS-2", 3, 135),
    ("ucs2-135", "ç" * 135, True, "UCS-2", 3, 135),
    ("ucs2-136", "ç" * 136, False, "UCS-2", 3, 136),
    ("ucs2-136", "ç" * 136, True, "UCS-2", 3, 136),
    ("ucs2-138", "ç" * 138, False, "UCS-2", 3, 138),
    ("ucs2-138", "ç" * 138, True, "UCS-2", 3, 138),
    ("ucs2-139", "ç" * 139, False, "UCS-2", 3, 139),
    ("ucs2-139", "ç" * 139, True, "UCS-2", 3, 139),
    ("ucs2-140", "ç" * 140, False, "UCS-2", 3, 140),
    ("ucs2-140", "ç" * 140, True, "UCS-2", 3, 140),
    ("ucs2-141", "ç" * 141, False, "UCS-2", 3, 141),
    ("ucs2-141", "ç" * 141, True, "UCS-2", 3, 141),
    ("ucs2-142", "ç" * 142, False, "UCS-2", 3, 142),
    ("ucs2-142", "ç" * 142, True, "UCS-2", 3, 142),
    ("ucs2-200", "ç" * 200, False, "UCS-2", 3, 200),
    ("ucs2-200", "ç" * 200, True, "UCS-2", 3, 200),
    ("ucs2-201", "ç" * 201, False, "UCS-2", 3, 201),
    ("ucs2-201", "ç" * 201, True, "UCS-2", 3, 201),
    ("ucs2-202", "ç" * 202, False, "UCS-2", 4, 202),
    ("ucs2-202", "ç" * 202, True, "UCS-2", 4, 202),
    ("ucs2-207", "ç" * 207, False, "UCS-2", 4, 207),
    ("ucs2-207", "ç" * 207, True, "UCS-2", 4, 207),
    ("ucs2-208", "ç" * 208, False, "UCS-2", 4, 208),
    ("ucs2-208", "ç" * 208, True, "UCS-2", 4, 208),
    ("ucs2-209", "ç" * 209, False, "UCS-2", 4, 209),
    ("ucs2-209", "ç" * 209, True, "UCS-2", 4, 209),
    ("ucs2-210", "ç" * 210, False, "UCS-2", 4, 210),
    ("ucs2-210", "ç" * 210, True, "UCS-2", 4, 210),
    ("ucs2-211", "ç" * 211, False, "UCS-2", 4, 211),
    ("ucs2-211", "ç" * 211, True, "UCS-2", 4, 211),
    ("ucs2-65-then-emoji", "ç" * 65 + "😀", False, "UCS-2", 1, 67),
    ("ucs2-65-then-emoji", "ç" * 65 + "😀", True, "UCS-2", 1, 67),
    ("ucs2-66-then-emoji", "ç" * 66 + "😀", False, "UCS-2", 1, 68),
    ("ucs2-66-then-emoji", "ç" * 66 + "😀", True, "UCS-2", 1, 68),
    ("ucs2-67-then-emoji", "ç" * 67 + "😀", False, "UCS-2", 1, 69),
    ("ucs2-67-then-emoji", "ç" * 67 + "😀", True, "UCS-2", 1, 69),
    ("ucs2-68-then-emoji", "ç" * 68 + "😀", False, "UCS-2", 1, 70),
    ("ucs2-68-then-emoji", "ç" * 68 + "😀", True, "UCS-2", 1, 70),
    ("ucs2-69-then-emoji", "ç" * 69 + "😀", False, "UCS-2", 2, 71),
    ("ucs2-69-then-emoji", "ç" * 69 + "😀", True, "UCS-2", 2, 71),
    ("ucs2-70-then-emoji", "ç" * 70 + "😀", False, "UCS-2", 2, 72),
    ("ucs2-70-then-emoji", "ç" * 70 + "😀", True, "UCS-2", 2, 72),
    ("ucs2-132-then-emoji", "ç" * 132 + "😀", False, "UCS-2", 2, 134),
    ("ucs2-132-then-emoji", "ç" * 132 + "😀", True, "UCS-2", 2, 134),
    ("ucs2-133-then-emoji", "ç" * 133 + "😀", False, "UCS-2", 3, 135),
    ("ucs2-133-then-emoji", "ç" * 133 + "😀", True, "UCS-2", 3, 135),
    ("ucs2-134-then-emoji", "ç" * 134 + "😀", False, "UCS-2", 3, 136),
    ("ucs2-134-then-emoji", "ç" * 134 + "😀", True, "UCS-2", 3, 136),
    ("ucs2-60-then-family", "ç" * 60 + "👨‍👩‍👧‍👦", False, "UCS-2", 2, 71),
    ("ucs2-60-then-family", "ç" * 60 + "👨‍👩‍👧‍👦", True, "UCS-2", 2, 71),
    ("ucs2-62-then-family", "ç" * 62 + "👨‍👩‍👧‍👦", False, "UCS-2", 2, 73),
    ("ucs2-62-then-family", "ç" * 62 + "👨‍👩‍👧‍👦", True, "UCS-2", 2, 73),
    ("ucs2-64-then-family", "ç" * 64 + "👨‍👩‍👧‍👦", False, "UCS-2", 2, 75),
    ("ucs2-64-then-family", "ç" * 64 + "👨‍👩‍👧‍👦", True, "UCS-2", 2, 75),
    ("ucs2-66-then-family", "ç" * 66 + "👨‍👩‍👧‍👦", False, "UCS-2", 2, 77),
    ("ucs2-66-then-family", "ç" * 66 + "👨‍👩‍👧‍👦", True, "UCS-2", 2, 77),
    ("ucs2-67-then-family", "ç" * 67 + "👨‍👩‍👧‍👦", False, "UCS-2", 2, 78),
    ("ucs2-67-then-family", "ç" * 67 + "👨‍👩‍👧‍👦", True, "UCS-2", 2, 78),
    ("ucs2-130-then-family", "ç" * 130 + "👨‍👩‍👧‍👦", False, "UCS-2", 3, 141),
    ("ucs2-130-then-family", "ç" * 130 + "👨‍👩‍👧‍👦", True, "UCS-2", 3, 141),
    ("ucs2-66-then-newer-zwj", "ç" * 66 + "🐈‍⬛", False, "UCS-2", 1, 70),
    ("ucs2-66-then-newer-zwj", "ç" * 66 + "🐈‍⬛", True, "UCS-2", 1, 70),
    ("ucs2-67-then-newer-zwj", "ç" * 67 + "🐈‍⬛", False, "UCS-2", 2, 71),
    ("ucs2-67-then-newer-zwj", "ç" * 67 + "🐈‍⬛", True, "UCS-2", 2, 71),
    ("ucs2-68-then-newer-zwj", "ç" * 68 + "🐈‍⬛", False, "UCS-2", 2, 72),
    ("ucs2-68-then-newer-zwj", "ç" * 68 + "🐈‍⬛", True, "UCS-2", 2, 72),
    ("emoji-x34", "😀" * 34, False, "UCS-2", 1, 68),
    ("emoji-x34", "😀" * 34, True, "UCS-2", 1, 68),
    ("emoji-x35", "😀" * 35, False, "UCS-2", 1, 70),
    ("emoji-x35", "😀" * 35, True, "UCS-2", 1, 70),
    ("emoji-x36", "😀" * 36, False, "UCS-2", 2, 72),
    ("emoji-x36", "😀" * 36, True, "UCS-2", 2, 72),
    ("emoji-x67", "😀" * 67, False, "UCS-2", 3, 134),
    ("emoji-x67", "😀" * 67, True, "UCS-2", 3, 134),
    ("emoji-x68", "😀" * 68, False, "UCS-2", 3, 136),
    ("emoji-x68", "😀" * 68, True, "UCS-2", 3, 136),
    ("spanish-152", ("Evacúe " * 30)[:152], False, "UCS-2", 3, 152),
    ("spanish-152", ("Evacúe " * 30)[:152], True, "UCS-2", 3, 152),
    ("spanish-153", ("Evacúe " * 30)[:153], False, "UCS-2", 3, 153),
    ("spanish-153", ("Evacúe " * 30)[:153], True, "UCS-2", 3, 153),
    ("spanish-154", ("Evacúe " * 30)[:154], False, "UCS-2", 3, 154),
    ("spanish-154", ("Evacúe " * 30)[:154], True, "UCS-2", 3, 154),
    ("arabic-66", ("حريق " * 30)[:66], False, "UCS-2", 1, 66),
    ("arabic-66", ("حريق " * 30)[:66], True, "UCS-2", 1, 66),
    ("arabic-67", ("حريق " * 30)[:67], False, "UCS-2", 1, 67),
    ("arabic-67", ("حريق " * 30)[:67], True, "UCS-2", 1, 67),
    ("arabic-68", ("حريق " * 30)[:68], False, "UCS-2", 1, 68),
    ("arabic-68", ("حريق " * 30)[:68], True, "UCS-2", 1, 68),
    ("arabic-69", ("حريق " * 30)[:69], False, "UCS-2", 1, 69),
    ("arabic-69", ("حريق " * 30)[:69], True, "UCS-2", 1, 69),
    ("arabic-70", ("حريق " * 30)[:70], False, "UCS-2", 1, 70),
    ("arabic-70", ("حريق " * 30)[:70], True, "UCS-2", 1, 70),
    ("arabic-71", ("حريق " * 30)[:71], False, "UCS-2", 2, 71),
    ("arabic-71", ("حريق " * 30)[:71], True, "UCS-2", 2, 71),
    ("smart-159", "’" + "a" * 158, False, "UCS-2", 3, 159),
    ("smart-159", "’" + "a" * 158, True, "GSM-7", 1, 159),
    ("smart-160", "’" + "a" * 159, False, "UCS-2", 3, 160),
    ("smart-160", "’" + "a" * 159, True, "GSM-7", 1, 160),
    ("smart-161", "’" + "a" * 160, False, "UCS-2", 3, 161),
    ("smart-161", "’" + "a" * 160, True, "GSM-7", 2, 161),
]


@pytest.mark.parametrize(
    ("text", "smart", "encoding", "segments", "characters"),
    [pytest.param(*row[1:], id=f"{row[0]}{'-smart' if row[2] else ''}") for row in CORPUS],
)
def test_agrees_with_twilio_calculator(
    text: str, smart: bool, encoding: str, segments: int, characters: int
) -> None:
    """sms_segments gives the calculator's encoding and segment count for every corpus text."""
    got = sms_segments(text, smart_encoding=smart)
    assert (got.encoding, got.segments, got.characters) == (encoding, segments, characters)


def test_corpus_covers_the_required_kinds_and_boundaries() -> None:
    """The corpus holds every script and every boundary length the calculator is checked on."""
    ids = {row[0] for row in CORPUS}
    for kind in ("latin", "spanish-accented", "extension-chars", "chinese", "arabic", "emoji-skin-tone",
                 "emoji-zwj-family"):  # fmt: skip
        assert kind in ids
    gsm = {int(i.split("-")[1]) for i in ids if i.startswith("gsm-") and i.count("-") == 1}
    ucs2 = {int(i.split("-")[1]) for i in ids if i.startswith("ucs2-") and i.count("-") == 1}
    assert {152, 153, 154, 159, 160, 161, 306, 459, 320, 480} <= gsm
    assert {66, 67, 68, 69, 70, 71, 134, 201, 140, 210} <= ucs2


def test_extension_character_is_never_split_across_segments() -> None:
    """152 septets then '€' (2 septets) still fit one 160 segment; past 160 the € moves whole."""
    assert sms_segments("a" * 158 + "€").segments == 1
    assert sms_segments("a" * 159 + "€").segments == 2


def test_surrogate_pair_is_never_split() -> None:
    """An emoji after 66 UCS-2 units does not fit the 67-unit remainder and moves whole."""
    assert sms_segments("ç" * 69 + "😀") == SmsSegments("UCS-2", 2, 71, ("ç", "😀"))


def test_non_gsm_characters_are_reported_once_in_order() -> None:
    """The characters forcing UCS-2 are listed, so the preview can say what to change."""
    assert sms_segments("Café ok ç é ç").non_gsm_characters == ("ç",)
    assert sms_segments("Evacúe ahora 🚨 ú").non_gsm_characters == ("ú", "🚨")


def test_smart_encoding_maps_typographic_characters_to_gsm() -> None:
    """Curly quotes, long dashes, ellipsis and special spaces become their GSM-7 look-alikes."""
    assert smart_encode("“Don’t” — wait… ok") == '"Don\'t" - wait... ok'
    assert is_gsm7(smart_encode("‘a’ – b\u2009c\u200b"))
    assert sms_segments("Don’t wait", smart_encoding=True).encoding == "GSM-7"
    assert sms_segments("Don’t wait").encoding == "UCS-2"


def test_every_smart_encoding_target_is_gsm7() -> None:
    """Smart Encoding never produces a character outside GSM-7."""
    assert all(is_gsm7(target) for target in SMART_ENCODING.values())


GSM_BASIC = "".join(sorted(GSM7_BASIC - {"\r"}))  # a lone CR is GSM-7, but CRLF is tested in the corpus
NON_GSM_BMP = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=GSM_BASIC, max_size=700))
def test_gsm7_basic_follows_160_153(text: str) -> None:
    """Pure GSM-7 basic text: one segment up to 160, else ceil(n / 153)."""
    n = len(text)
    expected = 1 if n <= 160 else math.ceil(n / 153)
    assert sms_segments(text) == SmsSegments("GSM-7", expected, n)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=NON_GSM_BMP, min_size=1, max_size=300))
def test_ucs2_bmp_follows_70_67(text: str) -> None:
    """Text of BMP non-GSM characters: UCS-2, one segment up to 70, else ceil(n / 67)."""
    n = len(text)
    expected = 1 if n <= 70 else math.ceil(n / 67)
    assert (sms_segments(text).encoding, sms_segments(text).segments) == ("UCS-2", expected)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=GSM_BASIC + "".join(GSM7_EXTENSION), max_size=600))
def test_gsm7_with_extension_never_below_septet_bound(text: str) -> None:
    """Extension characters count 2 septets; segments are at least the septet lower bound."""
    septets = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    got = sms_segments(text)
    assert got.encoding == "GSM-7"
    assert got.characters == septets
    lower = 1 if septets <= 160 else math.ceil(septets / 153)
    assert lower <= got.segments <= lower + septets // 153 + 1


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_calculator_clusters_rejoin_and_are_no_finer_than_code_points(text: str) -> None:
    """The calculator's clusters re-join to the text; current-Unicode clusters too."""
    assert "".join(sms_clusters(text)) == text
    assert "".join(graphemes(text)) == text
