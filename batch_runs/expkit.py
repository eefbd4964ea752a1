"""What every calibration / alignment experiment (exp02, exp04-exp13) shares.

An experiment is: parse the common options (:func:`common_parser`), claim its output directory
with a provenance record of every input that determines its bytes (:func:`open_output`: a rerun
with the same inputs rewrites the same files, other inputs are refused naming the first
difference, ``--force`` starts over), build :class:`Cell` s (a ``PARAPHINA_*`` overlay, config
overrides, a scenario and a seed), simulate them in-process (:func:`run_cells`, with progress and
optionally a process pool; rows come back in cell order, so ``--jobs`` never changes a byte),
summarise rows per group (:func:`summarise`), check summaries against the risk budgets
(:func:`budget_check`) and write CSV (``batch_runs.orchestrator.write_csv``).

Each cell is one run of the market simulator (``paraphina.sim``) with the run's telemetry written
to a file and condensed by :mod:`paraphina.research.ts_metrics`, so regime fractions and the
telemetry drawdown are there next to the simulator's own record (``paraphina.research.simrun.run_record``).

Seeds: repeat ``r`` of base seed ``S`` is :func:`paraphina.research.montecarlo.run_seed` ``(S, r)``,
the Monte Carlo's rule; every cell of a sweep uses the same seeds (common random numbers), so a
difference between cells is the knob's, not the dice's.

Budgets: the risk tiers are ``batch_runs/phase_a/budgets.yaml`` (Phase A's, one file for both);
a summary passes a tier when ``pnl_lcb >= min_pnl_lcb_usd``, ``dd_cvar <= max_dd_cvar`` and
``kill_ucb <= max_kill_ucb`` (inclusive; the statistics of ``paraphina.research.stats``).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batch_runs.orchestrator import write_csv
from batch_runs.phase_a.spec import DEFAULT_BUDGETS, load_budgets
from paraphina.config import config_hash
from paraphina.errors import UserError
from paraphina.progress import Progress
from paraphina.research import stats
from paraphina.research.montecarlo import run_seed
from paraphina.research.provenance import claim, file_hash
from paraphina.research.simrun import DEFAULT_SCENARIO, run_record
from paraphina.research.ts_metrics import compute_ts_metrics, load_telemetry_jsonl

HERE = Path(__file__).resolve().parent
KNOBS_BTC = HERE / "phase_a" / "knobs_btc.yaml"
PROFILES = ("conservative", "balanced", "aggressive")
RECORD_FILE = "experiment.json"
RECORD_SCHEMA = "paraphina-experiment-v1"
# Telemetry metrics each run row carries besides the simulator's record.
TELEMETRY_COLUMNS = ("regime_frac_normal", "regime_frac_warning", "regime_frac_hard", "max_abs_delta_usd",
                     "time_to_kill")


# --- options and output directory ------------------------------------------------------------


def common_parser(experiment: str, doc: str | None, *, ticks: int | None, smoke_ticks: int = 60) -> argparse.ArgumentParser:
    """The options every experiment takes; ``--smoke`` is resolved by :func:`resolve_smoke`.
    ``ticks=None``: an experiment that only reads other experiments' files (no run options)."""
    ap = argparse.ArgumentParser(prog=f"python -m batch_runs.{experiment}",
                                 description=(doc or experiment).strip().split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="a tiny run (few cells and runs, short horizon)")
    ap.add_argument("-o", "--out", default=f"runs/{experiment}", help=f"output directory (default runs/{experiment})")
    if ticks is not None:
        ap.add_argument("--ticks", type=int, default=None,
                        help=f"main-loop ticks per run (default {ticks}, smoke {smoke_ticks})")
        ap.add_argument("--seed", type=int, default=0, help="base seed (repeat r runs seed run_seed(seed, r))")
        ap.add_argument("--jobs", type=int, default=1, help="processes (results do not depend on it)")
    ap.add_argument("--budgets", default=str(DEFAULT_BUDGETS), help="risk budgets per tier (YAML)")
    ap.add_argument("--force", action="store_true", help="empty an output directory holding other inputs and start over")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr and no report: only the Wrote: lines")
    ap.set_defaults(_ticks_default=ticks, _smoke_ticks=smoke_ticks)
    return ap


def resolve_smoke(args: argparse.Namespace) -> argparse.Namespace:
    if args.ticks is None:
        args.ticks = args._smoke_ticks if args.smoke else args._ticks_default
    if args.ticks < 1:
        raise UserError(f"--ticks must be >= 1 (got {args.ticks})")
    if args.jobs < 1:
        raise UserError(f"--jobs must be >= 1 (got {args.jobs})")
    return args


def versions() -> dict[str, str]:
    import numpy

    import paraphina

    return {"paraphina": paraphina.__version__, "numpy": numpy.__version__,
            "python": ".".join(map(str, sys.version_info[:3]))}


def open_output(out: str | Path, experiment: str, inputs: Mapping[str, Any], *, force: bool = False) -> Path:
    """Claim ``out`` for ``experiment`` with ``inputs`` (every input that determines its bytes:
    grid, seeds, ticks, scenario and config hashes, input files' hashes). The same inputs may
    rerun into it (the files are rewritten, byte for byte the same); other inputs are refused with
    one line naming the first difference, before anything is touched."""
    record = {"schema": RECORD_SCHEMA, "experiment": experiment, "inputs": dict(inputs), "versions": versions()}
    claim(out, RECORD_FILE, record, force=force, what=f"{experiment} results",
          hint="use another -o/--out, or --force to start over")
    return Path(out)


def scenario_inputs(scenario: str | Sequence[str]) -> dict[str, str]:
    """``{path: sha256}`` of the scenario file(s) a run depends on."""
    paths = [scenario] if isinstance(scenario, str) else list(scenario)
    return {p: file_hash(p) for p in paths}


def input_file(path: str | Path, what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such file ({what}; run the experiment that writes it first, or pass its path)")
    return p


def finish(paths: Iterable[Path]) -> int:
    for p in paths:
        print(f"Wrote: {p}")
    return 0


def main_guard(run: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run an experiment's main; bad input is one line on stderr and exit 2, never a traceback."""
    try:
        return run(argv)
    except UserError as exc:
        module = sys.modules.get(run.__module__)
        name = Path(module.__file__).stem if module is not None and getattr(module, "__file__", None) else "batch_runs"
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2


# --- cells and runs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One simulated run: labels (CSV columns), a ``PARAPHINA_*`` overlay on the ``btc`` preset
    (``PARAPHINA_RISK_PROFILE`` picks the profile), dotted config overrides (for thresholds with
    no env knob), the scenario, the seed, and where to keep the telemetry (None: a temporary file)."""

    label: Mapping[str, Any]
    env: Mapping[str, str]
    seed: int
    scenario: str = DEFAULT_SCENARIO
    overrides: Mapping[str, Any] = field(default_factory=dict)
    telemetry_path: str | None = None


def cell_config(cell: Cell):
    """The engine config of a cell: btc preset < profile < overlay < overrides, plus the scenario's fees."""
    from paraphina.presets import build_config
    from paraphina.sim.runner import with_scenario_fees
    from paraphina.sim.scenario import load_scenario

    scenario = load_scenario(cell.scenario)
    return with_scenario_fees(build_config(None, dict(cell.env), None, dict(cell.overrides))[0], scenario), scenario


def simulate_cell(cell: Cell, ticks: int, policy: str = "heuristic") -> dict[str, Any]:
    """Labels + the simulator's run record + telemetry metrics of one cell (module level: picklable)."""
    from paraphina.sim.runner import policy_engine_factory, run_simulation
    from paraphina.telemetry import TelemetryWriter

    config, scenario = cell_config(cell)
    with tempfile.TemporaryDirectory(prefix="paraphina-exp-") as tmp:
        tpath = cell.telemetry_path or os.path.join(tmp, "telemetry.jsonl")
        writer = TelemetryWriter(tpath)
        try:
            res = run_simulation(scenario, config, policy, cell.seed, ticks, os.path.join(tmp, "run.arrow"),
                                 policy_engine_factory(policy, [writer]), telemetry=writer)
        finally:
            writer.close()
        ts = compute_ts_metrics(load_telemetry_jsonl(tpath))
    row: dict[str, Any] = dict(cell.label)
    row["seed"] = cell.seed
    row["config_hash"] = config_hash(config)
    row.update(run_record(res))
    row.update({k: ts[k] for k in TELEMETRY_COLUMNS})
    return row


def _simulate_pair(args: tuple[Cell, int]) -> dict[str, Any]:
    return simulate_cell(*args)


def run_cells(cells: Sequence[Cell], ticks: int, *, label: str, jobs: int = 1, quiet: bool = False) -> list[dict[str, Any]]:
    """Simulate every cell; rows in cell order whatever ``jobs``. Progress on stderr unless quiet."""
    tasks = [(c, ticks) for c in cells]
    with Progress(label, len(tasks), "runs", enabled=not quiet) as prog:
        if jobs == 1 or len(tasks) < 2:
            rows = []
            for t in tasks:
                rows.append(_simulate_pair(t))
                prog.update()
            return rows
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            rows = []
            for row in pool.map(_simulate_pair, tasks):
                rows.append(row)
                prog.update()
            return rows


def seeds(base_seed: int, repeats: int) -> list[int]:
    return [run_seed(base_seed, r) for r in range(repeats)]


# --- summaries and budgets ------------------------------------------------------------------


SUMMARY_COLUMNS = ("runs", "pnl_mean", "pnl_std", "pnl_lcb", "dd_mean", "dd_cvar", "kills", "kill_frac", "kill_ucb")


def score(pnl: Sequence[float], drawdown: Sequence[float], kills: Sequence[bool], alpha: float) -> dict[str, Any]:
    """The risk statistics budgets gate on, from per-run PnL, max drawdown and kill flags."""
    n = len(pnl)
    if n == 0:
        raise UserError("no runs to summarise")
    m = stats.describe(pnl)
    k = sum(bool(x) for x in kills)
    return {
        "runs": n,
        "pnl_mean": m.mean,
        "pnl_std": m.std if n > 1 else 0.0,
        "pnl_lcb": stats.normal_lcb(m.mean, m.std if n > 1 else 0.0, n, alpha),
        "dd_mean": math.fsum(drawdown) / n,
        "dd_cvar": stats.drawdown_tail_risk(drawdown, 1.0 - alpha).cvar,
        "kills": k,
        "kill_frac": k / n,
        "kill_ucb": stats.wilson_ucb(k, n, alpha),
    }


def summarise(rows: Sequence[Mapping[str, Any]], keys: Sequence[str], alpha: float, *,
              pnl: str = "pnl", drawdown: str = "max_drawdown", kill: str = "kill",
              means: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Per group of ``keys`` (first-seen order): the keys, :func:`score`, and ``<m>_mean`` of ``means``."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    out = []
    for key, members in groups.items():
        rec: dict[str, Any] = dict(zip(keys, key))
        rec.update(score([float(r[pnl]) for r in members], [float(r[drawdown]) for r in members],
                         [bool(r[kill]) for r in members], alpha))
        for m in means:
            vals = [float(r[m]) for r in members if r.get(m) is not None and not _nan(r[m])]
            rec[f"{m}_mean"] = math.fsum(vals) / len(vals) if vals else math.nan
        out.append(rec)
    return out


def _nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def risk_tiers(path: str | Path = DEFAULT_BUDGETS) -> tuple[float, dict[str, stats.Budget]]:
    """(alpha, {tier: Budget}) from the budgets file (file order)."""
    return load_budgets(path)


CHECK_COLUMNS = ("pnl_ok", "dd_ok", "kill_ok", "all_ok", "pnl_margin", "dd_margin", "kill_margin")


def budget_check(summary: Mapping[str, Any], budget: stats.Budget, prefix: str = "") -> dict[str, Any]:
    """``pnl_ok, dd_ok, kill_ok, all_ok`` and margins (positive = on the safe side, in the
    budget's units: USD, USD, probability) of a :func:`score` against ``budget``. NaN fails."""
    pnl_margin = float(summary["pnl_lcb"]) - budget.min_pnl_lcb_usd
    dd_margin = budget.max_dd_cvar - float(summary["dd_cvar"])
    kill_margin = budget.max_kill_ucb - float(summary["kill_ucb"])
    ok = {"pnl_ok": pnl_margin >= 0, "dd_ok": dd_margin >= 0, "kill_ok": kill_margin >= 0}  # NaN >= 0 is False
    ok["all_ok"] = all(ok.values())
    out = {**ok, "pnl_margin": pnl_margin, "dd_margin": dd_margin, "kill_margin": kill_margin}
    return {f"{prefix}{k}": v for k, v in out.items()}


def relative_margins(check: Mapping[str, Any], budget: stats.Budget, prefix: str = "") -> dict[str, float]:
    """Margins as fractions of each bound's scale (kill: of the bound; drawdown: of the bound;
    PnL: of max(|bound|, 1 USD)), so one number can say how close the nearest limit is."""
    return {
        "pnl": check[f"{prefix}pnl_margin"] / max(abs(budget.min_pnl_lcb_usd), 1.0),
        "dd": check[f"{prefix}dd_margin"] / budget.max_dd_cvar,
        "kill": check[f"{prefix}kill_margin"] / budget.max_kill_ucb,
    }


def write_rows(out: Path, name: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> Path:
    if not rows:
        raise UserError(f"{out / name}: nothing to write (no rows)")
    return write_csv(rows, out / name, columns)


def read_csv_rows(path: str | Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def parse_cell(v: str) -> Any:
    """A CSV cell back to a value: ``true``/``false``, numbers, empty = None, else the string."""
    if v == "":
        return None
    if v in ("true", "false"):
        return v == "true"
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return v


# --- knob ranges and figures ----------------------------------------------------------------


def knob_choices(name: str, path: str | Path = KNOBS_BTC) -> tuple[Any, ...]:
    """The values ``knobs_btc.yaml`` lists for a ``PARAPHINA_*`` knob (the ranges where it acts)."""
    from batch_runs.phase_a.spec import load_knob_spec

    for k in load_knob_spec(path).knobs:
        if k.name == name:
            if k.choices is None:
                raise UserError(f"{path}: {name} is a range, not a list of values")
            return tuple(k.choices)
    raise UserError(f"{path}: no knob {name}")


def heatmap_svg(path: Path, values: Sequence[Sequence[float]], xs: Sequence[Any], ys: Sequence[Any], *,
                xlabel: str, ylabel: str, title: str, cbar: str) -> Path:
    """A heatmap (rows = ``ys``, columns = ``xs``) with each cell's value printed, as a byte-stable
    SVG file (``paraphina.research.plots.render``)."""
    import numpy as np

    from paraphina.research.plots import render

    z = np.asarray(values, dtype=float)

    def draw(axes):
        ax = axes[0]
        ax.grid(False)
        im = ax.imshow(z, cmap="RdYlGn", aspect="auto", origin="lower")
        ax.set_xticks(range(len(xs)), [f"{x:g}" if isinstance(x, float) else str(x) for x in xs])
        ax.set_yticks(range(len(ys)), [f"{y:g}" if isinstance(y, float) else str(y) for y in ys])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                ax.text(j, i, f"{z[i, j]:.2f}", ha="center", va="center", fontsize=8)
        ax.figure.colorbar(im, ax=ax, label=cbar)

    path.write_text(render(draw, width=7.0, height=4.5) + "\n", encoding="utf-8")
    return path


def json_safe(v: Any) -> Any:
    """``v`` with every NaN or infinite float as None (JSON has no NaN), containers walked."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Mapping):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    return v


def run_utility(pnl: float, drawdown: float, kill_rate: float, risk_aversion: float = 0.5,
                kill_penalty: float = 1000.0) -> float:
    """Risk-adjusted utility in USD (larger is better): ``pnl - risk_aversion * drawdown -
    kill_penalty * kill_rate``. exp09 applies it to a candidate's (pnl_lcb, dd_cvar, kill_frac),
    exp13 to one run's (final PnL, max drawdown, killed)."""
    return pnl - risk_aversion * drawdown - kill_penalty * kill_rate
