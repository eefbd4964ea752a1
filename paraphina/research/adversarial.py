"""Adversarial scenario search: a seeded cross-entropy search for scenarios that break a preset.

A *bounds file* (``batch_runs/adversarial/bounds_btc.yaml``) declares the parameters, each a
continuous range (``low``/``high``, optionally ``log`` or ``integer``) or a categorical
``choices`` list, and where each value goes in the base scenario: ``set`` (dotted paths,
``venues[*]`` for every venue) and ``shocks`` (shock templates whose ``at``/``length``, fractions
of the run, become ``start_step``/``end_step``). ``$name`` refers to a parameter.

The search (cross-entropy method): continuous parameters live in ``[0, 1]`` coordinates with a
Gaussian per coordinate (mean 0.5, std 0.25 at the start), categoricals with a probability per
choice (uniform at the start). Generation ``g`` draws its candidates from
``numpy.random.default_rng(SeedSequence(seed, spawn_key=(g,)))`` (so it depends on the seed, the
generation and the distribution only, never on jobs, backend or resumes); every candidate
is run once, with run seed ``run_seed(seed, evaluation index)`` (the Monte Carlo rule); the
``ceil(elite_fraction * n)`` highest-scoring candidates refit the distribution, smoothed
(``new = smoothing * elite + (1 - smoothing) * old``), with floors ``min_std`` and ``min_prob``.

Failure score of one run (monotone in badness: more of any term never lowers it)::

    score = 10 * (invariants broken) + 5 * killed * (2 - kill_tick / ticks)
            + max_drawdown_usd / score.drawdown_usd + max(0, -pnl) / score.loss_usd

A run *fails* when it breaks any invariant of the bounds file's ``failure`` section (the
suite invariants of :mod:`paraphina.sim.suite`, checked by the same function).

Output directory::

    adversarial_config.json   what determined the bytes (seed, budget, bounds, base scenario and
                              config hashes, policy, ticks, versions): a resume must match it
    evaluations.jsonl         one line per evaluation, in evaluation order (appended as they
                              finish, rewritten sorted after each generation)
    evaluations.csv           the same, flat: parameters as columns
    generations.jsonl         the distribution each generation sampled from, best and elite scores
    failures/<id>.yaml        every distinct failing scenario (its seed in ``seeds.base_seed``)
    failures.json             the failures, best first, with their provenance
    report.html               score by generation, parameter distributions, the failures
    evidence_pack/            hashes of all of the above

Resuming (same arguments, same directory) keeps every finished evaluation and redoes the rest.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import msgspec
import numpy as np
import yaml

from paraphina.config import Config, config_hash
from paraphina.errors import UserError
from paraphina.progress import Progress, progress_for
from paraphina.research.evidence import canonical_json, versions, write_atomic, write_evidence_pack
from paraphina.research.montecarlo import execute_tasks, run_seed
from paraphina.research.workers import WorkerPool
from paraphina.research.provenance import claim, file_hash
from paraphina.sim.runner import steps_for_ticks, with_scenario_fees
from paraphina.sim.scenario import Scenario, ScenarioError, parse_scenario, read_yaml
from paraphina.sim.suite import INVARIANT_NAMES, Invariants, SuiteFile, check_invariants

CONFIG_FILE = "adversarial_config.json"
EVALS_FILE = "evaluations.jsonl"
EVALS_CSV = "evaluations.csv"
GENERATIONS_FILE = "generations.jsonl"
FAILURES_FILE = "failures.json"
FAILURES_DIR = "failures"
REPORT_FILE = "report.html"
DEFAULT_BOUNDS = "batch_runs/adversarial/bounds_btc.yaml"
DEFAULT_SUITE = "scenarios/suites/adversarial_regression.yaml"
SCORE_FORMULA = ("10 * invariants_broken + 5 * killed * (2 - kill_tick / ticks) + max_drawdown_usd / drawdown_usd"
                 " + max(0, -pnl) / loss_usd")
W_BREACH = 10.0
W_KILL = 5.0
SEED_MODULUS = 2**32  # run seeds short enough to type: run_seed(seed, index) mod 2^32


class AdversarialError(UserError):
    """A bounds file, search directory or suite that cannot be used; one line naming it."""


# --- the bounds file ----------------------------------------------------------------------------


class ParamSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: list[Any] | None = None


class ScoreScales(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    drawdown_usd: float = 1000.0
    loss_usd: float = 1000.0


class BoundsFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    bounds_id: str
    bounds_version: int = 1
    description: str = ""
    population: int = 16
    elite_fraction: float = 0.25
    smoothing: float = 0.7
    min_std: float = 0.05
    min_prob: float = 0.02
    failure: dict[str, Any] = msgspec.field(default_factory=lambda: {"pnl_finite": True, "no_kill": True})
    score: ScoreScales = ScoreScales()
    params: dict[str, ParamSpec]
    set: dict[str, Any] = {}
    shocks: list[dict[str, Any]] = []


@attrs.frozen
class Bounds:
    """A checked bounds file: continuous and categorical parameters in declaration order."""

    path: str
    spec: BoundsFile
    continuous: tuple[str, ...]
    categorical: tuple[str, ...]
    invariants: Invariants

    @property
    def params(self) -> dict[str, ParamSpec]:
        return self.spec.params


_REF = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")


def _refs(value: Any) -> list[str]:
    if isinstance(value, str):
        m = _REF.match(value)
        return [m.group(1)] if m else []
    if isinstance(value, Mapping):
        return [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def load_bounds(path: str | Path) -> Bounds:
    """Read and check a bounds file; every problem is one line naming the file and key."""
    where = str(path)
    data = read_yaml(path)
    try:
        spec = msgspec.convert(data, BoundsFile, strict=False)
    except msgspec.ValidationError as exc:
        raise AdversarialError(f"{where}: {' '.join(str(exc).split())}") from None
    problems: list[str] = []
    if not spec.params:
        problems.append("`params` must declare at least one parameter")
    if spec.population < 2:
        problems.append(f"`population`: at least 2 (got {spec.population})")
    if not 0 < spec.elite_fraction <= 1:
        problems.append(f"`elite_fraction`: must be in (0, 1] (got {spec.elite_fraction})")
    if not 0 < spec.smoothing <= 1:
        problems.append(f"`smoothing`: must be in (0, 1] (got {spec.smoothing})")
    if not 0 < spec.min_std <= 0.5:
        problems.append(f"`min_std`: must be in (0, 0.5] (got {spec.min_std})")
    if not 0 <= spec.min_prob < 1:
        problems.append(f"`min_prob`: must be in [0, 1) (got {spec.min_prob})")
    if spec.score.drawdown_usd <= 0 or spec.score.loss_usd <= 0:
        problems.append("`score`: drawdown_usd and loss_usd must be > 0")
    continuous, categorical = [], []
    for name, p in spec.params.items():
        key = f"`params.{name}`"
        if p.choices is not None:
            if p.low is not None or p.high is not None or p.log or p.integer:
                problems.append(f"{key}: give `choices` or `low`/`high`, not both")
            elif not p.choices:
                problems.append(f"{key}: `choices` must not be empty")
            categorical.append(name)
            continue
        if p.low is None or p.high is None:
            problems.append(f"{key}: needs `low` and `high` (or `choices`)")
        elif not (math.isfinite(p.low) and math.isfinite(p.high)) or p.low >= p.high:
            problems.append(f"{key}: `low` must be below `high`, both finite (got {p.low}, {p.high})")
        elif p.log and p.low <= 0:
            problems.append(f"{key}: `log: true` needs `low` > 0 (got {p.low})")
        continuous.append(name)
    used = _refs(dict(spec.set)) + _refs(list(spec.shocks))
    for ref in used:
        if ref not in spec.params:
            problems.append(f"`${ref}` is used but not declared under `params`")
    for name in spec.params:
        if name not in used:
            problems.append(f"`params.{name}` is declared but used nowhere (`set` or `shocks`)")
    for i, shock in enumerate(spec.shocks):
        if "type" not in shock:
            problems.append(f"`shocks[{i}]`: needs a `type`")
        if ("at" in shock) != ("length" in shock) or ("at" in shock and "start_step" in shock):
            problems.append(f"`shocks[{i}]`: give `at` and `length` (fractions of the run) or start_step/end_step")
    unknown = sorted(set(spec.failure) - set(INVARIANT_NAMES))
    if unknown:
        problems.append(f"`failure.{unknown[0]}`: not an invariant ({', '.join(INVARIANT_NAMES)})")
    if problems:
        raise AdversarialError(f"{where}: {problems[0]}")
    try:
        inv = msgspec.convert(spec.failure, Invariants, strict=False)
    except msgspec.ValidationError as exc:
        raise AdversarialError(f"{where}: `failure`: {' '.join(str(exc).split())}") from None
    return Bounds(path=where, spec=spec, continuous=tuple(continuous), categorical=tuple(categorical), invariants=inv)


# --- from parameter values to a scenario --------------------------------------------------------


def _coords_to_value(p: ParamSpec, x: float) -> float | int:
    """A continuous parameter's value at coordinate ``x`` in [0, 1] (6 significant digits)."""
    assert p.low is not None and p.high is not None
    if p.log:
        v = math.exp(math.log(p.low) + x * (math.log(p.high) - math.log(p.low)))
    else:
        v = p.low + x * (p.high - p.low)
    v = min(max(v, p.low), p.high)
    if p.integer:
        return int(round(v))
    return float(f"{v:.6g}")


def _substitute(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        m = _REF.match(value)
        return values[m.group(1)] if m else value
    if isinstance(value, Mapping):
        return {k: _substitute(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, values) for v in value]
    return value


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\*|\d+)\]")


def _set_path(data: Any, path: str, value: Any, where: str) -> None:
    tokens = [(m.group(1), m.group(2)) for m in _TOKEN.finditer(path)]
    rebuilt = ""
    for key, index in tokens:
        rebuilt += f"[{index}]" if index is not None else (f".{key}" if rebuilt else str(key))
    if not tokens or tokens[0][0] is None or rebuilt != path:
        raise AdversarialError(f"{where}: `set.{path}`: not a path like market.vol_daily or venues[*].latency_ms")

    def walk(node: Any, rest: list[tuple[str | None, str | None]]) -> None:
        key, index = rest[0]
        last = len(rest) == 1
        if index is not None:
            if not isinstance(node, list):
                raise AdversarialError(f"{where}: `set.{path}`: [{index}] on something that is not a list")
            items = range(len(node)) if index == "*" else [int(index)]
            for i in items:
                if i >= len(node):
                    raise AdversarialError(f"{where}: `set.{path}`: index {i} out of range (0..{len(node) - 1})")
                if last:
                    node[i] = value
                else:
                    walk(node[i], rest[1:])
            return
        if not isinstance(node, dict) or key not in node:
            raise AdversarialError(f"{where}: `set.{path}`: the scenario has no field {key!r} there")
        if last:
            node[key] = value
        else:
            walk(node[key], rest[1:])

    walk(data, tokens)


def build_candidate(base: Scenario, bounds: Bounds, values: Mapping[str, Any], seed: int, steps: int) -> Scenario:
    """The base scenario with ``values`` applied, ``steps`` long, seeded ``seed``; scenario id
    and description derived from the content (the same scenario always has the same id)."""
    data = msgspec.to_builtins(base)
    for path, raw in bounds.spec.set.items():
        _set_path(data, path, _substitute(raw, values), bounds.path)
    shocks = list(data.get("shocks", []))
    for template in bounds.spec.shocks:
        shock = _substitute(dict(template), values)
        if "at" in shock:
            at, length = float(shock.pop("at")), float(shock.pop("length"))
            start = min(steps - 1, max(0, int(math.floor(at * steps))))
            shock["start_step"] = start
            shock["end_step"] = min(steps, max(start + 1, start + int(math.ceil(length * steps))))
        shocks.append(shock)
    data["shocks"] = shocks
    data["horizon"] = {**data["horizon"], "steps": steps}
    data["seeds"] = {"base_seed": seed, "count": 1}
    shown = ", ".join(f"{k}={values[k]}" for k in bounds.params)  # declaration order, however values came
    data["description"] = f"Adversarial failure of {base.scenario_id} ({shown})."
    data["scenario_id"] = ""
    digest = hashlib.sha256(canonical_json(data).encode()).hexdigest()[:12]
    data["scenario_id"] = f"adv-{base.scenario_id}-{digest}"
    try:
        return parse_scenario(data, f"{bounds.path} (candidate {shown})")
    except ScenarioError as exc:
        raise AdversarialError(str(exc)) from None


def scenario_yaml(sc: Scenario) -> str:
    """A scenario as YAML that :func:`paraphina.sim.scenario.load_scenario` reads back equal."""
    return yaml.safe_dump(msgspec.to_builtins(sc), sort_keys=False, default_flow_style=None, width=100)


# --- the cross-entropy distribution --------------------------------------------------------------


@attrs.define
class Distribution:
    """Means and stds of the continuous coordinates, probabilities of each categorical's choices."""

    mean: list[float]
    std: list[float]
    probs: list[list[float]]

    @classmethod
    def initial(cls, bounds: Bounds) -> Distribution:
        return cls(mean=[0.5] * len(bounds.continuous), std=[0.25] * len(bounds.continuous),
                   probs=[[1.0 / len(bounds.params[n].choices or [])] * len(bounds.params[n].choices or [])
                          for n in bounds.categorical])

    def to_json(self, bounds: Bounds) -> dict[str, Any]:
        return {"mean": dict(zip(bounds.continuous, self.mean)), "std": dict(zip(bounds.continuous, self.std)),
                "probs": dict(zip(bounds.categorical, self.probs))}

    def sample(self, bounds: Bounds, seed: int, generation: int, n: int) -> list[tuple[list[float], list[int]]]:
        """``n`` candidates (continuous coordinates, categorical indices) of ``generation``."""
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(generation,)))
        z = rng.standard_normal((n, len(self.mean)))
        u = rng.random((n, len(self.probs)))
        out = []
        for i in range(n):
            x = [min(1.0, max(0.0, m + s * float(zz))) for m, s, zz in zip(self.mean, self.std, z[i])]
            cats = []
            for j, p in enumerate(self.probs):
                cum = np.cumsum(p)
                cats.append(min(len(p) - 1, int(np.searchsorted(cum / cum[-1], float(u[i, j]), side="right"))))
            out.append((x, cats))
        return out

    def refit(self, bounds: Bounds, elite: Sequence[tuple[list[float], list[int]]]) -> Distribution:
        s, spec = bounds.spec.smoothing, bounds.spec
        mean, std = list(self.mean), list(self.std)
        for d in range(len(mean)):
            xs = np.asarray([e[0][d] for e in elite], dtype=float)
            mean[d] = float(s * xs.mean() + (1 - s) * mean[d])
            std[d] = float(max(spec.min_std, s * xs.std() + (1 - s) * std[d]))
        probs = []
        for j, p in enumerate(self.probs):
            counts = np.bincount([e[1][j] for e in elite], minlength=len(p)) / len(elite)
            q = np.maximum(spec.min_prob, s * counts + (1 - s) * np.asarray(p))
            probs.append([float(v) for v in q / q.sum()])
        return Distribution(mean=mean, std=std, probs=probs)


def candidate_values(bounds: Bounds, coords: list[float], cats: list[int]) -> dict[str, Any]:
    """Parameter values in declaration order."""
    by_name: dict[str, Any] = {}
    for name, x in zip(bounds.continuous, coords):
        by_name[name] = _coords_to_value(bounds.params[name], x)
    for name, k in zip(bounds.categorical, cats):
        by_name[name] = (bounds.params[name].choices or [])[k]
    return {name: by_name[name] for name in bounds.params}


# --- one evaluation -----------------------------------------------------------------------------


def failure_score(result: Mapping[str, Any], breaches: int, ticks: int, scales: ScoreScales) -> float:
    """The failure score (module docstring): larger is worse; monotone in every term."""
    kill = 0.0
    if result["kill"]:
        tick = result.get("kill_tick") or result.get("ticks") or ticks
        kill = W_KILL * (2.0 - min(1.0, max(0.0, float(tick) / max(1, ticks))))
    dd = result["max_drawdown"] if math.isfinite(result["max_drawdown"]) else 1e9
    pnl = result["pnl"] if math.isfinite(result["pnl"]) else -1e9
    return float(W_BREACH * breaches + kill + dd / scales.drawdown_usd + max(0.0, -pnl) / scales.loss_usd)


@attrs.frozen
class EvaluateCandidates:
    """``run_fn(index, seed)`` of a generation: runs candidate ``index``'s scenario once with
    ``seed`` and scores it. Picklable (process pool, Ray)."""

    scenarios: Mapping[int, Scenario]
    configs: Mapping[int, Config]
    policy: str
    invariants: Invariants
    scales: ScoreScales
    ticks: int

    def __call__(self, index: int, seed: int) -> dict[str, Any]:
        from paraphina.research.simrun import run_record, simulate

        r = simulate(self.scenarios[index], self.configs[index], self.policy, seed, None)
        rec = run_record(r)
        fails = check_invariants(self.invariants, r)
        return {"score": failure_score(rec, len(fails), self.ticks, self.scales), "failures": fails,
                "pnl": rec["pnl"], "max_drawdown": rec["max_drawdown"], "kill": rec["kill"],
                "kill_reason": rec["kill_reason"], "kill_tick": rec["kill_tick"], "ticks": rec["ticks"],
                "max_abs_q": rec["max_abs_q"], "fills": rec["fills"],
                "action_stream_sha256": rec["action_stream_sha256"]}


# --- the search ---------------------------------------------------------------------------------


@attrs.frozen
class SearchResult:
    output_dir: str
    evaluations: int
    executed: int
    failures: list[dict[str, Any]]  # best first
    best_score: float


def _load_evals(path: Path) -> dict[int, dict[str, Any]]:
    if not path.exists():
        return {}
    lines = path.read_bytes().split(b"\n")
    if lines and lines[-1] != b"":
        lines = lines[:-1]  # torn tail of an interrupted write: that evaluation is redone
    out: dict[int, dict[str, Any]] = {}
    for lineno, raw in enumerate(lines, 1):
        if not raw:
            continue
        try:
            rec = json.loads(raw)
            out[int(rec["index"])] = rec
        except (ValueError, KeyError, TypeError):
            raise AdversarialError(f"{path} line {lineno}: not an evaluation record") from None
    return out


def _line(rec: Mapping[str, Any]) -> str:
    return canonical_json(rec, indent=None) + "\n"


def search(*, base_path: str, base: Scenario, bounds: Bounds, config: Config, policy: str, budget: int, seed: int,
           output_dir: str | Path, ticks: int | None = None, population: int | None = None, jobs: int = 1,
           backend: str = "local", ray_address: str | None = None, progress: Progress | bool | None = None,
           force: bool = False, report: bool = True, config_id: str | None = None,
           commands: Sequence[str] = ()) -> SearchResult:
    """Run (or resume) the search into ``output_dir``; see the module docstring."""
    pop = population or bounds.spec.population
    if budget < 1:
        raise AdversarialError(f"--budget must be >= 1 (got {budget})")
    if pop < 2:
        raise AdversarialError(f"--population must be >= 2 (got {pop})")
    out = Path(output_dir)
    steps = steps_for_ticks(base, config, ticks)
    planned_ticks = max(1, math.ceil(steps * base.horizon.dt_ms / config.loops.main_loop_interval_ms))
    cid = config_id or config_hash(config)
    record = {"schema_version": 1, "seed": seed, "budget": budget, "population": pop, "policy": policy,
              "ticks": ticks, "steps": steps, "base_scenario": base_path, "base_scenario_sha256": file_hash(base_path),
              "bounds": bounds.path, "bounds_sha256": file_hash(bounds.path), "config_id": cid,
              "score": SCORE_FORMULA, "seed_rule": "run_seed(seed, evaluation index) mod 2^32 (paraphina.research.montecarlo)",
              "versions": versions()}
    claim(out, CONFIG_FILE, record, force=force, what="an adversarial search",
          hint="use another -o/--out, or --force to start over", error=AdversarialError)
    evals = _load_evals(out / EVALS_FILE)
    generations = math.ceil(budget / pop)
    n_new = sum(1 for i in range(budget) if i not in evals)
    bar = progress_for("adversarial", n_new, "evaluations", progress)
    owned = bar is not progress
    dist = Distribution.initial(bounds)
    gen_rows: list[dict[str, Any]] = []
    executed = 0
    pool = WorkerPool(jobs, backend, ray_address)  # one for every generation: workers start once
    try:
        for g in range(generations):
            lo, hi = g * pop, min(budget, (g + 1) * pop)
            drawn = dist.sample(bounds, seed, g, hi - lo)
            cands: dict[int, tuple[dict[str, Any], Scenario, int]] = {}
            for i, (coords, cats) in zip(range(lo, hi), drawn):
                values = candidate_values(bounds, coords, cats)
                s = run_seed(seed, i) % SEED_MODULUS
                cands[i] = (values, build_candidate(base, bounds, values, s, steps), s)
            for i in range(lo, hi):
                if i in evals and evals[i].get("scenario_id") != cands[i][1].scenario_id:
                    raise AdversarialError(f"{out / EVALS_FILE}: evaluation {i} is not the candidate this search "
                                           "draws (edited by hand?); use --force to start over")
            todo = [(i, cands[i][2]) for i in range(lo, hi) if i not in evals]
            bar.describe(f"generation {g + 1} of {generations}")
            if todo:
                run_fn = EvaluateCandidates(
                    scenarios={i: cands[i][1] for i, _ in todo},
                    configs={i: with_scenario_fees(config, cands[i][1]) for i, _ in todo},
                    policy=policy, invariants=bounds.invariants, scales=bounds.spec.score, ticks=planned_ticks)
                with open(out / EVALS_FILE, "ab") as sink:

                    def emit(i: int, s: int, raw: Mapping[str, Any]) -> None:
                        values, sc, _ = cands[i]
                        rec = {"index": i, "generation": g, "seed": s, "scenario_id": sc.scenario_id,
                               "params": values, **raw, "failed": bool(raw["failures"])}
                        evals[i] = rec
                        sink.write(_line(rec).encode())
                        sink.flush()
                        bar.update()

                    execute_tasks(run_fn, todo, jobs=jobs, backend=backend, ray_address=ray_address, emit=emit,
                                  pool=pool)
                executed += len(todo)
                write_atomic(out / EVALS_FILE, "".join(_line(evals[i]) for i in sorted(evals)))
            ranked = sorted(range(lo, hi), key=lambda i: (-evals[i]["score"], i))
            n_elite = max(1, math.ceil(bounds.spec.elite_fraction * (hi - lo)))
            elite = ranked[:n_elite]
            scores = [evals[i]["score"] for i in range(lo, hi)]
            gen_rows.append({"generation": g, "evaluations": hi - lo, "distribution": dist.to_json(bounds),
                             "best_score": max(scores), "mean_score": float(np.mean(scores)),
                             "elite_threshold": evals[elite[-1]]["score"],
                             "failures": sum(1 for i in range(lo, hi) if evals[i]["failed"])})
            dist = dist.refit(bounds, [drawn[i - lo] for i in elite])
    finally:
        pool.close()
        if owned:
            bar.close()
    failures = _write_outputs(out, bounds, base, evals, gen_rows, record, cands_builder=lambda rec: build_candidate(
        base, bounds, rec["params"], rec["seed"], steps))
    if report:
        from paraphina.research.adversarial_report import render_search_report

        write_atomic(out / REPORT_FILE, render_search_report(out))
    write_evidence_pack(out, {"commands": list(commands), "config_hash": cid, "search": record})
    ordered = [evals[i] for i in sorted(evals)]
    return SearchResult(output_dir=str(out), evaluations=len(ordered), executed=executed, failures=failures,
                        best_score=max((r["score"] for r in ordered), default=0.0))


def _csv(evals: Sequence[Mapping[str, Any]], names: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = ["index", "generation", "seed", "scenario_id", "score", "failed", "pnl", "max_drawdown", "kill",
            "kill_reason", "kill_tick", "ticks", "fills", "action_stream_sha256"]
    w.writerow(cols + list(names) + ["failures"])
    for r in evals:
        w.writerow([("" if r[c] is None else r[c]) for c in cols] + [r["params"][n] for n in names]
                   + ["; ".join(r["failures"])])
    return buf.getvalue()


def _write_outputs(out: Path, bounds: Bounds, base: Scenario, evals: Mapping[int, dict[str, Any]],
                   gen_rows: list[dict[str, Any]], record: Mapping[str, Any],
                   cands_builder: Callable[[Mapping[str, Any]], Scenario]) -> list[dict[str, Any]]:
    ordered = [evals[i] for i in sorted(evals)]
    write_atomic(out / EVALS_CSV, _csv(ordered, list(bounds.params)))
    write_atomic(out / GENERATIONS_FILE, "".join(_line(r) for r in gen_rows))
    failed = sorted((r for r in ordered if r["failed"]), key=lambda r: (-r["score"], r["index"]))
    fdir = out / FAILURES_DIR
    fdir.mkdir(exist_ok=True)
    failures, seen = [], set()
    for r in failed:
        if r["scenario_id"] in seen:
            continue
        seen.add(r["scenario_id"])
        sc = cands_builder(r)
        if sc.scenario_id != r["scenario_id"]:  # the record's parameters must rebuild its scenario exactly
            raise AdversarialError(f"{out / EVALS_FILE}: evaluation {r['index']} does not rebuild scenario "
                                   f"{r['scenario_id']}; use --force to start over")
        text = scenario_yaml(sc)
        path = fdir / f"{sc.scenario_id}.yaml"
        write_atomic(path, text)
        failures.append({"scenario_id": sc.scenario_id, "file": f"{FAILURES_DIR}/{path.name}",
                         "scenario_sha256": "sha256:" + hashlib.sha256(text.encode()).hexdigest(),
                         "seed": r["seed"], "score": r["score"], "failures": r["failures"], "index": r["index"],
                         "generation": r["generation"], "params": r["params"],
                         "provenance": {"search_seed": record["seed"], "evaluation": r["index"],
                                        "base_scenario_sha256": record["base_scenario_sha256"],
                                        "bounds_sha256": record["bounds_sha256"], "config_id": record["config_id"],
                                        "policy": record["policy"], "score": r["score"]}})
    keep = {f"{f['scenario_id']}.yaml" for f in failures}
    for stale in sorted(fdir.iterdir()):  # a directory resumed under --force keeps nothing foreign
        if stale.name not in keep:
            stale.unlink()
    write_atomic(out / FAILURES_FILE, canonical_json({"schema_version": 1, "invariants": msgspec.to_builtins(
        bounds.invariants), "failures": failures}))
    return failures


# --- the regression suite -------------------------------------------------------------------------


_TOP_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:")


def append_to_suite(suite_path: str | Path, search_dir: str | Path, failures: Sequence[Mapping[str, Any]],
                    invariants: Invariants, *, limit: int) -> tuple[list[str], list[str]]:
    """Append the ``limit`` best ``failures`` (from :func:`search`) to the suite at ``suite_path``;
    returns (added, already present) scenario ids.

    Each scenario is copied beside the suite (``<suite dir>/<suite name>/<scenario id>.yaml``,
    content-addressed) and entered with its seed, the search's failure invariants (every key, so
    the suite's defaults do not change what the entry checks) and its provenance. A failure whose
    scenario content is already entered is skipped (idempotent). The suite file is appended to as
    text (its comments and layout stay) and must still load afterwards; a new file is created
    with a minimal header.
    """
    suite = Path(suite_path)
    if not suite.parent.is_dir():
        raise AdversarialError(f"--suite-out {suite}: directory {suite.parent} does not exist")
    text = suite.read_text(encoding="utf-8") if suite.exists() else ""
    existing: set[str] = set()
    if text:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise AdversarialError(f"{suite}: not valid YAML: {' '.join(str(exc).split())}") from None
        entries = data.get("scenarios") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise AdversarialError(f"{suite}: `scenarios` must be a list to append to")
        for e in entries:
            prov = e.get("provenance") if isinstance(e, dict) else None
            if isinstance(prov, dict) and "scenario_sha256" in prov:
                existing.add(prov["scenario_sha256"])
        keys = [m.group(1) for m in map(_TOP_KEY.match, text.splitlines()) if m]
        if not keys or keys[-1] != "scenarios" or re.search(r"^scenarios[ \t]*:[ \t]*[^\s#]", text, re.M):
            raise AdversarialError(f"{suite}: `scenarios:` must be the last key, a block list, to append to")
    indent = "  "
    m = re.search(r"^scenarios[ \t]*:[^\n]*\n(?:[ \t]*(?:#[^\n]*)?\n)*([ \t]*)- ", text, re.M)
    if m:
        indent = m.group(1)
    added, present, lines = [], [], []
    store = suite.parent / suite.stem
    for f in list(failures)[:limit]:
        if f["scenario_sha256"] in existing:
            present.append(f["scenario_id"])
            continue
        existing.add(f["scenario_sha256"])
        src = Path(search_dir) / f["file"]
        store.mkdir(exist_ok=True)
        dst = store / src.name
        if not dst.exists():
            write_atomic(dst, src.read_bytes())
        entry = {"path": f"{suite.stem}/{src.name}", "seeds": [f["seed"]],
                 "invariants": msgspec.to_builtins(invariants),
                 "provenance": {**f["provenance"], "scenario_sha256": f["scenario_sha256"],
                                "failures": list(f["failures"])}}
        dumped = yaml.safe_dump([entry], sort_keys=False, default_flow_style=None, width=1000)
        lines.extend(indent + line if line else line for line in dumped.splitlines())
        added.append(f["scenario_id"])
    if not added:
        return added, present
    if not text:
        text = (f"suite_id: {suite.stem}\nsuite_version: 1\ndescription: >-\n  Failures found by paraphina "
                "adversarial, each with its seed, invariants and provenance.\nscenarios:\n")
    new = text + ("" if text.endswith("\n") else "\n") + "\n".join(lines) + "\n"
    write_atomic(suite, new)
    try:  # the file must still be a suite (its other entries may resolve only from the repository root)
        msgspec.convert(read_yaml(suite), SuiteFile, strict=False)
    except (UserError, msgspec.ValidationError) as exc:
        if text:
            write_atomic(suite, text)
        else:
            suite.unlink()
        raise AdversarialError(f"{suite}: appending broke the suite ({exc}); left as it was") from None
    return added, present
