"""The HTML page of an adversarial search directory (``report.html``): score by generation,
the sampled parameters by generation (failures in red), and the failures found.

Built only from the directory's files (``adversarial_config.json``, ``evaluations.jsonl``,
``generations.jsonl``, ``failures.json``), with the deterministic SVG of
:mod:`paraphina.research.plots`: equal directories give equal bytes.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from paraphina.research import plots


def _read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return html.escape(f"{v:.4g}" if isinstance(v, float) else str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(svg: str, caption: str) -> str:
    return f"<figure>\n{svg}\n<figcaption>{html.escape(caption)}</figcaption></figure>"


def _x(evals: list[dict[str, Any]], population: int) -> np.ndarray:
    """Generation plus the candidate's place within it: one column of points per generation."""
    return np.asarray([r["generation"] + 0.8 * (r["index"] % population) / max(1, population) for r in evals])


def score_chart(evals: list[dict[str, Any]], gens: list[dict[str, Any]], population: int) -> str:
    def draw(axes):
        ax = axes[0]
        x = _x(evals, population)
        s = np.asarray([r["score"] for r in evals])
        bad = np.asarray([r["failed"] for r in evals], dtype=bool)
        ax.scatter(x[~bad], s[~bad], s=10, color=plots.BLUE, label="passed")
        ax.scatter(x[bad], s[bad], s=10, color=plots.RED, label="failed")
        g = [r["generation"] + 0.4 for r in gens]
        ax.plot(g, [r["best_score"] for r in gens], color=plots.ORANGE, marker="o", label="best")
        ax.plot(g, [r["elite_threshold"] for r in gens], color=plots.GREEN, marker=".", label="elite threshold")
        ax.set_xlabel("generation")
        ax.set_ylabel("failure score")
        ax.set_title("Failure score by generation")
        plots.legend_right(ax)

    return plots.render(draw, height=3.4)


def params_chart(evals: list[dict[str, Any]], names: list[str], population: int) -> str:
    def draw(axes):
        x = _x(evals, population)
        bad = np.asarray([r["failed"] for r in evals], dtype=bool)
        for ax, name in zip(axes, names):
            raw = [r["params"][name] for r in evals]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
                y = np.asarray(raw, dtype=float)
            else:  # categorical: one row per choice, in order of first appearance
                labels = list(dict.fromkeys(str(v) for v in raw))
                y = np.asarray([labels.index(str(v)) for v in raw], dtype=float)
                ax.set_yticks(range(len(labels)), labels)
            ax.scatter(x[~bad], y[~bad], s=6, color=plots.BLUE)
            ax.scatter(x[bad], y[bad], s=6, color=plots.RED)
            ax.set_ylabel(name, rotation=0, ha="right")
        axes[0].set_title("Sampled parameters by generation (red: failed)")
        axes[-1].set_xlabel("generation")

    return plots.render(draw, height=max(2.0, 0.9 * len(names)), rows=len(names))


def render_search_report(directory: str | Path) -> str:
    root = Path(directory)
    cfg = json.loads((root / "adversarial_config.json").read_text(encoding="utf-8"))
    evals = _read_lines(root / "evaluations.jsonl")
    gens = _read_lines(root / "generations.jsonl")
    failures = json.loads((root / "failures.json").read_text(encoding="utf-8"))["failures"]
    names = list(evals[0]["params"]) if evals else []
    pop = int(cfg["population"])
    body = [
        "<p>" + html.escape(
            f"Base scenario {cfg['base_scenario']} ({cfg['base_scenario_sha256'][:19]}), bounds {cfg['bounds']}, "
            f"policy {cfg['policy']}, config {cfg['config_id']}, seed {cfg['seed']}, budget {cfg['budget']} "
            f"({len(evals)} evaluated), population {pop}, {cfg['steps']} steps per run.") + "</p>",
        "<p>" + html.escape(f"Failure score: {cfg['score']}.") + "</p>",
        _table(["generation", "evaluations", "failures", "best score", "mean score", "elite threshold"],
               [[g["generation"], g["evaluations"], g["failures"], g["best_score"], g["mean_score"],
                 g["elite_threshold"]] for g in gens]),
    ]
    if evals:
        body.append(_figure(score_chart(evals, gens, pop), "Every evaluation's failure score; the elite "
                            "(at or above the threshold) refits the next generation's distribution."))
        body.append(_figure(params_chart(evals, names, pop), "Each parameter's sampled values; the search "
                            "concentrates where the failures are."))
    body.append(f"<h2>Failures ({len(failures)} distinct scenarios)</h2>")
    if failures:
        body.append(_table(["scenario", "seed", "score", "generation", "broken invariants"],
                           [[f["file"], f["seed"], f["score"], f["generation"], "; ".join(f["failures"])]
                            for f in failures]))
    else:
        body.append("<p>No evaluation broke an invariant.</p>")
    title = f"Adversarial search: {Path(cfg['base_scenario']).name}, seed {cfg['seed']}"
    style = ("body{font-family:sans-serif;max-width:1180px;margin:1em auto;color:#222}figure{margin:10px 0}"
             "figcaption{font-size:12px;color:#555}svg{max-width:100%;height:auto}"
             "table{border-collapse:collapse;margin:8px 0;font-size:12px}"
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f3f3f3}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n<h1>{html.escape(title)}</h1>\n" + "\n".join(body)
            + "\n</body></html>\n")
