"""Suites: which scenarios and seeds to run, and the invariants every run must satisfy.

A suite YAML::

    suite_id: smoke
    suite_version: 1
    repeat_runs: 1              # each (scenario, seed) this many times; repeats must hash equal
    ticks: 400                  # optional: main-loop ticks per run instead of each scenario's horizon
    invariants:                 # defaults for every entry
      pnl_finite: true
      max_drawdown_usd: 5000
    scenarios:
      - path: scenarios/synth_baseline.yaml     # repo-relative (or relative to the suite file)
        seeds: [1000]                           # optional: the scenario's own seeds otherwise
        invariants: {expect_kill_switch: never} # optional: override suite defaults key by key
        provenance: {search_seed: 7}            # optional: where the entry came from (not read)

Invariants (all optional; an absent one is not checked):

* ``pnl_finite`` - daily total PnL is a finite number at every tick;
* ``no_kill`` - the kill switch never tripped (same as ``expect_kill_switch: never``);
* ``expect_kill_switch`` - ``always`` | ``never`` | ``allowed`` (the contract's gate);
* ``kill_reason_in`` - if the kill switch tripped, its reason is one of these;
* ``max_drawdown_usd`` - the largest fall of daily total PnL from its running peak, per tick;
* ``min_pnl_usd`` - final daily total PnL at least this;
* ``position_within`` - final net position (base units, all venues, exchange's view) within +-this.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

from paraphina.sim.scenario import NonNeg, NonNegInt, PosInt, Scenario, ScenarioError, _one_line, load_scenario, read_yaml


class Invariants(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pnl_finite: bool = True
    no_kill: bool = False
    expect_kill_switch: Literal["always", "never", "allowed"] = "allowed"
    kill_reason_in: list[str] | None = None
    max_drawdown_usd: NonNeg | None = None
    min_pnl_usd: float | None = None
    position_within: NonNeg | None = None


INVARIANT_NAMES = tuple(Invariants.__struct_fields__)


class SuiteEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    path: str
    seeds: list[NonNegInt] | None = None
    invariants: dict[str, Any] = {}
    # Where the entry came from (``paraphina adversarial``: search seed, base scenario hash,
    # config id, score, the scenario's SHA-256); recorded for people, never read by the runner.
    provenance: dict[str, Any] = {}


class SuiteFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    suite_id: str
    suite_version: PosInt = 1
    description: str = ""
    repeat_runs: PosInt = 1
    ticks: PosInt | None = None
    invariants: dict[str, Any] = {}
    scenarios: list[SuiteEntry]


@dataclass(frozen=True)
class SuiteRun:
    """One scenario of a resolved suite: its file, scenario, seeds and merged invariants."""

    path: str
    scenario: Scenario
    seeds: list[int]
    invariants: Invariants


@dataclass(frozen=True)
class Suite:
    suite_id: str
    suite_version: int
    repeat_runs: int
    ticks: int | None
    runs: list[SuiteRun]


def load_suite(path: str | Path, base_dir: str | Path | None = None) -> Suite:
    """Read and resolve a suite; scenario paths are tried against ``base_dir`` (default: the
    current directory), then the suite file's directory. Errors name the file and key."""
    path = Path(path)
    try:
        raw = msgspec.convert(read_yaml(path), SuiteFile, strict=False)
    except msgspec.ValidationError as exc:
        raise ScenarioError(f"{path}: {_one_line(exc)}") from None
    if not raw.scenarios:
        raise ScenarioError(f"{path}: `scenarios` must list at least one scenario")
    defaults = _invariants(raw.invariants, f"{path}: `invariants`")
    runs = []
    for i, entry in enumerate(raw.scenarios):
        sc_path = _resolve(entry.path, path, base_dir)
        if sc_path is None:
            raise ScenarioError(f"{path}: `scenarios[{i}].path`: {entry.path} not found")
        scenario = load_scenario(sc_path)
        merged = {**msgspec.to_builtins(defaults), **entry.invariants}
        inv = _invariants(merged, f"{path}: `scenarios[{i}].invariants`")
        seeds = list(entry.seeds) if entry.seeds is not None else scenario.seeds.all()
        runs.append(SuiteRun(path=str(sc_path), scenario=scenario, seeds=seeds, invariants=inv))
    return Suite(suite_id=raw.suite_id, suite_version=raw.suite_version, repeat_runs=raw.repeat_runs,
                 ticks=raw.ticks, runs=runs)


def check_invariants(inv: Invariants, result: Any) -> list[str]:
    """Failed invariants of one run (a :class:`~paraphina.sim.runner.SimResult`), one line each."""
    s = result.summary
    killed = bool(s["kill_switch"])
    fails = []
    if inv.pnl_finite and not (result.pnl_finite and math.isfinite(float(s["total"]))):
        fails.append("pnl_finite: daily PnL was not finite")
    if (inv.no_kill or inv.expect_kill_switch == "never") and killed:
        fails.append(f"no_kill: the kill switch tripped ({s.get('kill_reason') or 'no reason'})")
    if inv.expect_kill_switch == "always" and not killed:
        fails.append("expect_kill_switch: always, but the kill switch never tripped")
    if inv.kill_reason_in is not None and killed and s.get("kill_reason") not in inv.kill_reason_in:
        fails.append(f"kill_reason_in: {s.get('kill_reason')!r} not in {inv.kill_reason_in}")
    if inv.max_drawdown_usd is not None and result.max_drawdown_usd > inv.max_drawdown_usd:
        fails.append(f"max_drawdown_usd: {result.max_drawdown_usd:.2f} > {inv.max_drawdown_usd:.2f}")
    if inv.min_pnl_usd is not None and float(s["total"]) < inv.min_pnl_usd:
        fails.append(f"min_pnl_usd: {float(s['total']):.2f} < {inv.min_pnl_usd:.2f}")
    if inv.position_within is not None:
        net = sum(result.positions)
        if abs(net) > inv.position_within + 1e-9:
            fails.append(f"position_within: net position {net:+.6f} outside +-{inv.position_within}")
    return fails


@dataclass(frozen=True)
class SuiteReport:
    suite_id: str
    suite_version: int
    policy: str
    rows: list[dict[str, Any]]   # one per (scenario, seed), in suite order

    @property
    def failed(self) -> int:
        return sum(bool(r["failures"]) for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {"suite_id": self.suite_id, "suite_version": self.suite_version, "policy": self.policy,
                "runs": len(self.rows), "failed": self.failed, "results": self.rows}


def run_suite(suite: Suite, config_for: Callable[[Scenario], Any], policy: str, engine_factory: Any,
              output_dir: str | Path, on_run: Callable[[int, int, dict[str, Any] | None], None] | None = None
              ) -> SuiteReport:
    """Run every (scenario, seed) ``repeat_runs`` times, logs in ``output_dir``; check invariants.

    ``config_for(scenario)`` gives each scenario's engine config; ``on_run(done, total, row)`` is
    told of progress after every run (``row`` after the last repeat of a seed, else ``None``).
    Repeats of a seed must give the same action-stream hash (a determinism check).
    """
    from paraphina.sim.runner import run_simulation

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    total = sum(len(r.seeds) for r in suite.runs) * suite.repeat_runs
    done = 0
    rows = []
    for entry in suite.runs:
        cfg = config_for(entry.scenario)
        for seed in entry.seeds:
            hashes = []
            for rep in range(suite.repeat_runs):
                log = out / f"{entry.scenario.scenario_id}-{seed}-{rep}.arrow"
                r = run_simulation(entry.scenario, cfg, policy, seed, suite.ticks, str(log), engine_factory, overwrite=True)
                hashes.append(r.sha256)
                done += 1
                if on_run is not None and rep + 1 < suite.repeat_runs:
                    on_run(done, total, None)
            fails = check_invariants(entry.invariants, r)
            if len(set(hashes)) != 1:
                fails.append(f"determinism: {len(set(hashes))} different action-stream hashes over {suite.repeat_runs} repeats")
            row = {"scenario": entry.scenario.scenario_id, "seed": seed, "events": r.events, "actions": r.actions,
                   "sha256": r.sha256, "pnl_total": r.summary["total"], "kill_switch": r.summary["kill_switch"],
                   "kill_reason": r.summary["kill_reason"], "max_drawdown_usd": r.max_drawdown_usd,
                   "fills": r.fills, "failures": fails}
            rows.append(row)
            if on_run is not None:
                on_run(done, total, row)
    return SuiteReport(suite.suite_id, suite.suite_version, policy, rows)


def _invariants(data: dict[str, Any], where: str) -> Invariants:
    try:
        inv = msgspec.convert(data, Invariants, strict=False)
    except msgspec.ValidationError as exc:
        raise ScenarioError(f"{where}: {_one_line(exc)}") from None
    if inv.no_kill and inv.expect_kill_switch == "always":
        raise ScenarioError(f"{where}: `no_kill: true` contradicts `expect_kill_switch: always`")
    return inv


def _resolve(entry: str, suite_path: Path, base_dir: str | Path | None) -> Path | None:
    p = Path(entry)
    if p.is_absolute():
        return p if p.is_file() else None
    for root in (Path(base_dir) if base_dir is not None else Path.cwd(), suite_path.parent):
        if (root / p).is_file():
            return root / p
    return None
