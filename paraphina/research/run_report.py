"""The HTML page of one run (:func:`render_run_report`), from a :class:`~paraphina.research.run_trace.RunTrace`.

Each plot sits in ``<figure id="plot-NAME">`` (NAMES lists them) so tests and readers can find
it; the page holds no wall-clock time and no absolute paths beyond the log name given, so the
same log, policy and config give the same bytes.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np

from paraphina.logs import event_time
from paraphina.research import plots
from paraphina.research.run_trace import PURPOSES, RunTrace, TraceObserver, attribution

NAMES = ("equity", "inventory", "fair-value", "quotes", "attribution")
MAX_QUOTE_PANELS = 6

STYLE = ("body{font-family:sans-serif;max-width:1180px;margin:1em auto;color:#222}"
         "figure{margin:10px 0}figcaption{font-size:12px;color:#555;margin:2px 0 6px}"
         "svg{max-width:100%;height:auto}table{border-collapse:collapse;margin:8px 0;font-size:12px}"
         "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f3f3f3}"
         "td.l,th.l{text-align:left}p.note{font-size:12px;color:#555}h2{margin-top:1.4em}")


def _time_axis(ts: np.ndarray) -> tuple[np.ndarray, str]:
    """Event time as elapsed seconds, minutes or hours since the first tick, and its label."""
    if not ts.size:
        return ts.astype(float), "event time"
    span = (int(ts[-1]) - int(ts[0])) / 1e9
    unit, div = ("s", 1.0) if span <= 600 else ("min", 60.0) if span <= 600 * 60 else ("h", 3600.0)
    return (ts - ts[0]) / 1e9 / div, f"event time ({unit} since {event_time(int(ts[0]))})"


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:,.2f}" if abs(v) >= 100 else f"{v:.4g}"
    return html.escape(str(v))


def table(header: list[str], rows: list[list[Any]], left: int = 1) -> str:
    head = "".join(f"<th{' class=l' if i < left else ''}>{html.escape(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{' class=l' if i < left else ''}>{_cell(v)}</td>" for i, v in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(name: str, caption: str, svg: str) -> str:
    return f'<figure id="plot-{name}">\n{svg}\n<figcaption>{html.escape(caption)}</figcaption></figure>'


def regime_changes(t: RunTrace) -> list[tuple[int, str, str]]:
    """(ts_ns, from, to) each time the risk regime (or the kill switch) changed on a main tick."""
    out, prev = [], None
    for ts, r in zip(t.ticks.ts_ns, t.ticks.regime):
        if prev is not None and r != prev:
            out.append((ts, prev, r))
        prev = r
    return out


def _shade_regimes(ax, x: np.ndarray, regimes: list[str]) -> None:
    colours = {"Warning": "#fff1c9", "HardLimit": "#fbd3d3", "Kill": "#f4a6a6"}
    start = 0
    for i in range(1, len(regimes) + 1):
        if i == len(regimes) or regimes[i] != regimes[start]:
            c = colours.get(regimes[start])
            if c:
                ax.axvspan(x[start], x[min(i, len(x) - 1)], color=c, lw=0, zorder=0)
            start = i


def _equity_svg(t: RunTrace, x: np.ndarray, xlabel: str) -> str:
    s = t.ticks
    total = np.asarray(s.total, dtype=float)
    dd = total - np.maximum.accumulate(total) if total.size else total

    def draw(axes):
        a, b = axes
        _shade_regimes(a, x, s.regime)
        xs, r, u, tot = plots.thin(x, np.asarray(s.realised, float), np.asarray(s.unrealised, float), total)
        a.plot(xs, r, color=plots.BLUE, lw=1, label="realised")
        a.plot(xs, u, color=plots.ORANGE, lw=1, label="unrealised")
        a.plot(xs, tot, color="#222", lw=1.4, label="total")
        a.set_title("Equity (USD): realised, unrealised, total")
        a.set_ylabel("PnL (USD)")
        plots.legend_right(a)
        xd, d = plots.thin(x, dd)
        b.fill_between(xd, d, 0.0, color=plots.RED, alpha=0.35, lw=0)
        b.set_title("Drawdown from the running peak of total PnL")
        b.set_ylabel("USD")
        b.set_xlabel(xlabel)

    return plots.render(draw, height=4.6, rows=2, height_ratios=(2.2, 1))


def _inventory_svg(t: RunTrace, x: np.ndarray, xlabel: str) -> str:
    s = t.ticks

    def draw(axes):
        (a,) = axes
        for i, name in enumerate(t.venues):
            xs, q = plots.thin(x, np.asarray(s.venue_position[i], float))
            a.plot(xs, q, lw=0.9, color=plots.PALETTE[i % len(plots.PALETTE)], label=name)
        xs, q = plots.thin(x, np.asarray(s.position, float))
        a.plot(xs, q, lw=1.6, color="#222", label="global")
        a.axhline(0.0, color=plots.GREY, lw=0.6)
        a.set_title("Inventory per venue and global (base units)")
        a.set_xlabel(xlabel)
        plots.legend_right(a)

    return plots.render(draw, height=3.0)


def _fair_value_svg(t: RunTrace, x: np.ndarray, xlabel: str) -> str:
    s = t.ticks
    fv = np.asarray(s.fair_value, float)
    latent = np.asarray(s.latent, float)

    def draw(axes):
        (a,) = axes
        for i, name in enumerate(t.venues):
            xs, m = plots.thin(x, np.asarray(s.venue_mid[i], float))
            a.plot(xs, m, lw=0.7, alpha=0.8, color=plots.PALETTE[i % len(plots.PALETTE)], label=f"mid {name}")
        xs, f = plots.thin(x, fv)
        a.plot(xs, f, lw=1.6, color="#222", label="fair value")
        if not np.all(np.isnan(latent)):
            xs, lp = plots.thin(x, latent)
            a.plot(xs, lp, lw=1.2, ls="--", color=plots.RED, label="latent price (simulator)")
        a.set_title("Fair value and each venue's mid" + (" against the latent price" if not np.all(np.isnan(latent)) else ""))
        a.set_ylabel("price")
        a.set_xlabel(xlabel)
        a.ticklabel_format(axis="y", useOffset=False, style="plain")
        plots.legend_right(a)

    return plots.render(draw, height=3.4)


def _quotes_svg(t: RunTrace, x: np.ndarray, xlabel: str) -> str:
    s = t.ticks
    fv = np.asarray(s.fair_value, float)
    ts = np.asarray(s.ts_ns, dtype=np.int64)
    venues = list(range(min(len(t.venues), MAX_QUOTE_PANELS)))
    t0 = int(ts[0]) if ts.size else 0
    div = {"s": 1.0, "min": 60.0, "h": 3600.0}[xlabel.split("(")[1].split(" ")[0]] if "(" in xlabel else 1.0

    def draw(axes):
        for ax, i in zip(axes, venues):
            mid_i = np.asarray(s.venue_mid[i], float)
            ref = np.where(np.isnan(fv), mid_i, fv)  # fair value, else this venue's mid
            rel = [np.asarray(series[i], float) - ref for series in (s.venue_mid, s.venue_bid, s.venue_ask)]
            xs, mid, bid, ask = plots.thin(x, *rel)
            ax.plot(xs, mid, lw=0.8, color=plots.GREY, label="mid")
            ax.plot(xs, bid, lw=0.9, color=plots.GREEN, label="our bid")
            ax.plot(xs, ask, lw=0.9, color=plots.RED, label="our ask")
            ax.axhline(0.0, color="#222", lw=0.8)
            for purpose in (*PURPOSES, "other"):
                rows = [f for f in t.fills if f.venue == i and f.purpose == purpose]
                if not rows:
                    continue
                fts = np.asarray([f.ts_ns for f in rows], dtype=np.int64)
                k = np.clip(np.searchsorted(ts, fts, side="right") - 1, 0, max(len(ts) - 1, 0))
                fx = (fts - t0) / 1e9 / div
                fy = np.asarray([f.price for f in rows]) - ref[k]
                side = np.asarray([f.side for f in rows])
                col = plots.PURPOSE_COLOURS[purpose]
                for sgn, marker, word in ((1, "^", "buy"), (-1, "v", "sell")):
                    m = side == sgn
                    if m.any():
                        ax.scatter(fx[m], fy[m], s=14, marker=marker, color=col, lw=0,
                                   label=f"{purpose} {word} ({int(m.sum())})", zorder=3)
            ax.set_title(f"{t.venues[i]}: mid, our quotes and fills, relative to fair value")
            ax.set_ylabel("price - fair value")
            plots.legend_right(ax, fontsize=7)
        axes[-1].set_xlabel(xlabel)

    return plots.render(draw, height=2.3 * len(venues) + 0.4, rows=len(venues))


def _attribution_svg(rows: list[tuple[str, float]]) -> str:
    parts = rows[:-1]

    def draw(axes):
        (a,) = axes
        labels = [r[0].split(" (")[0] for r in parts][::-1]
        vals = [r[1] for r in parts][::-1]
        a.barh(labels, vals, color=[plots.GREEN if v >= 0 else plots.RED for v in vals])
        a.axvline(0.0, color="#222", lw=0.8)
        a.set_title(f"PnL attribution (USD; total {rows[-1][1]:+.2f})")
        a.set_xlabel("USD")

    return plots.render(draw, height=0.35 * len(parts) + 1.1)


def run_title(t: RunTrace) -> str:
    src = str(t.session.get("source", ""))
    what = {"paraphina.sim": "Simulated run", "paraphina.backtest": "Backtest", "paraphina.record": "Recorded session",
            "paraphina.shadow": "Shadow session"}.get(src, "Replay")
    bits = [f"{what} of {t.log.rsplit('/', 1)[-1]}", f"policy {t.policy}"]
    if "scenario_id" in t.session:
        bits.append(f"scenario {t.session['scenario_id']} seed {t.session.get('seed', '?')}")
    if t.session.get("input"):
        bits.append(f"market {str(t.session['input']).rsplit('/', 1)[-1]}")
    return " | ".join(bits)


def provenance_rows(t: RunTrace) -> list[list[Any]]:
    rows = [["log", t.log], ["log sha256", t.log_sha256], ["source", t.session.get("source", "-")],
            ["policy", t.policy], ["plugins", ", ".join(f"{k}=={v}" for k, v in t.plugins.items() if k != TraceObserver.name)],
            ["config hash (replayed)", t.config_hash]]
    if t.session.get("config_hash") and t.session["config_hash"] != t.config_hash:
        rows.append(["config hash (recorded)", f"{t.session['config_hash']} (differs: replayed with another config)"])
    for key in ("scenario_id", "seed", "steps", "input", "venues"):
        if key in t.session:
            rows.append([key.replace("_", " "), t.session[key]])
    if t.versions:
        rows.append(["versions", ", ".join(f"{k} {v}" for k, v in sorted(t.versions.items()))])
    rows.append(["action stream sha256", f"{t.action_sha256} ({t.actions} actions)"])
    if t.actions_file_check:
        rows.append(["recorded actions", t.actions_file_check])
    return rows


def render_run_report(t: RunTrace) -> str:
    s = t.ticks
    ts = np.asarray(s.ts_ns, dtype=np.int64)
    x, xlabel = _time_axis(ts)
    total = np.asarray(s.total, dtype=float)
    max_dd = float(-(total - np.maximum.accumulate(total)).min()) if total.size else 0.0
    sm = t.summary
    title = run_title(t)
    body = [f"<h1>{html.escape(title)}</h1>",
            table(["events", "main ticks", "actions", "fills", "realised", "unrealised", "total PnL", "max drawdown",
                   "final position", "kill switch", "risk regime"],
                  [[t.events, sm["ticks"], t.actions, len(t.fills), float(sm["realised"]), float(sm["unrealised"]),
                    float(sm["total"]), max_dd, float(sm["position"]),
                    f"yes ({t.kill_reason})" if sm["kill_switch"] else "no", sm["risk_regime"]]], left=0)]
    if ts.size:
        body.append(f"<p class=note>Event time {event_time(int(ts[0]))} .. {event_time(int(ts[-1]))}; "
                    "shaded: Warning (yellow), HardLimit (pink), kill switch (red).</p>")
        body.append(_figure("equity", "Equity and drawdown over event time (the engine's daily PnL, marked to "
                            "fair value on each main tick).", _equity_svg(t, x, xlabel)))
        body.append(_figure("inventory", "Position per venue and the global position.", _inventory_svg(t, x, xlabel)))
        body.append(_figure("fair-value", "The engine's fair value with each venue's mid (and the simulator's "
                            "latent price when the telemetry has it).", _fair_value_svg(t, x, xlabel)))
        more = len(t.venues) - MAX_QUOTE_PANELS
        body.append(_figure("quotes", "Our resting market-making quotes, each venue's mid and our fills (triangles: "
                            "up = buy, down = sell; colour = purpose: mm blue, hedge orange, exit purple), as distance "
                            "from fair value (from the venue's mid on ticks without a fair value)." + (f" First {MAX_QUOTE_PANELS} venues ({more} more not drawn)."
                                                  if more > 0 else ""), _quotes_svg(t, x, xlabel)))
    else:
        body.append("<p>No main tick ran (the log has no Timer events or the engine never ticked): "
                    "nothing to plot over time.</p>")
    rows = attribution(t)
    body.append("<h2>PnL attribution</h2>")
    body.append(_figure("attribution", "Fill edge against fair value by purpose, fees, funding, and the inventory "
                        "PnL that makes up the rest of the engine's total.", _attribution_svg(rows)))
    body.append(table(["component", "USD"], [[a, b] for a, b in rows]))
    body.append("<h2>Fills</h2>")
    body.append(table(["purpose", "fills", "size", "notional", "fees", "edge vs fair value",
                       *[f"markout {h / 1000:g} s" for h in t.markout_horizons_ms]],
                      _fill_rows(t)))
    body.append("<p class=note>Markout at h: side x (fair value h after the fill - fill price) x size, summed; "
                "fills too close to the end for a horizon count 0 there.</p>")
    body.append("<h2>Kill and regime changes</h2>")
    changes = regime_changes(t)
    if changes:
        body.append(table(["event time", "from", "to"], [[event_time(a), b, c] for a, b, c in changes]))
    else:
        body.append(f"<p>None: the risk regime stayed {html.escape(s.regime[0]) if s.regime else '-'}.</p>")
    if t.kill_reason:
        when = f" at {event_time(t.kill_action_ts_ns)}" if t.kill_action_ts_ns is not None else ""
        body.append(f"<p>Kill switch{html.escape(when)}: {html.escape(str(t.kill_reason))}.</p>")
    body.append("<h2>Provenance</h2>")
    body.append(table(["what", "value"], provenance_rows(t)))
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _fill_rows(t: RunTrace) -> list[list[Any]]:
    out = []
    for p in (*PURPOSES, "other"):
        rows = [f for f in t.fills if f.purpose == p]
        if not rows:
            continue
        mk = t.markouts.get(p, {})
        out.append([p, len(rows), sum(f.size for f in rows), sum(f.size * f.price for f in rows),
                    sum(f.fee for f in rows), sum(f.edge or 0.0 for f in rows),
                    *[mk.get(h, 0.0) for h in t.markout_horizons_ms]])
    if not out:
        out.append(["(no fills)", 0, 0.0, 0.0, 0.0, 0.0, *[0.0 for _ in t.markout_horizons_ms]])
    return out
