"""HTML report of a Monte Carlo directory or a Phase A study, with matplotlib plots.

``render_report(dir)`` reads what the directory holds and returns one self-contained HTML page:

* a Monte Carlo directory (``mc_summary.json`` + ``mc_runs.jsonl``, with ``mc_config.json`` and
  the evidence manifest when present): its provenance (scenario, policy, profile, seeds, config
  hash, versions, command), the PnL histogram with VaR/CVaR, the drawdown tail (exceedance curve),
  the kill probability with its Wilson bounds and the kill reasons, fills and fees per run, and
  the summary table;
* a study (``trials.jsonl``, ``pareto.json``, ``promotion.json``): the Pareto frontier (mean PnL
  against drawdown CVaR and against the kill upper bound), kill probability of every trial with
  bounds and the tier budgets, each trial's knob values, and each promoted winner's Monte Carlo
  section.

Plots come from :mod:`paraphina.research.plots` (deterministic SVG): the same inputs give the same
bytes, so a study can seal its report inside its evidence pack. ``paraphina report`` writes the
report beside the directory instead, so a pack it reads stays verifiable.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from paraphina.errors import UserError
from paraphina.research import plots


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _figure(name: str, caption: str, svg: str) -> str:
    return f'<figure id="plot-{name}">\n{svg}\n<figcaption>{html.escape(caption)}</figcaption></figure>'


def pnl_histogram(pnl: Sequence[float], summary: dict[str, Any], title: str) -> str:
    p = summary["pnl"]
    lvl = f"{summary['level'] * 100:g}%"

    def draw(axes):
        (a,) = axes
        plots.histogram(a, pnl)
        # Markers sit at PnL = -loss: VaR is the PnL the worst tail starts at, CVaR the tail's mean PnL.
        a.axvline(p["mean"], color=plots.GREEN, ls="--", label=f"mean {_fmt(p['mean'])}")
        a.axvline(-p["var"], color=plots.ORANGE, ls="--", label=f"VaR{lvl}: pnl {_fmt(-p['var'])}")
        a.axvline(-p["cvar"], color=plots.RED, ls="--", label=f"CVaR{lvl}: pnl {_fmt(-p['cvar'])}")
        a.set_title(title)
        a.set_xlabel("final PnL (USD)")
        a.set_ylabel("runs")
        a.legend(loc="upper left")

    return plots.render(draw, width=7.5, height=3.2)


def drawdown_tail(dd: Sequence[float], summary: dict[str, Any], title: str) -> str:
    x = np.sort(np.asarray(dd, dtype=float))
    n = x.size
    d = summary["max_drawdown"]
    lvl = f"{summary['level'] * 100:g}%"

    def draw(axes):
        (a,) = axes
        # Survival function P(drawdown >= x): a step down by 1/n at each run's drawdown.
        xs = np.concatenate([[0.0], x])
        ys = np.concatenate([[1.0], (n - np.arange(1, n + 1)) / n]) if n else np.asarray([1.0])
        a.step(xs, ys, where="post", color=plots.BLUE)
        a.axhspan(0.0, 1.0 - summary["level"], color=plots.RED, alpha=0.08, lw=0)
        a.axhline(1.0 - summary["level"], color=plots.GREY, ls=":", lw=1, label=f"tail {1.0 - summary['level']:.3g}")
        a.axvline(d["var"], color=plots.ORANGE, ls="--", label=f"VaR{lvl} {_fmt(d['var'])}")
        a.axvline(d["cvar"], color=plots.RED, ls="--", label=f"CVaR{lvl} {_fmt(d['cvar'])}")
        a.set_ylim(0.0, 1.05)
        a.set_xlim(left=0.0)
        a.set_title(title)
        a.set_xlabel("max drawdown (USD)")
        a.set_ylabel("P(drawdown >= x)")
        a.legend(loc="upper right")

    return plots.render(draw, width=7.5, height=3.2)


def kill_chart(items: Sequence[tuple[str, dict[str, Any]]], title: str,
               budgets: dict[str, float] | None = None) -> str:
    """Point estimate, two-sided Wilson interval (whisker) and one-sided upper bound (red tick)."""

    def draw(axes):
        (a,) = axes
        xs = np.arange(len(items), dtype=float)
        p = np.asarray([k["probability"] for _, k in items])
        lo = np.asarray([k["ci_lower"] for _, k in items])
        hi = np.asarray([k["ci_upper"] for _, k in items])
        a.errorbar(xs, p, yerr=[p - lo, hi - p], fmt="o", color=plots.BLUE, capsize=4, label="k/n, Wilson interval")
        a.scatter(xs, [k["ucb"] for _, k in items], marker="_", s=300, color=plots.RED, label="upper bound (ucb)")
        for tier, b in sorted((budgets or {}).items(), key=lambda t: (t[1], t[0])):
            a.axhline(b, color=plots.GREY, ls=":", lw=1)
            a.annotate(f"{tier} {b:g}", (1.0, b), xycoords=("axes fraction", "data"), ha="right", va="bottom",
                       fontsize=7, color=plots.GREY)
        a.set_xticks(xs, [name if len(items) <= 8 else str(i) for i, (name, _) in enumerate(items)])
        a.set_xlim(-0.5, len(items) - 0.5)
        a.set_ylim(bottom=0.0)
        a.set_title(title)
        a.set_ylabel("kill probability")
        a.legend(loc="upper left")

    return plots.render(draw, width=7.5, height=3.2)


def pareto_chart(rows: Sequence[dict[str, Any]], front: set[str], xkey: str, xlabel: str, title: str) -> str:
    def draw(axes):
        (a,) = axes
        on = [r for r in rows if r["candidate_id"] in front]
        off = [r for r in rows if r["candidate_id"] not in front]
        if off:
            a.scatter([r["metrics"][xkey] for r in off], [r["metrics"]["pnl_mean"] for r in off], facecolors="white",
                      edgecolors=plots.GREY, label="dominated")
        if on:
            a.scatter([r["metrics"][xkey] for r in on], [r["metrics"]["pnl_mean"] for r in on], color=plots.BLUE,
                      label="Pareto frontier")
            for r in on:
                a.annotate(r["candidate_id"][:6], (r["metrics"][xkey], r["metrics"]["pnl_mean"]),
                           textcoords="offset points", xytext=(4, 4), fontsize=7, color=plots.BLUE)
        a.set_title(title)
        a.set_xlabel(xlabel)
        a.set_ylabel("mean PnL (USD)")
        a.legend(loc="best")

    return plots.render(draw, width=7.5, height=3.2)


def fills_fees_chart(runs: Sequence[dict[str, Any]], title: str) -> str:
    def draw(axes):
        a, b = axes
        plots.histogram(a, [r.get("fills", 0) for r in runs])
        a.set_title(f"Fills per run: {title}")
        a.set_xlabel("fills")
        a.set_ylabel("runs")
        plots.histogram(b, [r.get("fees_usd", 0.0) for r in runs], colour=plots.ORANGE)
        b.set_title("Fees per run")
        b.set_xlabel("fees (USD)")
        b.set_ylabel("runs")

    return plots.render(draw, width=7.5, height=4.8, rows=2, sharex=False)


def kill_reasons_chart(reasons: dict[str, int], title: str) -> str:
    def draw(axes):
        (a,) = axes
        names = sorted(reasons, key=lambda k: (-reasons[k], k))[::-1]
        a.barh(names, [reasons[k] for k in names], color=plots.RED)
        a.set_title(title)
        a.set_xlabel("runs killed")

    return plots.render(draw, width=7.5, height=0.4 * len(reasons) + 1.2)


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError:
        raise UserError(f"{path}: not valid JSON") from None


def _load_optional(path: Path) -> dict[str, Any]:
    return _load_json(path) if path.is_file() else {}


def _load_runs(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError:
        raise UserError(f"{path}: not valid JSON lines") from None


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 0) -> str:
    def cell(v: Any) -> str:
        return html.escape(f"{v:.4f}" if isinstance(v, float) else str(v))

    def attr(i: int) -> str:
        return ' class="l"' if i < left else ""

    head = "".join(f"<th{attr(i)}>{html.escape(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{attr(i)}>{cell(v)}</td>" for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def mc_provenance(mc_dir: Path) -> tuple[dict[str, Any], list[list[Any]]]:
    """(mc_config.json, provenance rows) of a Monte Carlo directory."""
    cfg = _load_optional(mc_dir / "mc_config.json")
    manifest = _load_optional(mc_dir / "evidence_pack" / "manifest.json")
    rows: list[list[Any]] = []
    if "scenario_id" in cfg or "scenario" in cfg:
        rows.append(["scenario", f"{cfg.get('scenario_id', '?')} ({cfg.get('scenario', '?')})"])
    for key in ("policy", "profile", "candidate_id", "evaluate", "ticks"):
        if cfg.get(key) is not None:
            rows.append([key.replace("_", " "), cfg[key]])
    if "base_seed" in cfg:
        rows.append(["seed", f"base seed {cfg['base_seed']}; run seeds: {cfg.get('seed_rule', '?')}"])
    if "runs" in cfg:
        rows.append(["runs", f"{cfg['runs']} (this directory: from index {cfg.get('start_index', 0)}, "
                             f"{cfg.get('count', cfg['runs'])} runs)"])
    ch = cfg.get("config_hash") or manifest.get("config_hash")
    if ch:
        rows.append(["config hash", ch])
    if manifest.get("versions"):
        rows.append(["versions", ", ".join(f"{k} {v}" for k, v in sorted(manifest["versions"].items()))])
    for c in manifest.get("commands", []):
        rows.append(["command", c])
    rows.append(["evidence pack", "evidence_pack/SHA256SUMS" if (mc_dir / "evidence_pack" / "SHA256SUMS").is_file()
                 else "none"])
    return cfg, rows


def _mc_section(mc_dir: Path, name: str, prefix: str = "") -> tuple[list[str], dict[str, Any]]:
    """The Monte Carlo section; figure ids get ``prefix`` (a study holds several sections)."""
    summary = _load_json(mc_dir / "mc_summary.json")
    runs = _load_runs(mc_dir / "mc_runs.jsonl")
    if not runs:
        raise UserError(f"{mc_dir / 'mc_runs.jsonl'}: no runs")
    p, d, k = summary["pnl"], summary["max_drawdown"], summary["kill"]
    _, prov = mc_provenance(mc_dir)
    reasons = k.get("reasons") or {}
    if not reasons:
        for r in runs:
            if r.get("kill_switch"):
                reasons[str(r.get("kill_reason"))] = reasons.get(str(r.get("kill_reason")), 0) + 1
    mean = lambda key: float(np.mean([r.get(key, 0.0) for r in runs]))  # noqa: E731
    parts = [
        _table(["what", "value"], prov, left=2),
        f"<p>Kill switch: <b>{k['count']}/{k['runs']}</b> runs (p = {k['probability']:.4f}, two-sided Wilson "
        f"[{k['ci_lower']:.4f}, {k['ci_upper']:.4f}], one-sided upper bound {k['ucb']:.4f}).</p>",
        _figure(prefix + "pnl", f"PnL distribution of {name}", pnl_histogram([r["pnl_total"] for r in runs], summary,
                                                                      f"PnL distribution: {name}")),
        _figure(prefix + "drawdown", f"Drawdown tail of {name}", drawdown_tail([r["max_drawdown"] for r in runs], summary,
                                                                        f"Drawdown tail: {name}")),
        _figure(prefix + "fills-fees", "Fills and fees per run", fills_fees_chart(runs, name)),
    ]
    if reasons:
        parts.append(_figure(prefix + "kill-reasons", "Why runs were killed",
                             kill_reasons_chart(reasons, f"Kill reasons: {name}")))
        parts.append(_table(["kill reason", "runs"], sorted(reasons.items(), key=lambda t: (-t[1], t[0])), left=1))
    parts.append(_table(["runs", "pnl mean", "pnl std", "VaR loss", "CVaR loss", "pnl lcb", "dd mean", "dd VaR",
                         "dd CVaR", "kills", "kill p", "wilson lo", "wilson hi", "kill ucb"],
                        [[summary["runs"], p["mean"], p["std"], p["var"], p["cvar"], p["lcb"], d["mean"], d["var"],
                          d["cvar"], f"{k['count']}/{k['runs']}", k["probability"], k["ci_lower"], k["ci_upper"],
                          k["ucb"]]]))
    parts.append(_table(["fills mean", "fees mean (USD)", "funding mean (USD)", "actions mean", "max |q| mean"],
                        [[mean("fills"), mean("fees_usd"), mean("funding_usd"), mean("actions"), mean("max_abs_q")]]))
    return parts, summary


STYLE = ("body{font-family:sans-serif;max-width:1180px;margin:1em auto;color:#222}"
         "figure{margin:10px 0}figcaption{font-size:12px;color:#555}svg{max-width:100%;height:auto}"
         "table{border-collapse:collapse;margin:8px 0;font-size:12px}"
         "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f3f3f3}"
         "td.l,th.l{text-align:left}p.note{font-size:12px;color:#555}")


def _page(title: str, body: list[str]) -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n<h1>{html.escape(title)}</h1>\n" + "\n".join(body)
            + "\n</body></html>\n")


NOTE = ("<p class=\"note\">VaR/CVaR are losses at the summary's level: VaR = inverse empirical CDF, CVaR = mean "
        "of the worst tail (Acerbi-Tasche). Kill: dot = k/n, whisker = two-sided Wilson interval, red tick = "
        "one-sided Wilson upper bound (what budgets gate on).</p>")


def mc_title(root: Path) -> str:
    cfg = _load_optional(root / "mc_config.json")
    bits = [f"Monte Carlo: {cfg.get('scenario_id') or root.name}"]
    if cfg.get("policy"):
        bits.append(f"policy {cfg['policy']}")
    if "runs" in cfg:
        bits.append(f"{cfg['runs']} runs")
    if "base_seed" in cfg:
        bits.append(f"seed {cfg['base_seed']}")
    if cfg.get("config_hash"):
        bits.append(f"config {cfg['config_hash'][:12]}")
    return " | ".join(bits)


def render_report(study_dir: str | Path) -> str:
    """The HTML page for a Monte Carlo directory or a Phase A study directory."""
    root = Path(study_dir)
    if (root / "trials.jsonl").is_file():
        return _render_study(root)
    if (root / "mc_summary.json").is_file():
        parts, _ = _mc_section(root, root.name)
        return _page(mc_title(root), [NOTE, *parts])
    raise UserError(f"{root}: neither a Monte Carlo directory (mc_summary.json) nor a study (trials.jsonl)")


def _knob_table(trials: list[dict[str, Any]]) -> str:
    """Each trial's knob values (its PARAPHINA_* overlay), one column per knob."""
    keys = sorted({k for t in trials for k in t.get("env", {})})
    header = ["trial", *[k.removeprefix("PARAPHINA_").lower() for k in keys], "config hash"]
    rows = [[t["trial_id"], *[t.get("env", {}).get(k, "-") for k in keys], t.get("config_hash", "-")[:12]]
            for t in trials]
    return _table(header, rows, left=1)


def _render_study(root: Path) -> str:
    trials = _load_runs(root / "trials.jsonl")
    if not trials:
        raise UserError(f"{root / 'trials.jsonl'}: no trials")
    pareto = _load_json(root / "pareto.json")
    promotion = _load_json(root / "promotion.json")["tiers"]
    study = _load_optional(root / "study.json")
    front = {c["candidate_id"] for c in pareto["candidates"]}
    valid = [t for t in trials if t["valid"]]
    prov = [["study", study.get("study_name", root.name)], ["seed", study.get("seed", "?")],
            ["candidates", study.get("candidates", len(trials))], ["runs per candidate", study.get("runs", "?")],
            ["alpha", study.get("alpha", "?")], ["evaluate", study.get("evaluate", "?")]]
    # Only what the study wrote before its report: the pipeline seals the report into the root
    # evidence pack, whose manifest is written after it.
    if study.get("versions"):
        prov.append(["versions", ", ".join(f"{k} {v}" for k, v in sorted(study["versions"].items()))])
    if study.get("suite"):
        prov.append(["suite", study["suite"]])
    body = [_table(["what", "value"], prov, left=2),
            f"<p>{len(trials)} trials, {len(front)} on the Pareto frontier (filled).</p>", NOTE]
    if valid:
        body.append(_figure("pareto-dd", "Pareto: mean PnL vs drawdown CVaR",
                            pareto_chart(valid, front, "dd_cvar", "drawdown CVaR (USD)",
                                         "Pareto: mean PnL vs drawdown CVaR")))
        body.append(_figure("pareto-kill", "Pareto: mean PnL vs kill upper bound",
                            pareto_chart(valid, front, "kill_ucb", "kill probability upper bound",
                                         "Pareto: mean PnL vs kill upper bound")))
    budgets = {t: b["max_kill_ucb"] for t, b in study.get("budgets", {}).items()}
    kills = [(t["trial_id"].split("_")[1], {"count": t["metrics"]["kill_k"], "runs": t["metrics"]["kill_n"],
                                           "probability": t["metrics"]["kill_rate"],
                                           "ci_lower": t["metrics"]["kill_ci_lower"],
                                           "ci_upper": t["metrics"]["kill_ci_upper"], "ucb": t["metrics"]["kill_ucb"]})
             for t in trials]
    body.append(_figure("kill", "Kill probability per trial (x = trial number) against the tier budgets",
                        kill_chart(kills, "Kill probability per trial (x = trial number)", budgets)))
    winners_by_trial: dict[str, list[str]] = {}
    for tier, p in sorted(promotion.items()):
        if p.get("winner"):
            winners_by_trial.setdefault(p["trial_id"], []).append(tier)
    body.append("<h2>Promotion</h2>")
    body.append(_table(["tier", "winner", "trial", "note"],
                       [[tier, p.get("winner") or "-", p.get("trial_id", "-"), p.get("reason", "")]
                        for tier, p in sorted(promotion.items())], left=4))
    body.append("<h2>Trials</h2>")
    body.append(_table(["trial", "profile", "pnl mean", "pnl lcb", "kills", "kill ucb", "dd CVaR", "frontier",
                        "evidence", "winner of"],
                       [[t["trial_id"], t["profile"], t["metrics"]["pnl_mean"], t["metrics"]["pnl_lcb"],
                         f"{t['metrics']['kill_k']}/{t['metrics']['kill_n']}", t["metrics"]["kill_ucb"],
                         t["metrics"]["dd_cvar"], "yes" if t["candidate_id"] in front else "",
                         "ok" if t["evidence_verified"] else "FAILED", ", ".join(winners_by_trial.get(t["trial_id"], []))]
                        for t in trials], left=2))
    body.append("<h2>Knob values</h2>")
    body.append(_knob_table(trials))
    for tid in sorted(winners_by_trial):
        mc_dir = root / "trials" / tid / "mc"
        if (mc_dir / "mc_summary.json").is_file():
            body.append(f"<h2>{html.escape(tid)} (winner of {html.escape(', '.join(winners_by_trial[tid]))})</h2>")
            body.extend(_mc_section(mc_dir, tid, prefix=f"{tid}-")[0])
    title = (f"Phase A study: {study.get('study_name', root.name)} | {len(trials)} candidates x "
             f"{study.get('runs', '?')} runs | seed {study.get('seed', '?')}")
    return _page(title, body)
