"""crisiscast report: the after-action report of a drill, looked at page by page as a person would."""

from __future__ import annotations

import json
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from tests.cli.conftest import EXAMPLES, Cli

pytestmark = pytest.mark.asyncio

_RED = (200, 0, 0)


def _pages(pdf: Path, folder: Path) -> list[tuple[str, Image.Image]]:
    """Each page's text and its rendering (PNG written next to the PDF, 100 dpi)."""
    doc = pdfium.PdfDocument(str(pdf))
    out = []
    try:
        for number in range(len(doc)):
            page = doc[number]
            text = page.get_textpage().get_text_range()
            image = page.render(scale=100 / 72).to_pil().convert("RGB")
            image.save(folder / f"page-{number + 1}.png")
            out.append((text, image))
    finally:
        doc.close()
    return out


def _pixels(image: Image.Image) -> list[tuple[int, int, int]]:
    raw = image.tobytes()
    return [(raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw), 3)]


def _is_red(pixel: tuple[int, ...]) -> bool:
    r, g, b = pixel[:3]
    return r > 170 and g < 60 and b < 60


def _band(image: Image.Image, top: bool) -> float:
    """The share of red pixels in the page's top (or bottom) 8 mm."""
    height = round(image.height * 8 / 297)
    box = (0, 0, image.width, height) if top else (0, image.height - height, image.width, image.height)
    pixels = _pixels(image.crop(box))
    return sum(1 for p in pixels if _is_red(p)) / len(pixels)


def _coloured(image: Image.Image) -> int:
    """Pixels of a chart line colour (blue, green, purple …): neither grey nor the red band."""
    count = 0
    for r, g, b in _pixels(image):
        if max(r, g, b) - min(r, g, b) > 80 and not _is_red((r, g, b)):
            count += 1
    return count


async def test_drill_report_says_exercise_on_every_page_and_shows_what_was_sent(cli: Cli) -> None:
    """After an Exercise send: report writes HTML and PDF; every PDF page carries the red
    EXERCISE band top and bottom and the marker text; the sections surveyors ask for, each
    channel's reach and exact text, a delivery chart and the verification block are there."""
    sent = await cli.run("send", str(EXAMPLES / "exercise.yaml"), "--yes", "--json")
    assert sent.code == 0, sent.stderr
    dispatch_id = json.loads(sent.stdout)["dispatch_id"]
    out = cli.tmp_path / "reports"
    made = await cli.run("report", dispatch_id, "--out-dir", str(out))
    assert made.code == 0, made.stderr
    html = (out / f"report-{dispatch_id}.html").read_text(encoding="utf-8")
    assert 'class="exercise"' in html and "<svg" in html and "Reach per channel" in html

    pages = _pages(out / f"report-{dispatch_id}.pdf", out)
    assert len(pages) >= 2
    for number, (text, image) in enumerate(pages, start=1):
        assert "EXERCISE EXERCISE EXERCISE" in text, f"page {number} does not say EXERCISE"
        assert _band(image, top=True) > 0.5 and _band(image, top=False) > 0.5, f"page {number} lacks the band"
    everything = "\n".join(text for text, _ in pages)
    for section in (
        "What surveyors ask for",
        "People and times",
        "Message and exact text",
        "Reach per channel",
        "Time to deliver",
        "Updates and the all-clear",
        "Confirmations and non-responders",
        "Verification",
    ):
        assert section in everything, section
    for channel in ("twitter", "facebook", "sms", "banner"):
        assert channel in everything
    assert "Audit verification" in everything and ": OK." in everything
    assert "crisiscast audit verify audit.jsonl --public-key" in everything
    chart_page = next(image for text, image in pages if "Deliveries accepted over time" in text)
    assert _coloured(chart_page) > 200  # the delivery lines are drawn, not an empty frame


async def test_report_of_an_unknown_dispatch_is_one_sentence(cli: Cli) -> None:
    """An id the audit does not have: exit 2, one sentence, no file written."""
    result = await cli.run("report", "no-such-dispatch", "--out-dir", str(cli.tmp_path / "r"))
    assert result.code == 2
    assert "no dispatch no-such-dispatch" in " ".join(result.stderr.split())
    assert not (cli.tmp_path / "r" / "report-no-such-dispatch.pdf").exists()
