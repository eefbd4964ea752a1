"""Phase A candidate samplers: where the next candidates come from.

``random`` (the baseline, and the default) draws every candidate up front with
:func:`batch_runs.phase_a.spec.generate_candidates`, exactly as Phase A always has. The others
adapt to what the study has measured so far, in sequential batches: the pipeline asks a batch,
evaluates its candidates in order, then tells the sampler every outcome in candidate order. All
of them start from the *same* ``init`` random candidates as ``random`` with the same seed (so a
comparison at equal budget measures what the model adds, not a luckier start):

* ``pareto-mutation``: a parent drawn (seeded) from the current Pareto set of the evaluated
  candidates (of those within some tier's budget when there are any), and one or more of its knobs
  moved a step within the bounds: a continuous knob by a normal step of 25% of its range,
  truncated at 50% and reflected at the bounds; a list of choices one position left or right; the
  profile to another one.
* ``tpe``: Optuna's multi-objective TPE (``TPESampler(seed=..., multivariate=True)``) over the
  objectives Phase A ranks by: mean PnL up, kill UCB down, drawdown CVaR down; the tier budgets
  are its ``constraints_func``.
* ``cmaes``: Optuna's CMA-ES (``CmaEsSampler(seed=...)``; needs the ``cmaes`` package). CMA-ES
  has one objective, so it minimises ``-mean_pnl + penalty_usd * max(0, violation)`` where
  ``penalty_usd`` is the largest ``max_dd_cvar`` of the budgets (a 100% overrun of a bound costs
  as much as the loosest drawdown budget). Choices and profiles are ordinal integer indices for it.

The budget violation of a candidate (``<= 0``: within the budget of at least one tier) is
``min over tiers of max(kill_ucb / max_kill_ucb - 1, dd_cvar / max_dd_cvar - 1,
(min_pnl_lcb_usd - pnl_lcb) / max_dd_cvar)``, where a ``max_kill_ucb`` out of reach at the
study's run count (below the bound that zero kills give) is raised to that bound, so that the
constraint still tells candidates apart (promotion keeps the budget as written). A candidate that is not valid (a NaN objective,
evidence that does not verify, a failed out-of-sample suite) is told as failed.

Everything is deterministic for a seed: one in-memory Optuna study per Phase A study, trials
asked and told in one fixed order. A sampler never proposes a candidate the study has already
seen: Optuna's duplicates are told the known outcome (or failed, when still pending) and asked
again; after 100 duplicates in a row a seeded uniform draw stands in (origin ``fallback``).
What the sampler did is :meth:`Sampler.history` (one row per proposal, written by the pipeline to
``sampler/history.jsonl``), and its settings :meth:`Sampler.provenance` (``sampler/state.json``
and ``study.json``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

from batch_runs.phase_a.spec import (
    Candidate,
    KnobRange,
    KnobSpec,
    SpecError,
    draw_env,
    format_value,
    generate_candidates,
    make_candidate,
    space_size,
)
from paraphina.research import stats

SAMPLERS = ("random", "pareto-mutation", "tpe", "cmaes")
DEFAULT_SAMPLER = "random"
DEFAULT_BATCH = 4
OBJECTIVES = {"mean_pnl": "maximize", "kill_ucb": "minimize", "dd_cvar": "minimize"}
MUTATION_SIGMA = 0.25  # of a continuous knob's range
MUTATION_MAX_STEP = 0.5  # of a continuous knob's range: the normal step is truncated here
MAX_DUPLICATES = 100


class Proposal(msgspec.Struct, frozen=True, kw_only=True):
    """A candidate to evaluate, with where it came from (``random``, ``mutation``, ``tpe``,
    ``cmaes``, ``fallback``) and its parent's id (mutation only)."""

    candidate: Candidate
    origin: str
    parent: str | None = None


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What the study measured for a candidate: its score, whether it is valid (finite, verified,
    suites passed) and its tier-budget violation (``<= 0``: within some tier's budget)."""

    score: stats.CandidateScore
    valid: bool
    violation: float


def budget_violation(score: stats.CandidateScore, budgets: Mapping[str, stats.Budget], kill_floor: float = 0.0) -> float:
    """How far outside the nearest tier's budget (``<= 0``: inside one); see the module doc.

    ``kill_floor``: the kill UCB of a candidate with zero kills at the study's run count. A kill
    bound below it is out of reach for every candidate, which would make the constraint the same
    for all of them (and a model-based sampler blind); it is raised to the floor."""
    best = math.inf
    for b in budgets.values():
        dd_scale = b.max_dd_cvar if b.max_dd_cvar > 0 else 1.0
        kill_bound = max(b.max_kill_ucb, kill_floor)
        kill = score.kill_ucb / kill_bound - 1.0 if kill_bound > 0 else score.kill_ucb
        v = max(kill, score.dd_cvar / dd_scale - 1.0, (b.min_pnl_lcb_usd - score.pnl_lcb) / dd_scale)
        best = min(best, v)
    return best


def init_count(total: int, batch: int) -> int:
    """Random candidates every adaptive sampler starts from: a quarter of the budget, at least a
    batch and at least 4, at most the budget."""
    return min(total, max(4, batch, total // 4))


class Sampler:
    """Ask-and-tell over the knob spec. ``ask(n)`` returns up to ``n`` new proposals; ``tell``
    receives each proposal's outcome, in the order asked."""

    name = "sampler"

    def __init__(self, spec: KnobSpec, seed: int, total: int, batch: int,
                 budgets: Mapping[str, stats.Budget]) -> None:
        if total < 1:
            raise SpecError(f"--trials must be >= 1 (got {total})")
        if batch < 1:
            raise SpecError(f"--batch must be >= 1 (got {batch})")
        space = space_size(spec)
        if total > space:
            raise SpecError(f"asked for {total} candidates but the knob ranges only allow {space} distinct ones")
        self.spec, self.seed, self.total, self.batch, self.budgets = spec, seed, total, batch, dict(budgets)
        self.init = init_count(total, batch)
        self.seen: set[str] = set()
        self.outcomes: dict[str, Outcome] = {}
        self.rows: list[dict[str, Any]] = []
        self._row_of: dict[str, dict[str, Any]] = {}
        self._initial = generate_candidates(spec, self.init, seed)

    # -- the interface the pipeline uses ------------------------------------------------------
    def ask(self, n: int) -> list[Proposal]:
        out: list[Proposal] = []
        while len(out) < n and len(self.seen) < self.total:
            p = self._next()
            self.seen.add(p.candidate.candidate_id)
            row = {"index": len(self.rows), "candidate_id": p.candidate.candidate_id, "origin": p.origin,
                   "parent": p.parent, "env": p.candidate.env, "valid": None, "violation": None, "objectives": None}
            self.rows.append(row)
            self._row_of[p.candidate.candidate_id] = row
            out.append(p)
        return out

    def tell(self, proposal: Proposal, outcome: Outcome) -> None:
        cid = proposal.candidate.candidate_id
        self.outcomes[cid] = outcome
        s = outcome.score
        row = self._row_of[cid]
        row.update(valid=outcome.valid, violation=_finite_or_none(outcome.violation),
                   objectives={k: _finite_or_none(getattr(s, k)) for k in OBJECTIVES})
        self._told(proposal, outcome)

    def history(self) -> list[dict[str, Any]]:
        """One row per proposal, in the order asked."""
        return list(self.rows)

    def provenance(self) -> dict[str, Any]:
        return {"sampler": self.name, "seed": self.seed, "batch": self.batch, "init": self.init,
                "objectives": OBJECTIVES, **self._settings()}

    # -- what each sampler provides -----------------------------------------------------------
    def _next(self) -> Proposal:
        raise NotImplementedError

    def _told(self, proposal: Proposal, outcome: Outcome) -> None:
        pass

    def _settings(self) -> dict[str, Any]:
        return {}

    # -- shared helpers ------------------------------------------------------------------------
    def _initial_next(self) -> Proposal | None:
        for c in self._initial:
            if c.candidate_id not in self.seen:
                return Proposal(candidate=c, origin="random")
        return None

    def _fallback(self, rng: np.random.Generator) -> Proposal:
        for _ in range(1000 * self.total):
            c = make_candidate(draw_env(self.spec, rng))
            if c.candidate_id not in self.seen:
                return Proposal(candidate=c, origin="fallback")
        raise SpecError(f"could not draw {self.total} distinct candidates from the knob ranges")


class RandomSampler(Sampler):
    """The baseline: the ``total`` candidates of :func:`generate_candidates`, in order."""

    name = "random"

    def __init__(self, spec: KnobSpec, seed: int, total: int, batch: int,
                 budgets: Mapping[str, stats.Budget]) -> None:
        super().__init__(spec, seed, total, batch, budgets)
        self._all = generate_candidates(spec, total, seed)

    def _next(self) -> Proposal:
        return Proposal(candidate=self._all[len(self.seen)], origin="random")

    def provenance(self) -> dict[str, Any]:
        return {"sampler": self.name, "seed": self.seed, "rng": f"numpy.random.default_rng({self.seed})"}


class ParetoMutationSampler(Sampler):
    """Seeded mutation around the current Pareto set (see the module doc)."""

    name = "pareto-mutation"

    def __init__(self, spec: KnobSpec, seed: int, total: int, batch: int,
                 budgets: Mapping[str, stats.Budget]) -> None:
        super().__init__(spec, seed, total, batch, budgets)
        self.rng = np.random.default_rng([seed, 1])  # a stream of its own, apart from the initial draws

    def _settings(self) -> dict[str, Any]:
        return {"rng": f"numpy.random.default_rng([{self.seed}, 1])", "sigma": MUTATION_SIGMA,
                "max_step": MUTATION_MAX_STEP}

    def parents(self) -> list[stats.CandidateScore]:
        """The frontier of the valid candidates told so far (within budget ones when any)."""
        valid = [o for o in self.outcomes.values() if o.valid]
        inside = [o for o in valid if o.violation <= 0]
        return stats.pareto_frontier(o.score for o in (inside or valid))

    def _next(self) -> Proposal:
        first = self._initial_next()
        if first is not None and len(self.seen) < self.init:
            return first
        parents = self.parents()
        if not parents:
            return first if first is not None else self._fallback(self.rng)
        for _ in range(MAX_DUPLICATES):
            parent = parents[int(self.rng.integers(len(parents)))]
            env = self._row_of[parent.key]["env"]
            child = make_candidate(mutate(self.spec, env, self.rng))
            if child.candidate_id not in self.seen:
                return Proposal(candidate=child, origin="mutation", parent=parent.key)
        return self._fallback(self.rng)


def mutate(spec: KnobSpec, env: Mapping[str, str], rng: np.random.Generator) -> dict[str, str]:
    """A child of ``env``: each knob (and the profile, when there is a choice) moves with
    probability 1/d, at least one of them always; steps as in the module doc."""
    genes: list[KnobRange | None] = ([None] if len(spec.profiles) > 1 else []) + [
        k for k in spec.knobs if k.choices is None and k.high > k.low or k.choices is not None and len(k.choices) > 1]
    out = dict(env)
    if not genes:
        return out
    moves = rng.random(len(genes)) < 1.0 / len(genes)
    if not moves.any():
        moves[int(rng.integers(len(genes)))] = True
    for gene, move in zip(genes, moves):
        if not move:
            continue
        if gene is None:
            others = [p for p in spec.profiles if p != env["PARAPHINA_RISK_PROFILE"]]
            out["PARAPHINA_RISK_PROFILE"] = others[int(rng.integers(len(others)))]
        elif gene.choices is not None:
            i = choice_index(gene, env[gene.name])
            j = i + (1 if rng.random() < 0.5 else -1)
            if j < 0 or j >= len(gene.choices):  # reflect at the ends
                j = i - (j - i)
            out[gene.name] = format_value(gene.choices[j])
        else:
            width = gene.high - gene.low
            step = float(np.clip(rng.normal(0.0, MUTATION_SIGMA), -MUTATION_MAX_STEP, MUTATION_MAX_STEP)) * width
            v = float(env[gene.name]) + step
            if v > gene.high:
                v = 2 * gene.high - v
            if v < gene.low:
                v = 2 * gene.low - v
            out[gene.name] = format_value(round(min(max(v, gene.low), gene.high), 6))
    return out


def choice_index(knob: KnobRange, value: str) -> int:
    """Position of an env value among a knob's choices."""
    for i, c in enumerate(knob.choices or ()):
        if format_value(c) == value:
            return i
    raise SpecError(f"{knob.name}={value}: not one of its choices {list(knob.choices or ())}")


class OptunaSampler(Sampler):
    """TPE or CMA-ES through Optuna's ask-and-tell interface (see the module doc)."""

    def __init__(self, name: str, spec: KnobSpec, seed: int, total: int, batch: int,
                 budgets: Mapping[str, stats.Budget]) -> None:
        super().__init__(spec, seed, total, batch, budgets)
        try:
            import optuna
        except ImportError:
            raise SpecError(f"--sampler {name} needs Optuna: pip install 'paraphina[tune]'") from None
        if name == "cmaes":
            try:
                import cmaes  # noqa: F401  (CmaEsSampler imports it lazily; fail up front instead)
            except ImportError:
                raise SpecError("--sampler cmaes needs the cmaes package: pip install 'paraphina[tune]'") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.name = name
        self.optuna = optuna
        self.ordinal = name == "cmaes"
        self.penalty_usd = max((b.max_dd_cvar for b in budgets.values()), default=1.0)
        self.rng = np.random.default_rng([seed, 2])  # fallback draws only
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning for multivariate / constraints_func
            if name == "tpe":
                sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=self.init,
                                                     constraints_func=_constraints)
                self.study = optuna.create_study(directions=list(OBJECTIVES.values()), sampler=sampler)
            else:
                sampler = optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=self.init,
                                                       warn_independent_sampling=False)
                self.study = optuna.create_study(direction="minimize", sampler=sampler)
        for c in self._initial:  # the same start as random with this seed
            self.study.enqueue_trial(self._params(c.env))
        self.pending: dict[str, Any] = {}  # candidate id -> its Optuna trial, asked but not told

    def _settings(self) -> dict[str, Any]:
        from importlib.metadata import version

        lib = {"optuna": version("optuna")}
        if self.name == "tpe":
            return {"library": lib, "optuna_sampler": f"TPESampler(seed={self.seed}, multivariate=True, "
                                                      f"n_startup_trials={self.init}, constraints_func=budget violation)",
                    "directions": list(OBJECTIVES.values()), "constraint": "budget violation <= 0"}
        lib["cmaes"] = version("cmaes")
        return {"library": lib, "optuna_sampler": f"CmaEsSampler(seed={self.seed}, n_startup_trials={self.init})",
                "objective": "-mean_pnl + penalty_usd * max(0, budget violation)", "penalty_usd": self.penalty_usd,
                "encoding": "choices and profiles as ordinal indices"}

    def _params(self, env: Mapping[str, str]) -> dict[str, Any]:
        """The Optuna parameters of an overlay (for enqueueing the initial candidates)."""
        out: dict[str, Any] = {}
        profile = env["PARAPHINA_RISK_PROFILE"]
        out["PARAPHINA_RISK_PROFILE"] = self.spec.profiles.index(profile) if self.ordinal else profile
        for k in self.spec.knobs:
            if k.choices is not None:
                i = choice_index(k, env[k.name])
                out[k.name] = i if self.ordinal else k.choices[i]
            else:
                out[k.name] = float(env[k.name])
        return out

    def _suggest(self, trial: Any) -> dict[str, str]:
        profiles = self.spec.profiles
        if self.ordinal:
            env = {"PARAPHINA_RISK_PROFILE": profiles[trial.suggest_int("PARAPHINA_RISK_PROFILE", 0, len(profiles) - 1)]}
        else:
            env = {"PARAPHINA_RISK_PROFILE": trial.suggest_categorical("PARAPHINA_RISK_PROFILE", list(profiles))}
        for k in self.spec.knobs:
            if k.choices is not None and self.ordinal:
                env[k.name] = format_value(k.choices[trial.suggest_int(k.name, 0, len(k.choices) - 1)])
            elif k.choices is not None:
                env[k.name] = format_value(trial.suggest_categorical(k.name, list(k.choices)))
            else:
                env[k.name] = format_value(round(trial.suggest_float(k.name, k.low, k.high), 6))
        return env

    def _next(self) -> Proposal:
        for _ in range(MAX_DUPLICATES):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trial = self.study.ask()
                cand = make_candidate(self._suggest(trial))
            cid = cand.candidate_id
            if cid not in self.seen:
                self.pending[cid] = trial
                origin = "random" if len(self.seen) < self.init else self.name
                return Proposal(candidate=cand, origin=origin)
            known = self.outcomes.get(cid)
            if known is None:
                self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
            else:
                self._tell_trial(trial, known)
        return self._fallback(self.rng)

    def _told(self, proposal: Proposal, outcome: Outcome) -> None:
        trial = self.pending.pop(proposal.candidate.candidate_id, None)
        if trial is not None:  # a fallback draw has no Optuna trial
            self._tell_trial(trial, outcome)

    def _tell_trial(self, trial: Any, outcome: Outcome) -> None:
        s = outcome.score
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not outcome.valid:
                self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
            elif self.name == "tpe":
                trial.set_user_attr("violation", outcome.violation)
                self.study.tell(trial, [s.mean_pnl, s.kill_ucb, s.dd_cvar])
            else:
                self.study.tell(trial, -s.mean_pnl + self.penalty_usd * max(0.0, outcome.violation))


def _constraints(trial: Any) -> Sequence[float]:
    """Optuna's constraints_func: the budget violation told with the trial (``<= 0``: feasible)."""
    return (float(trial.user_attrs.get("violation", 0.0)),)


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None


def make_sampler(name: str, spec: KnobSpec, seed: int, total: int, batch: int,
                 budgets: Mapping[str, stats.Budget]) -> Sampler:
    """The sampler called ``name`` (one of :data:`SAMPLERS`)."""
    if name == "random":
        return RandomSampler(spec, seed, total, batch, budgets)
    if name == "pareto-mutation":
        return ParetoMutationSampler(spec, seed, total, batch, budgets)
    if name in ("tpe", "cmaes"):
        return OptunaSampler(name, spec, seed, total, batch, budgets)
    raise SpecError(f"--sampler {name!r}: expected one of {', '.join(SAMPLERS)}")
