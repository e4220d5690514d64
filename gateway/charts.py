"""Small server-rendered SVG charts: no script, no CDN, a few hundred bytes on a slow line.

Readable on a phone as on a desk: the SVG has no viewBox, so nothing is scaled and its text is
the size the stylesheet gives it (13 px) at any width. Each row is its label on one line and its
bar below it, the bars' lengths in percent of the chart's width; the title and the legend are
HTML, and wrap.
"""

from __future__ import annotations

from html import escape

COLORS = ("#1f6f8b", "#e3a72f", "#7a9e3f", "#b5523b", "#6c5b7b")
ROW_H = 36  # a label line (13 px text) and a 12 px bar below it
BAR_Y, BAR_H = 18, 12
FULL = 86.0  # the longest bar, in percent of the width: its number is written after it


def bars(title: str, rows: list[tuple[str, list[int]]], series: list[str]) -> str:
    """Horizontal stacked bars: one row per label, one segment per series, numbers written."""
    top = max((sum(values) for _, values in rows), default=0) or 1
    height = ROW_H * max(len(rows), 1)
    out = [f'<figure class="chart-box"><figcaption class="title">{escape(title)}</figcaption>',
           f'<svg class="chart" role="img" aria-label="{escape(title)}" width="100%" height="{height}" '
           f'xmlns="http://www.w3.org/2000/svg">']
    for i, (label, values) in enumerate(rows):
        y = i * ROW_H
        out.append(f'<text x="0" y="{y + 13}" class="label">{escape(label[:40])}</text>')
        x = 0.0
        for j, value in enumerate(values):
            w = value * FULL / top
            if w > 0:
                out.append(f'<rect x="{x:.2f}%" y="{y + BAR_Y}" width="{w:.2f}%" height="{BAR_H}" '
                           f'fill="{COLORS[j % len(COLORS)]}" data-series="{escape(series[j])}" '
                           f'data-value="{value}"><title>{escape(series[j])}: {value}</title></rect>')
            x += w
        out.append(f'<text x="{x:.2f}%" dx="4" y="{y + BAR_Y + BAR_H - 1}" class="value">'
                   f'{sum(values)}</text>')
    if not rows:
        out.append('<text x="0" y="20" class="label">sin datos en este periodo</text>')
    out.append('</svg><p class="legend">')
    out.extend(f'<span><i style="background:{COLORS[j % len(COLORS)]}"></i>{escape(name)}</span>'
               for j, name in enumerate(series))
    out.append("</p></figure>")
    return "".join(out)
