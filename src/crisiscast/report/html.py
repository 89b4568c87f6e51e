"""The report as one self-contained HTML file (inline CSS and SVG chart, no scripts).

A drill report carries a fixed red EXERCISE band on screen and on every printed page.
"""

from __future__ import annotations

from html import escape

from crisiscast.report.layout import Block, Series, blocks, title
from crisiscast.report.model import ReportData

__all__ = ["COLOURS", "render_html"]

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
_CSS = """
body { font-family: sans-serif; margin: 2.5em 2em; color: #111; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #999; padding: .2em .5em; text-align: left; vertical-align: top; }
pre { background: #f4f4f4; padding: .5em; white-space: pre-wrap; }
.exercise { position: fixed; left: 0; right: 0; top: 0; background: #c00; color: #fff;
  text-align: center; font-weight: bold; letter-spacing: .2em; padding: .2em; }
@media print { .exercise { position: fixed; } }
"""


def _chart(block: Block, width: int = 640, height: int = 240) -> str:
    series: tuple[Series, ...] = block.series
    end_s = max((s.seconds[-1] for s in series if s.seconds), default=1.0) or 1.0
    top = max((len(s.seconds) for s in series), default=1) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 40}" role="img" '
        f'aria-label="{escape(block.text)}">',
        f'<rect x="40" y="10" width="{width - 50}" height="{height - 20}" fill="none" stroke="#999"/>',
        f'<text x="40" y="{height + 5}" font-size="11">0 s</text>',
        f'<text x="{width - 60}" y="{height + 5}" font-size="11">{end_s:.1f} s</text>',
        f'<text x="2" y="20" font-size="11">{top}</text>',
    ]
    for i, s in enumerate(series):
        if not s.seconds:
            continue
        colour = COLOURS[i % len(COLOURS)]
        points = [f"40,{height - 10}"]
        last_y = height - 10.0
        for n, t in enumerate(s.seconds, start=1):  # a step: flat until the delivery, then up one
            x = 40 + (width - 50) * t / end_s
            y = height - 10 - (height - 20) * n / top
            points.append(f"{x:.1f},{last_y:.1f} {x:.1f},{y:.1f}")
            last_y = y
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(points)}"/>'
        )
        label = f'<text x="{50 + 110 * i}" y="{height + 30}" font-size="12" fill="{colour}">'
        parts.append(f"{label}{escape(s.name)}</text>")
    parts.append("</svg>")
    return f"<figure><figcaption>{escape(block.text)}</figcaption>{''.join(parts)}</figure>"


def _block(block: Block) -> str:
    match block.kind:
        case "h1" | "h2":
            return f"<{block.kind}>{escape(block.text)}</{block.kind}>"
        case "p":
            return f"<p>{escape(block.text)}</p>"
        case "mono":
            return f"<pre>{escape(block.text)}</pre>"
        case "table":
            head = "".join(f"<th>{escape(h)}</th>" for h in block.headers)
            body = "".join(
                "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in block.rows
            )
            return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        case "chart":
            return _chart(block)
    raise ValueError(f"unknown block {block.kind}")


def render_html(data: ReportData, *, exercise_marker: str = "EXERCISE EXERCISE EXERCISE") -> str:
    band = f'<div class="exercise">{escape(exercise_marker)}</div>' if data.exercise else ""
    body = "\n".join(_block(b) for b in blocks(data))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title(data))}</title><style>{_CSS}</style></head>"
        f"<body>{band}\n{body}\n</body></html>\n"
    )
