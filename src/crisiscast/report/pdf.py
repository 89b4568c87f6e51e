"""The report as a PDF (``fpdf2``): the same blocks as the HTML, a vector chart, and on a
drill report a red EXERCISE band at the top and bottom of every page.

Text uses DejaVu Sans when the system has it (any language); otherwise the PDF core font,
with characters outside Latin-1 replaced by "?".
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from crisiscast.report.html import COLOURS
from crisiscast.report.layout import Block, blocks, title
from crisiscast.report.model import ReportData

__all__ = ["render_pdf"]

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


class _Report(FPDF):
    def __init__(self, marker: str | None) -> None:
        super().__init__(format="A4")
        self.marker = marker
        self.unicode = False
        regular, bold = _DEJAVU / "DejaVuSans.ttf", _DEJAVU / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            self.add_font("body", "", str(regular))
            self.add_font("body", "B", str(bold))
            self.unicode = True
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(15, 18, 15)

    def use(self, size: float, bold: bool = False) -> None:
        self.set_font("body" if self.unicode else "helvetica", "B" if bold else "", size)

    def text_of(self, text: str) -> str:
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def _band(self, y: float) -> None:
        if not self.marker:
            return
        self.set_fill_color(200, 0, 0)
        self.set_text_color(255, 255, 255)
        self.use(10, bold=True)
        self.set_xy(0, y)
        self.cell(self.w, 8, self.text_of(self.marker), align="C", fill=True)
        self.set_text_color(0, 0, 0)

    def header(self) -> None:
        self._band(0)
        self.set_y(18)

    def footer(self) -> None:
        self._band(self.h - 8)
        self.set_xy(self.l_margin, self.h - 15)
        self.use(8)
        self.cell(self.w - self.l_margin - self.r_margin, 5, f"page {self.page_no()}", align="R")


def _table(pdf: _Report, block: Block) -> None:
    pdf.use(8)
    with pdf.table(
        headings_style=None if not any(block.headers) else _heading_style(),
        first_row_as_headings=any(block.headers),
        line_height=4.5,
    ) as table:
        if any(block.headers):
            row = table.row()
            for h in block.headers:
                row.cell(pdf.text_of(h))
        for cells in block.rows:
            row = table.row()
            for c in cells:
                row.cell(pdf.text_of(c))
    pdf.ln(2)


def _heading_style() -> object:
    from fpdf.fonts import FontFace

    return FontFace(emphasis="BOLD", fill_color=(230, 230, 230))


def _chart(pdf: _Report, block: Block) -> None:
    width, height = pdf.w - pdf.l_margin - pdf.r_margin, 55.0
    if pdf.get_y() + height + 15 > pdf.h - 18:
        pdf.add_page()
    pdf.use(9, bold=True)
    pdf.multi_cell(0, 5, pdf.text_of(block.text))
    x0, y0 = pdf.l_margin + 8, pdf.get_y() + 2
    w, h = width - 10, height
    pdf.set_draw_color(150, 150, 150)
    pdf.rect(x0, y0, w, h)
    end_s = max((s.seconds[-1] for s in block.series if s.seconds), default=1.0) or 1.0
    top = max((len(s.seconds) for s in block.series), default=1) or 1
    pdf.use(7)
    pdf.text(x0, y0 + h + 4, "0 s")
    pdf.text(x0 + w - 12, y0 + h + 4, f"{end_s:.1f} s")
    pdf.text(x0 - 8, y0 + 3, str(top))
    for i, s in enumerate(block.series):
        colour = COLOURS[i % len(COLOURS)]
        rgb = tuple(int(colour[k : k + 2], 16) for k in (1, 3, 5))
        pdf.set_draw_color(*rgb)
        pdf.set_text_color(*rgb)
        pdf.set_line_width(0.6)
        x, y = x0, y0 + h
        for n, t in enumerate(s.seconds, start=1):  # a step: flat until the delivery, then up one
            nx, ny = x0 + w * t / end_s, y0 + h - h * n / top
            pdf.line(x, y, nx, y)
            pdf.line(nx, y, nx, ny)
            x, y = nx, ny
        pdf.text(x0 + 30 * i, y0 + h + 9, pdf.text_of(s.name))
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    pdf.set_y(y0 + h + 12)


def render_pdf(data: ReportData, path: Path, *, exercise_marker: str = "EXERCISE EXERCISE EXERCISE") -> int:
    """Write the PDF to ``path``; returns its page count."""
    pdf = _Report(exercise_marker if data.exercise else None)
    pdf.set_title(pdf.text_of(title(data)))
    pdf.add_page()
    for block in blocks(data):
        pdf.set_x(pdf.l_margin)
        match block.kind:
            case "h1":
                pdf.use(15, bold=True)
                pdf.multi_cell(0, 8, pdf.text_of(block.text))
                pdf.ln(1)
            case "h2":
                pdf.use(11, bold=True)
                pdf.ln(1)
                pdf.multi_cell(0, 6, pdf.text_of(block.text))
            case "p":
                pdf.use(9)
                pdf.multi_cell(0, 4.5, pdf.text_of(block.text))
                pdf.ln(1)
            case "mono":
                pdf.set_font("courier", "", 8)
                pdf.set_fill_color(244, 244, 244)
                pdf.multi_cell(0, 4, block.text.encode("latin-1", "replace").decode("latin-1"), fill=True)
                pdf.ln(1)
            case "table":
                _table(pdf, block)
            case "chart":
                _chart(pdf, block)
    pdf.output(str(path))
    return pdf.pages_count
