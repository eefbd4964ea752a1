"""HTML report of a Monte Carlo directory or a Phase A study, with inline SVG plots.

``render_report(dir)`` reads what the directory holds and returns one self-contained HTML page:

* a Monte Carlo directory (``mc_summary.json`` + ``mc_runs.jsonl``): PnL histogram with VaR/CVaR,
  drawdown tail (exceedance curve with VaR/CVaR), kill probability with its Wilson interval and
  upper bound, and the summary table;
* a study (``trials.jsonl``, ``pareto.json``, ``promotion.json``): the Pareto frontier (mean PnL
  against drawdown CVaR and against the kill upper bound), kill probability of every trial with
  bounds and the tier budgets, PnL histogram and drawdown tail of each promoted winner, tables.

The SVG is written by hand (a few rectangles, lines and circles): no plotting dependency, and the
same inputs give the same bytes, so a report can sit inside an evidence pack.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from paraphina.errors import UserError

W, H = 560, 300
ML, MR, MT, MB = 64, 20, 30, 46
FRONT = "#1f77b4"
OTHER = "#9aa5b1"
RED = "#d62728"
ORANGE = "#ff7f0e"


def _fmt(v: float) -> str:
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        return f"{v:.2e}"
    return f"{v:.4g}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= 0.75 * raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + 1e-9 * step:
        ticks.append(round(t, 12))
        t += step
    return ticks


class Chart:
    """A linear x/y chart with axes, drawing into an SVG string."""

    def __init__(self, title: str, xlabel: str, ylabel: str, xr: tuple[float, float], yr: tuple[float, float]):
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.x0, self.x1 = xr if xr[1] > xr[0] else (xr[0] - 0.5, xr[0] + 0.5)
        self.y0, self.y1 = yr if yr[1] > yr[0] else (yr[0] - 0.5, yr[0] + 0.5)
        self.parts: list[str] = []

    def x(self, v: float) -> float:
        return ML + (v - self.x0) / (self.x1 - self.x0) * (W - ML - MR)

    def y(self, v: float) -> float:
        return H - MB - (v - self.y0) / (self.y1 - self.y0) * (H - MT - MB)

    def add(self, s: str) -> None:
        self.parts.append(s)

    def rect(self, x0: float, x1: float, y0: float, y1: float, fill: str, opacity: float = 1.0) -> None:
        px0, px1, py0, py1 = self.x(x0), self.x(x1), self.y(y1), self.y(y0)
        self.add(f'<rect x="{px0:.2f}" y="{py0:.2f}" width="{max(px1 - px0, 0.5):.2f}" '
                 f'height="{max(py1 - py0, 0):.2f}" fill="{fill}" fill-opacity="{opacity}"/>')

    def line(self, xa: float, ya: float, xb: float, yb: float, color: str, dash: bool = False, width: float = 1.5) -> None:
        d = ' stroke-dasharray="5,4"' if dash else ""
        self.add(f'<line x1="{self.x(xa):.2f}" y1="{self.y(ya):.2f}" x2="{self.x(xb):.2f}" y2="{self.y(yb):.2f}" '
                 f'stroke="{color}" stroke-width="{width}"{d}/>')

    def vline(self, xv: float, color: str, label: str, row: int = 0) -> None:
        """A dashed vertical marker; ``row`` staggers labels of nearby markers."""
        self.line(xv, self.y0, xv, self.y1, color, dash=True)
        px = self.x(xv)
        right = px > ML + 0.6 * (W - ML - MR)
        anchor, dx = ("end", -3) if right else ("start", 3)
        self.add(f'<text x="{px + dx:.2f}" y="{MT + 12 + 13 * row}" font-size="11" text-anchor="{anchor}" '
                 f'fill="{color}">{html.escape(label)}</text>')

    def hline(self, yv: float, color: str, label: str) -> None:
        self.line(self.x0, yv, self.x1, yv, color, dash=True, width=1.0)
        self.add(f'<text x="{W - MR - 3}" y="{self.y(yv) - 3:.2f}" font-size="10" text-anchor="end" '
                 f'fill="{color}">{html.escape(label)}</text>')

    def circle(self, xv: float, yv: float, color: str, filled: bool = True, r: float = 4.0, title: str = "") -> None:
        fill = color if filled else "white"
        t = f"<title>{html.escape(title)}</title>" if title else ""
        self.add(f'<circle cx="{self.x(xv):.2f}" cy="{self.y(yv):.2f}" r="{r}" fill="{fill}" stroke="{color}" '
                 f'stroke-width="1.5">{t}</circle>')

    def polyline(self, pts: Sequence[tuple[float, float]], color: str) -> None:
        p = " ".join(f"{self.x(a):.2f},{self.y(b):.2f}" for a, b in pts)
        self.add(f'<polyline points="{p}" fill="none" stroke="{color}" stroke-width="1.5"/>')

    def text(self, xv: float, yv: float, s: str, color: str = "#333") -> None:
        self.add(f'<text x="{self.x(xv) + 5:.2f}" y="{self.y(yv) - 5:.2f}" font-size="10" fill="{color}">'
                 f'{html.escape(s)}</text>')

    def svg(self, xticks: Sequence[tuple[float, str]] | None = None) -> str:
        axes = [f'<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>',
                f'<rect x="{ML}" y="{MT}" width="{W - ML - MR}" height="{H - MT - MB}" fill="none" stroke="#888"/>',
                f'<text x="{W / 2}" y="18" font-size="13" text-anchor="middle" font-weight="bold">'
                f'{html.escape(self.title)}</text>',
                f'<text x="{(ML + W - MR) / 2}" y="{H - 8}" font-size="11" text-anchor="middle">'
                f'{html.escape(self.xlabel)}</text>',
                f'<text x="14" y="{(MT + H - MB) / 2}" font-size="11" text-anchor="middle" '
                f'transform="rotate(-90 14 {(MT + H - MB) / 2})">{html.escape(self.ylabel)}</text>']
        xt = xticks if xticks is not None else [(t, _fmt(t)) for t in nice_ticks(self.x0, self.x1)]
        for t, label in xt:
            if self.x0 - 1e-12 <= t <= self.x1 + 1e-12:
                px = self.x(t)
                axes.append(f'<line x1="{px:.2f}" y1="{H - MB}" x2="{px:.2f}" y2="{H - MB + 4}" stroke="#888"/>')
                axes.append(f'<text x="{px:.2f}" y="{H - MB + 16}" font-size="10" text-anchor="middle">'
                            f'{html.escape(label)}</text>')
        for t in nice_ticks(self.y0, self.y1):
            if self.y0 - 1e-12 <= t <= self.y1 + 1e-12:
                py = self.y(t)
                axes.append(f'<line x1="{ML - 4}" y1="{py:.2f}" x2="{ML}" y2="{py:.2f}" stroke="#888"/>')
                axes.append(f'<line x1="{ML}" y1="{py:.2f}" x2="{W - MR}" y2="{py:.2f}" stroke="#eee"/>')
                axes.append(f'<text x="{ML - 6}" y="{py + 3:.2f}" font-size="10" text-anchor="end">{_fmt(t)}</text>')
        body = "\n".join(self.parts)
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
                f'font-family="sans-serif">\n' + "\n".join(axes) + "\n" + body + "\n</svg>")


def _pad(lo: float, hi: float, frac: float = 0.05) -> tuple[float, float]:
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    return lo - frac * span, hi + frac * span


def pnl_histogram(pnl: Sequence[float], summary: dict[str, Any], title: str) -> str:
    x = np.asarray(pnl, dtype=float)
    bins = int(min(40, max(5, math.ceil(math.sqrt(x.size)))))
    lo, hi = float(x.min()), float(x.max())
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
    c = Chart(title, "final PnL (USD)", "runs", (lo, hi), (0.0, float(counts.max()) * 1.1))
    for k, n in enumerate(counts.tolist()):
        if n:
            c.rect(float(edges[k]), float(edges[k + 1]), 0.0, float(n), FRONT, 0.75)
    p = summary["pnl"]
    lvl = f"{summary['level'] * 100:g}%"
    # Markers sit at PnL = -loss: VaR is the PnL the worst tail starts at, CVaR the tail's mean PnL.
    c.vline(p["mean"], "#2ca02c", f"mean {_fmt(p['mean'])}", row=0)
    c.vline(-p["var"], ORANGE, f"VaR{lvl}: pnl {_fmt(-p['var'])}", row=1)
    c.vline(-p["cvar"], RED, f"CVaR{lvl}: pnl {_fmt(-p['cvar'])}", row=2)
    return c.svg()


def drawdown_tail(dd: Sequence[float], summary: dict[str, Any], title: str) -> str:
    x = np.sort(np.asarray(dd, dtype=float))
    n = x.size
    hi = float(x.max()) if n else 1.0
    c = Chart(title, "max drawdown (USD)", "P(drawdown >= x)", (0.0, hi * 1.05 if hi > 0 else 1.0), (0.0, 1.05))
    d = summary["max_drawdown"]
    c.rect(d["var"], c.x1, 0.0, 1.0 - summary["level"], RED, 0.12)
    pts = []
    for i, v in enumerate(x.tolist()):
        surv = (n - i) / n
        pts.append((v, surv))
        pts.append((v, (n - i - 1) / n))
    c.polyline([(0.0, 1.0)] + pts, FRONT)
    lvl = f"{summary['level'] * 100:g}%"
    c.vline(d["var"], ORANGE, f"VaR{lvl} {_fmt(d['var'])}", row=0)
    c.vline(d["cvar"], RED, f"CVaR{lvl} {_fmt(d['cvar'])}", row=1)
    c.hline(1.0 - summary["level"], "#888", f"tail {1.0 - summary['level']:.3g}")
    return c.svg()


def kill_chart(items: Sequence[tuple[str, dict[str, Any]]], title: str,
               budgets: dict[str, float] | None = None) -> str:
    """Point estimate, two-sided Wilson interval (whisker) and one-sided upper bound (red tick)."""
    top = max([k["ci_upper"] for _, k in items] + [k["ucb"] for _, k in items] + list((budgets or {}).values()))
    c = Chart(title, "", "kill probability", (-0.5, len(items) - 0.5), (0.0, min(1.0, top * 1.15) or 0.05))
    for i, (name, k) in enumerate(items):
        c.line(i, k["ci_lower"], i, k["ci_upper"], FRONT, width=2.0)
        c.line(i - 0.15, k["ci_lower"], i + 0.15, k["ci_lower"], FRONT)
        c.line(i - 0.15, k["ci_upper"], i + 0.15, k["ci_upper"], FRONT)
        c.line(i - 0.25, k["ucb"], i + 0.25, k["ucb"], RED, width=2.5)
        c.circle(i, k["probability"], FRONT, title=f"{name}: {k['count']}/{k['runs']} kills, "
                 f"interval [{k['ci_lower']:.4f}, {k['ci_upper']:.4f}], ucb {k['ucb']:.4f}")
    for tier, b in sorted((budgets or {}).items(), key=lambda t: (t[1], t[0])):
        c.hline(b, "#888", f"{tier} {b:g}")
    labels = [(float(i), name if len(items) <= 8 else str(i)) for i, (name, _) in enumerate(items)]
    return c.svg(xticks=labels)


def pareto_chart(rows: Sequence[dict[str, Any]], front: set[str], xkey: str, xlabel: str, title: str) -> str:
    xs = [r["metrics"][xkey] for r in rows]
    ys = [r["metrics"]["pnl_mean"] for r in rows]
    c = Chart(title, xlabel, "mean PnL (USD)", _pad(min(xs), max(xs)), _pad(min(ys), max(ys)))
    for r, xv, yv in zip(rows, xs, ys):
        on = r["candidate_id"] in front
        c.circle(xv, yv, FRONT if on else OTHER, filled=on,
                 title=f"{r['candidate_id']} ({r['profile']}) pnl={yv:.4f} {xkey}={xv:.4f}")
        if on:
            c.text(xv, yv, r["candidate_id"][:6], FRONT)
    return c.svg()


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError:
        raise UserError(f"{path}: not valid JSON") from None


def _load_runs(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError:
        raise UserError(f"{path}: not valid JSON lines") from None


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        return html.escape(f"{v:.4f}" if isinstance(v, float) else str(v))
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _mc_section(mc_dir: Path, name: str) -> tuple[list[str], dict[str, Any]]:
    summary = _load_json(mc_dir / "mc_summary.json")
    runs = _load_runs(mc_dir / "mc_runs.jsonl")
    if not runs:
        raise UserError(f"{mc_dir / 'mc_runs.jsonl'}: no runs")
    p, d, k = summary["pnl"], summary["max_drawdown"], summary["kill"]
    parts = [
        pnl_histogram([r["pnl_total"] for r in runs], summary, f"PnL distribution: {name}"),
        drawdown_tail([r["max_drawdown"] for r in runs], summary, f"Drawdown tail: {name}"),
        _table(["runs", "pnl mean", "pnl std", "VaR loss", "CVaR loss", "pnl lcb", "dd mean", "dd VaR", "dd CVaR",
                "kills", "kill p", "wilson lo", "wilson hi", "kill ucb"],
               [[summary["runs"], p["mean"], p["std"], p["var"], p["cvar"], p["lcb"], d["mean"], d["var"], d["cvar"],
                 f"{k['count']}/{k['runs']}", k["probability"], k["ci_lower"], k["ci_upper"], k["ucb"]]]),
    ]
    return parts, summary


STYLE = ("body{font-family:sans-serif;max-width:1180px;margin:1em auto;color:#222}"
         "svg{margin:6px;border:1px solid #eee}table{border-collapse:collapse;margin:8px 0;font-size:12px}"
         "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f3f3f3}"
         "p.note{font-size:12px;color:#555}")


def _page(title: str, body: list[str]) -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n<h1>{html.escape(title)}</h1>\n" + "\n".join(body)
            + "\n</body></html>\n")


NOTE = ("<p class=\"note\">VaR/CVaR are losses at the summary's level: VaR = inverse empirical CDF, CVaR = mean "
        "of the worst tail (Acerbi-Tasche). Kill: dot = k/n, whisker = two-sided Wilson interval, red tick = "
        "one-sided Wilson upper bound (what budgets gate on).</p>")


def render_report(study_dir: str | Path) -> str:
    """The HTML page for a Monte Carlo directory or a Phase A study directory."""
    root = Path(study_dir)
    if (root / "trials.jsonl").is_file():
        return _render_study(root)
    if (root / "mc_summary.json").is_file():
        parts, summary = _mc_section(root, root.name)
        body = [NOTE, *parts[:2], kill_chart([(root.name, summary["kill"])], "Kill probability"), parts[2]]
        return _page(f"Monte Carlo report: {root.name}", body)
    raise UserError(f"{root}: neither a Monte Carlo directory (mc_summary.json) nor a study (trials.jsonl)")


def _render_study(root: Path) -> str:
    trials = _load_runs(root / "trials.jsonl")
    if not trials:
        raise UserError(f"{root / 'trials.jsonl'}: no trials")
    pareto = _load_json(root / "pareto.json")
    promotion = _load_json(root / "promotion.json")["tiers"]
    study = _load_json(root / "study.json") if (root / "study.json").is_file() else {}
    front = {c["candidate_id"] for c in pareto["candidates"]}
    valid = [t for t in trials if t["valid"]]
    body = [f"<p>{len(trials)} trials, {len(front)} on the Pareto frontier (filled). Seed {study.get('seed', '?')}, "
            f"{study.get('runs', '?')} runs per candidate, alpha {study.get('alpha', '?')}.</p>", NOTE]
    if valid:
        body.append(pareto_chart(valid, front, "dd_cvar", "drawdown CVaR (USD)", "Pareto: mean PnL vs drawdown CVaR"))
        body.append(pareto_chart(valid, front, "kill_ucb", "kill probability upper bound",
                                 "Pareto: mean PnL vs kill upper bound"))
    budgets = {t: b["max_kill_ucb"] for t, b in study.get("budgets", {}).items()}
    kills = [(t["trial_id"].split("_")[1], {"count": t["metrics"]["kill_k"], "runs": t["metrics"]["kill_n"],
                                           "probability": t["metrics"]["kill_rate"],
                                           "ci_lower": t["metrics"]["kill_ci_lower"],
                                           "ci_upper": t["metrics"]["kill_ci_upper"], "ucb": t["metrics"]["kill_ucb"]})
             for t in trials]
    body.append(kill_chart(kills, "Kill probability per trial (x = trial number)", budgets))
    winners_by_trial: dict[str, list[str]] = {}
    for tier, p in sorted(promotion.items()):
        if p.get("winner"):
            winners_by_trial.setdefault(p["trial_id"], []).append(tier)
    body.append("<h2>Promotion</h2>")
    body.append(_table(["tier", "winner", "trial", "note"],
                       [[tier, p.get("winner") or "-", p.get("trial_id", "-"), p.get("reason", "")]
                        for tier, p in sorted(promotion.items())]))
    body.append("<h2>Trials</h2>")
    body.append(_table(["trial", "profile", "pnl mean", "pnl lcb", "kills", "kill ucb", "dd CVaR", "frontier",
                        "evidence", "winner of"],
                       [[t["trial_id"], t["profile"], t["metrics"]["pnl_mean"], t["metrics"]["pnl_lcb"],
                         f"{t['metrics']['kill_k']}/{t['metrics']['kill_n']}", t["metrics"]["kill_ucb"],
                         t["metrics"]["dd_cvar"], "yes" if t["candidate_id"] in front else "",
                         "ok" if t["evidence_verified"] else "FAILED", ", ".join(winners_by_trial.get(t["trial_id"], []))]
                        for t in trials]))
    for tid in sorted(winners_by_trial):
        mc_dir = root / "trials" / tid / "mc"
        if (mc_dir / "mc_summary.json").is_file():
            body.append(f"<h2>{html.escape(tid)} (winner of {html.escape(', '.join(winners_by_trial[tid]))})</h2>")
            body.extend(_mc_section(mc_dir, tid)[0])
    return _page(f"Phase A study: {study.get('study_name', root.name)}", body)
