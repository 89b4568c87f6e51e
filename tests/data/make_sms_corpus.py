"""Regenerate the SMS segment corpus rows of ``tests/text/test_sms_segments.py``.

Not a test. It runs Twilio's message segment calculator (npm ``sms-segments-calculator``,
github.com/TwilioDevEd/message-segment-calculator) on every recipe below and prints one table
row per recipe and Smart Encoding setting: ``(id, recipe, smart, encoding, segments,
characters)``. ``characters`` is crisiscast's figure (GSM-7 septets, or UTF-16 code units for
UCS-2); encoding and segments are the calculator's verdicts.

Usage (needs Node.js)::

    mkdir /tmp/calc && cd /tmp/calc && npm install sms-segments-calculator@1.3.0
    python tests/data/make_sms_corpus.py /tmp/calc > rows.txt
"""

from __future__ import annotations

import json
import subprocess
import sys

RECIPES: list[tuple[str, str]] = [
    ("empty", '""'),
    ("latin", '"Fire alarm in Building B. Evacuate via the east stairs now."'),
    ("latin-crlf", '"Code red\\r\\nLevel 2\\r\\nAvoid the lifts"'),
    ("spanish-mixed", '"Niño, ¿dónde está? ¡Atención! Señor Muñoz, salga ya."'),
    ("spanish-gsm-only", '"¡Señor Muñoz! ¿Qué pasa? Niños y niñas: salgan ya por la puerta Ñ."'),
    ("spanish-accented", '"Evacúe el edificio. Diríjase a la salida más cercana y no use el ascensor."'),
    ("spanish-accented-long", '"Incendio en el edificio B. Evacúe por las escaleras del este. " * 4'),
    ("extension-chars", '"Cost €5 [room 3] {a|b} ~ ^ \\\\ end"'),
    ("extension-only-80", '"€" * 80'),
    ("extension-only-81", '"€" * 81'),
    ("chinese", '"火警：请立即从东侧楼梯疏散，不要使用电梯。"'),
    ("chinese-70", '"医" * 70'),
    ("chinese-71", '"医" * 71'),
    ("arabic", '"حريق في المبنى ب. يرجى الإخلاء فوراً عبر الدرج الشرقي."'),
    ("arabic-long", '"حريق في المبنى ب. يرجى الإخلاء فوراً عبر الدرج الشرقي. " * 3'),
    ("emoji-simple", '"Alert 🚨 evacuate now"'),
    ("emoji-skin-tone", '"Well done 👍🏽 team"'),
    ("emoji-zwj-family", '"Family room 👨‍👩‍👧‍👦 closed"'),
    ("emoji-zwj-health-worker", '"👩‍⚕️ needed in ER"'),
    ("emoji-zwj-newer", '"🐈‍⬛ ❤️‍🔥 👩🏽‍🦰 🧑‍🤝‍🧑 😮‍💨"'),
    ("emoji-flags", '"🇺🇸🇪🇸🇲🇽"'),
    ("combining-accent", '"Cafe\\u0301 closed"'),
    ("smart-quotes", '"Don’t use the “east” lifts — use stairs…"'),
    ("smart-nbsp-tab", '"Level\\u00a02\\tnow"'),
    ("smart-only-mapped-ucs2", '"“Evacuate” now — ✱"'),
]
for n in (152, 153, 154, 159, 160, 161, 305, 306, 307, 318, 319, 320, 321, 322, 458, 459, 460, 477, 478, 479,
          480, 481):  # fmt: skip
    RECIPES.append((f"gsm-{n}", f'"a" * {n}'))
for n in (151, 152, 153, 158, 159, 160, 305, 306):
    RECIPES.append((f"gsm-{n}-then-euro", f'"a" * {n} + "€"'))
for n in (66, 67, 68, 69, 70, 71, 132, 133, 134, 135, 136, 138, 139, 140, 141, 142, 200, 201, 202, 207, 208,
          209, 210, 211):  # fmt: skip
    RECIPES.append((f"ucs2-{n}", f'"ç" * {n}'))
for n in (65, 66, 67, 68, 69, 70, 132, 133, 134):
    RECIPES.append((f"ucs2-{n}-then-emoji", f'"ç" * {n} + "😀"'))
for n in (60, 62, 64, 66, 67, 130):
    RECIPES.append((f"ucs2-{n}-then-family", f'"ç" * {n} + "👨‍👩‍👧‍👦"'))
for n in (66, 67, 68):
    RECIPES.append((f"ucs2-{n}-then-newer-zwj", f'"ç" * {n} + "🐈‍⬛"'))
for n in (34, 35, 36, 67, 68):
    RECIPES.append((f"emoji-x{n}", f'"😀" * {n}'))
for n in (152, 153, 154):
    RECIPES.append((f"spanish-{n}", f'("Evacúe " * 30)[:{n}]'))
for n in (66, 67, 68, 69, 70, 71):
    RECIPES.append((f"arabic-{n}", f'("حريق " * 30)[:{n}]'))
for n in (159, 160, 161):
    RECIPES.append((f"smart-{n}", f'"’" + "a" * {n - 1}'))

CALCULATOR_JS = """
const { SegmentedMessage } = require('sms-segments-calculator');
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  process.stdout.write(JSON.stringify(JSON.parse(input).map(({ text, smart }) => {
    const m = new SegmentedMessage(text, 'auto', smart);
    return { encoding: m.encodingName, segments: m.segmentsCount, characters: m.numberOfCharacters };
  })));
});
"""


def main(calculator_dir: str) -> None:
    sys.path.insert(0, "src")
    from crisiscast.channels.sms.segments import smart_encode

    cases = [
        {"id": rid, "recipe": recipe, "text": eval(recipe), "smart": smart}  # noqa: S307 (our own literals)
        for rid, recipe in RECIPES
        for smart in (False, True)
    ]
    verdicts = json.loads(
        subprocess.run(
            ["node", "-e", CALCULATOR_JS],
            input=json.dumps([{"text": c["text"], "smart": c["smart"]} for c in cases]),
            capture_output=True,
            text=True,
            check=True,
            cwd=calculator_dir,
        ).stdout
    )
    for case, verdict in zip(cases, verdicts, strict=True):
        sent = smart_encode(case["text"]) if case["smart"] else case["text"]
        units = (
            verdict["characters"] if verdict["encoding"] == "GSM-7" else len(sent.encode("utf-16-le")) // 2
        )
        print(
            f"    ({case['id']!r}, {case['recipe']}, {case['smart']}, "
            f"{verdict['encoding']!r}, {verdict['segments']}, {units}),"
        )


if __name__ == "__main__":
    main(sys.argv[1])
