"""Matplotlib figures as deterministic inline SVG (for the HTML reports).

Why matplotlib: static SVG that an evidence pack can seal (no JavaScript, no CDN), and its SVG
backend can be made byte-stable: ``svg.hashsalt`` fixes the element ids, ``svg.fonttype='none'``
keeps text as text (no glyph paths that depend on the installed fonts), and the ``Date`` and
``Creator`` metadata are dropped. The same data and the same matplotlib version give the same bytes.

No pyplot: figures are built from :class:`matplotlib.figure.Figure` directly, so nothing global
(backends, the current figure) is touched.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

# The same palette everywhere a report names a series.
BLUE = "#1f77b4"
ORANGE = "#ff7f0e"
GREEN = "#2ca02c"
RED = "#d62728"
PURPLE = "#9467bd"
GREY = "#8c8c8c"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
PURPOSE_COLOURS = {"mm": BLUE, "hedge": ORANGE, "exit": PURPLE, "other": GREY}

RC = {
    "svg.hashsalt": "paraphina",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 9.0,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8.0,
    "legend.frameon": False,
    "path.simplify": True,
    "axes.axisbelow": True,
}

MAX_POINTS = 2000  # a line drawn with more points than this is thinned (min/max per bucket)


def render(draw, width: float = 11.0, height: float = 3.2, rows: int = 1, sharex: bool = True,
           height_ratios: Sequence[float] | None = None) -> str:
    """Build a figure with ``rows`` stacked axes, let ``draw(axes)`` fill it (under the report
    style: rcParams are read when artists are made), and return it as an ``<svg>`` element (no
    XML prolog), byte-stable for equal inputs."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
        axes = fig.subplots(rows, 1, sharex=sharex, squeeze=False,
                            height_ratios=list(height_ratios) if height_ratios else None)[:, 0].tolist()
        draw(axes)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return text[text.index("<svg"):].strip()


def thin(x: np.ndarray, *ys: np.ndarray, max_points: int = MAX_POINTS):
    """Keep the shape of long series: per bucket of consecutive points, the first point and the
    points where each ``y`` is lowest and highest (deterministic: indices only)."""
    n = len(x)
    if n <= max_points:
        return (x, *ys)
    buckets = max_points // 3
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    keep = [np.asarray([n - 1])]
    for a, b in zip(edges[:-1].tolist(), edges[1:].tolist()):
        if b <= a:
            continue
        idx = [a]
        for y in ys:
            seg = y[a:b]
            if np.all(np.isnan(seg)):
                continue
            idx.append(a + int(np.nanargmin(seg)))
            idx.append(a + int(np.nanargmax(seg)))
        keep.append(np.asarray(idx))
    sel = np.unique(np.concatenate(keep))
    return (x[sel], *(y[sel] for y in ys))


def legend_right(ax, **kw) -> None:
    """The legend outside the axes, on the right: it never hides data."""
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), **kw)


def histogram(ax, values: Sequence[float], colour: str = BLUE) -> None:
    x = np.asarray(values, dtype=float)
    bins = int(min(40, max(5, np.ceil(np.sqrt(max(x.size, 1))))))
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 1.0)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    ax.hist(x, bins=bins, range=(lo, hi), color=colour, alpha=0.75, edgecolor="white", linewidth=0.6)
