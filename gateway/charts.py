"""Small server-rendered SVG charts: no script, no CDN, a few hundred bytes on a slow line."""

from __future__ import annotations

from html import escape

COLORS = ("#1f6f8b", "#e3a72f", "#7a9e3f", "#b5523b", "#6c5b7b")


def bars(title: str, rows: list[tuple[str, list[int]]], series: list[str], width: int = 640) -> str:
    """Horizontal stacked bars: one row per label, one segment per series, numbers written."""
    row_h, label_w, pad = 22, 150, 4
    height = 40 + row_h * max(len(rows), 1) + 24
    top = max((sum(values) for _, values in rows), default=0) or 1
    scale = (width - label_w - 60) / top
    out = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
           f'width="100%" xmlns="http://www.w3.org/2000/svg">',
           f'<text x="0" y="16" class="title">{escape(title)}</text>']
    for i, (label, values) in enumerate(rows):
        y = 30 + i * row_h
        out.append(f'<text x="0" y="{y + 15}" class="label">{escape(label[:22])}</text>')
        x = float(label_w)
        for j, value in enumerate(values):
            w = value * scale
            if w > 0:
                out.append(f'<rect x="{x:.1f}" y="{y + pad}" width="{w:.1f}" height="{row_h - 2 * pad}" '
                           f'fill="{COLORS[j % len(COLORS)]}" data-series="{escape(series[j])}" '
                           f'data-value="{value}"><title>{escape(series[j])}: {value}</title></rect>')
            x += w
        out.append(f'<text x="{x + 4:.1f}" y="{y + 15}" class="value">{sum(values)}</text>')
    legend_y = height - 6
    for j, name in enumerate(series):
        out.append(f'<rect x="{j * 130}" y="{legend_y - 10}" width="10" height="10" '
                   f'fill="{COLORS[j % len(COLORS)]}"/><text x="{j * 130 + 14}" y="{legend_y}" '
                   f'class="legend">{escape(name)}</text>')
    if not rows:
        out.append('<text x="0" y="50" class="label">sin datos en este periodo</text>')
    out.append("</svg>")
    return "".join(out)
