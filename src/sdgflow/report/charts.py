"""Inline SVG chart primitives: horizontal bars, vertical bars/histograms, stacked bar, meter.

Pure string builders (no plotting library, no JS): the report must open offline as one file.
Every chart is `<svg class="chart" data-chart=NAME>` and every bar a `rect.bar` with a
`data-label`, so tests and users' scripts can find them; colours come from CSS `tone-*`
classes so the palette lives in one place (style.css). Hover text uses SVG `<title>`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

FONT_PX = 12
# No font metrics server-side: an average glyph width good enough to reserve label space.
CHAR_PX = 6.6


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    display: str = ""  # text printed at the bar end; defaults to the value
    tone: str = "primary"
    title: str = ""  # hover text


@dataclass(frozen=True)
class Marker:
    """A vertical reference line on a numeric x axis (pack size, percentiles)."""

    x: float
    label: str
    tone: str = "bad"
    dashed: bool = True


def _a(value: object) -> str:
    return escape(str(value), quote=True)


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _text_width(text: str) -> float:
    return len(text) * CHAR_PX


def _svg(name: str, width: float, height: float, body: list[str], label: str) -> str:
    return (f'<svg class="chart" data-chart="{_a(name)}" viewBox="0 0 {_n(width)} {_n(height)}" '
            f'width="{_n(width)}" height="{_n(height)}" role="img" aria-label="{_a(label)}" '
            f'xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>")


def nice_ticks(high: float, count: int = 5) -> list[float]:
    """0 .. >= high in 1/2/5 x 10^k steps (what people read fastest on an axis)."""
    if high <= 0:
        return [0.0, 1.0]
    raw = high / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    n = math.ceil(high / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def _fmt_tick(value: float) -> str:
    if value >= 1000 and value % 1000 == 0:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def hbar_chart(name: str, bars: list[Bar], *, max_value: float | None = None,
               width: float = 540, row: float = 22, label_mono: bool = False,
               aria: str = "") -> str:
    """One labelled horizontal bar per item; the value is printed after the bar."""
    if not bars:
        return empty_chart(name, "nothing to show")
    label_w = min(max(_text_width(b.label) for b in bars) + 12, width * 0.45)
    value_w = max(_text_width(b.display or _n(b.value)) for b in bars) + 10
    plot_w = max(width - label_w - value_w, 40)
    top = max(b.value for b in bars)
    scale_max = max_value if max_value is not None else (top or 1.0)
    height = row * len(bars) + 8
    body: list[str] = []
    mono = ' class="mono"' if label_mono else ""
    for i, bar in enumerate(bars):
        y = 4 + i * row
        w = 0.0 if scale_max <= 0 else plot_w * max(bar.value, 0) / scale_max
        mid = y + row / 2
        body.append(
            f'<g class="row"><text x="{_n(label_w - 8)}" y="{_n(mid)}" text-anchor="end" '
            f'dominant-baseline="central"{mono}>{escape(bar.label)}</text>'
            f'<rect class="track" x="{_n(label_w)}" y="{_n(y + 3)}" width="{_n(plot_w)}" '
            f'height="{_n(row - 6)}" rx="3"/>'
            f'<rect class="bar tone-{_a(bar.tone)}" data-label="{_a(bar.label)}" '
            f'data-value="{_a(bar.value)}" x="{_n(label_w)}" y="{_n(y + 3)}" '
            f'width="{_n(w)}" height="{_n(row - 6)}" rx="3">'
            f"<title>{escape(bar.title or bar.label)}</title></rect>"
            f'<text class="value" x="{_n(label_w + w + 6)}" y="{_n(mid)}" '
            f'dominant-baseline="central">{escape(bar.display or _n(bar.value))}</text></g>')
    return _svg(name, width, height, body, aria or name)


def vbar_chart(name: str, bars: list[Bar], *, width: float = 540, height: float = 220,
               x_title: str = "", aria: str = "") -> str:
    """Discrete categories as columns (e.g. messages per conversation), values on top."""
    if not bars:
        return empty_chart(name, "nothing to show")
    left, right, top_pad, bottom = 44.0, 10.0, 18.0, 40.0 if x_title else 26.0
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    ticks = nice_ticks(max(b.value for b in bars), 4)
    ymax = ticks[-1] or 1.0
    slot = plot_w / len(bars)
    bar_w = min(slot * 0.72, 56)
    body = _y_axis(ticks, ymax, left, top_pad, plot_w, plot_h)
    for i, bar in enumerate(bars):
        h = plot_h * max(bar.value, 0) / ymax
        x = left + i * slot + (slot - bar_w) / 2
        y = top_pad + plot_h - h
        body.append(
            f'<rect class="bar tone-{_a(bar.tone)}" data-label="{_a(bar.label)}" '
            f'data-value="{_a(bar.value)}" x="{_n(x)}" y="{_n(y)}" width="{_n(bar_w)}" '
            f'height="{_n(h)}" rx="2"><title>{escape(bar.title or bar.label)}</title></rect>'
            f'<text class="value" x="{_n(x + bar_w / 2)}" y="{_n(y - 4)}" '
            f'text-anchor="middle">{escape(bar.display or _n(bar.value))}</text>'
            f'<text class="tick" x="{_n(x + bar_w / 2)}" y="{_n(top_pad + plot_h + 15)}" '
            f'text-anchor="middle">{escape(bar.label)}</text>')
    if x_title:
        body.append(f'<text class="axis-title" x="{_n(left + plot_w / 2)}" '
                    f'y="{_n(height - 6)}" text-anchor="middle">{escape(x_title)}</text>')
    return _svg(name, width, height, body, aria or name)


def histogram(name: str, edges: list[float], counts: list[int], *,
              markers: Sequence[Marker] = (), width: float = 540, height: float = 250,
              x_max: float | None = None, x_title: str = "", aria: str = "") -> str:
    """Bins on a linear x axis with reference lines; `edges` has len(counts) + 1 entries.

    `x_max` zooms the axis: bins past it are dropped, a marker past it is drawn at the right
    edge with an arrow (the pack size far beyond every record must not squash the bars)."""
    if not counts or len(edges) != len(counts) + 1:
        return empty_chart(name, "no length histogram")
    left, right, top_pad, bottom = 44.0, 16.0, 48.0, 40.0
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    x0 = edges[0]
    x1 = x_max if x_max is not None else max([edges[-1], *(m.x for m in markers)])
    span = (x1 - x0) or 1.0
    ticks = nice_ticks(max(counts), 4)
    ymax = ticks[-1] or 1.0

    def sx(v: float) -> float:
        return left + plot_w * (v - x0) / span

    body = _y_axis(ticks, ymax, left, top_pad, plot_w, plot_h)
    for lo, hi, count in zip(edges, edges[1:], counts, strict=False):
        if lo >= x1:
            break
        hi = min(hi, x1)
        h = plot_h * count / ymax
        x, w = sx(lo), max(sx(hi) - sx(lo) - 1, 0.5)
        body.append(
            f'<rect class="bar tone-primary" data-label="{_a(f"{lo:g}-{hi:g}")}" '
            f'data-value="{count}" x="{_n(x)}" y="{_n(top_pad + plot_h - h)}" width="{_n(w)}" '
            f'height="{_n(h)}"><title>{lo:g}–{hi:g} tokens: {count} records</title></rect>')
    for t in nice_ticks(x1, 6):
        if t > x1 + 1e-9:
            break
        body.append(f'<text class="tick" x="{_n(sx(t))}" y="{_n(top_pad + plot_h + 15)}" '
                    f'text-anchor="middle">{_fmt_tick(t)}</text>')
    # Labels take turns on three rows so close markers (p90, p99) do not print over each other.
    for i, m in enumerate(sorted(markers, key=lambda m: m.x)):
        off_scale = m.x > x1
        x = sx(min(m.x, x1))
        dash = ' stroke-dasharray="4 3"' if m.dashed else ""
        anchor = "end" if x > left + plot_w * 0.8 else "start"
        dx = -4 if anchor == "end" else 4
        ly = top_pad - 6 - (i % 3) * 13
        label = f"{m.label} →" if off_scale else m.label
        # Off scale: the label alone, with its arrow; a line at the edge would lie about x.
        line = "" if off_scale else (
            f'<line x1="{_n(x)}" x2="{_n(x)}" y1="{_n(ly + 4)}" y2="{_n(top_pad + plot_h)}"'
            f"{dash}/>")
        body.append(
            f'<g class="marker tone-{_a(m.tone)}" data-marker="{_a(m.label)}">{line}'
            f'<text x="{_n(x + dx)}" y="{_n(ly)}" text-anchor="{anchor}">{escape(label)}'
            f"</text></g>")
    if x_title:
        body.append(f'<text class="axis-title" x="{_n(left + plot_w / 2)}" '
                    f'y="{_n(height - 6)}" text-anchor="middle">{escape(x_title)}</text>')
    return _svg(name, width, height, body, aria or name)


def _y_axis(ticks: list[float], ymax: float, left: float, top: float, plot_w: float,
            plot_h: float) -> list[str]:
    out = []
    for t in ticks:
        y = top + plot_h - plot_h * t / ymax
        out.append(f'<line class="grid" x1="{_n(left)}" x2="{_n(left + plot_w)}" y1="{_n(y)}" '
                   f'y2="{_n(y)}"/><text class="tick" x="{_n(left - 6)}" y="{_n(y)}" '
                   f'text-anchor="end" dominant-baseline="central">{_fmt_tick(t)}</text>')
    return out


def grouped_hbar(name: str, labels: list[str], series: list[tuple[str, str, list[float]]], *,
                 width: float = 540, aria: str = "") -> str:
    """Per label one thin bar per series (e.g. generated vs. valid per category value);
    `series` is (name, tone, values aligned with labels). Bars share one scale."""
    if not labels or not series:
        return empty_chart(name, "nothing to show")
    bar_h, gap = 11.0, 9.0
    group_h = bar_h * len(series) + gap
    label_w = min(max(_text_width(lab) for lab in labels) + 12, width * 0.4)
    value_w = 52.0
    plot_w = width - label_w - value_w
    top = max((v for _, _, vals in series for v in vals), default=0) or 1.0
    height = group_h * len(labels) + 6
    body: list[str] = []
    for i, label in enumerate(labels):
        y0 = 3 + i * group_h
        body.append(f'<text x="{_n(label_w - 8)}" y="{_n(y0 + bar_h * len(series) / 2)}" '
                    f'text-anchor="end" dominant-baseline="central">{escape(label)}</text>')
        for j, (sname, tone, values) in enumerate(series):
            v = values[i] if i < len(values) else 0
            w = plot_w * v / top
            y = y0 + j * bar_h
            body.append(
                f'<rect class="bar tone-{_a(tone)}" data-label="{_a(label)}" '
                f'data-series="{_a(sname)}" data-value="{_a(v)}" x="{_n(label_w)}" '
                f'y="{_n(y + 1)}" width="{_n(w)}" height="{_n(bar_h - 2)}" rx="2">'
                f"<title>{escape(label)} · {escape(sname)}: {_n(v)}</title></rect>"
                f'<text class="value small" x="{_n(label_w + w + 5)}" y="{_n(y + bar_h / 2)}" '
                f'dominant-baseline="central">{_n(v)}</text>')
    return _svg(name, width, height, body, aria or name)


def stacked_bar(name: str, segments: list[Bar], *, width: float = 540, height: float = 30,
                aria: str = "") -> str:
    """One bar split into parts of a whole (the record funnel); zero parts are skipped."""
    total = sum(max(s.value, 0) for s in segments)
    if total <= 0:
        return empty_chart(name, "no records")
    body: list[str] = []
    x = 0.0
    for seg in segments:
        if seg.value <= 0:
            continue
        w = width * seg.value / total
        body.append(
            f'<rect class="bar tone-{_a(seg.tone)}" data-label="{_a(seg.label)}" '
            f'data-value="{_a(seg.value)}" x="{_n(x)}" y="0" width="{_n(w)}" '
            f'height="{_n(height)}"><title>{escape(seg.title or seg.label)}</title></rect>')
        if w > _text_width(seg.display) + 10:
            body.append(f'<text class="inbar" x="{_n(x + w / 2)}" y="{_n(height / 2)}" '
                        f'text-anchor="middle" dominant-baseline="central">'
                        f"{escape(seg.display)}</text>")
        x += w
    return _svg(name, width, height, body, aria or name)


def meter(name: str, fraction: float, *, width: float = 540, height: float = 18,
          tone: str = "primary", target: float | None = None, aria: str = "") -> str:
    """A 0..1 fill bar with an optional target tick (packing efficiency, pass rate)."""
    f = min(max(fraction, 0.0), 1.0)
    body = [f'<rect class="track" x="0" y="0" width="{_n(width)}" height="{_n(height)}" rx="4"/>',
            f'<rect class="bar tone-{_a(tone)}" data-label="{_a(name)}" data-value="{f:.4f}" '
            f'x="0" y="0" width="{_n(width * f)}" height="{_n(height)}" rx="4">'
            f"<title>{f:.1%}</title></rect>"]
    if target is not None:
        tx = width * min(max(target, 0.0), 1.0)
        body.append(f'<line class="target" x1="{_n(tx)}" x2="{_n(tx)}" y1="-2" '
                    f'y2="{_n(height + 2)}"><title>target {target:.0%}</title></line>')
    return _svg(name, width, height, body, aria or name)


def empty_chart(name: str, message: str, width: float = 540, height: float = 48) -> str:
    return _svg(name, width, height, [
        f'<text class="empty" x="{_n(width / 2)}" y="{_n(height / 2)}" text-anchor="middle" '
        f'dominant-baseline="central">{escape(message)}</text>'], message)
