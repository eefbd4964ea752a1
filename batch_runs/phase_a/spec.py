"""Phase A inputs: knob ranges, risk budgets, and seeded candidate generation.

Knob spec (YAML, or TOML by extension)::

    profiles: [conservative, balanced, aggressive]
    knobs:
      PARAPHINA_HEDGE_BAND_BASE: [0.02, 0.05, 0.10]     # choices
      PARAPHINA_VOL_REF: {low: 0.05, high: 0.15}        # uniform, rounded to 6 decimals

Candidate ``i`` of seed ``S``: a numpy Generator seeded with ``S`` draws the profile, then each
knob in *name* order (so the order of keys in the file does not matter). A draw identical to an
earlier candidate is discarded and drawn again. ``candidate_id = sha256("_".join("K=V" over the
sorted env, profile included))[:12]``.

Budgets (YAML): optional ``alpha`` (default 0.05), then ``<tier>: {max_kill_ucb, max_dd_cvar,
min_pnl_lcb_usd}``; the reference's legacy names ``max_kill_prob``, ``max_drawdown_cvar``,
``min_mean_pnl`` are accepted for the same bounds. Unknown keys are errors.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from paraphina.config import PROFILE_ALIASES, ConfigError, parse_config_text
from paraphina.errors import UserError
from paraphina.research.stats import Budget

HERE = Path(__file__).resolve().parent
DEFAULT_KNOBS = HERE / "knobs.yaml"
DEFAULT_BUDGETS = HERE / "budgets.yaml"
DEFAULT_ALPHA = 0.05
# Used when no budgets file exists (reference defaults).
DEFAULT_BUDGET_TABLE = {
    "conservative": (0.05, 500.0, 10.0),
    "balanced": (0.10, 1000.0, 20.0),
    "aggressive": (0.15, 2000.0, 30.0),
    "research": (0.20, 3000.0, 0.0),
}
_BUDGET_KEYS = {"max_kill_ucb": "max_kill_ucb", "max_dd_cvar": "max_dd_cvar", "min_pnl_lcb_usd": "min_pnl_lcb_usd",
                "max_kill_prob": "max_kill_ucb", "max_drawdown_cvar": "max_dd_cvar", "min_mean_pnl": "min_pnl_lcb_usd"}


class SpecError(UserError):
    """A bad knob spec or budgets file; the message names the file and key."""


class KnobRange(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None


class KnobSpec(msgspec.Struct, frozen=True, kw_only=True):
    profiles: tuple[str, ...]
    knobs: tuple[KnobRange, ...]  # sorted by name


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    candidate_id: str
    profile: str
    env: dict[str, str]  # PARAPHINA_* overlay, profile included


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not a text file") from None
    try:
        return parse_config_text(text, str(path))
    except ConfigError as exc:
        raise SpecError(str(exc)) from None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def knob_spec_from_dict(data: Mapping[str, Any], where: str = "knob spec") -> KnobSpec:
    unknown = set(data) - {"profiles", "knobs"}
    if unknown:
        raise SpecError(f"{where}: unknown key {sorted(unknown)[0]!r} (expected profiles, knobs)")
    profiles_raw = data.get("profiles", ["conservative", "balanced", "aggressive"])
    if not isinstance(profiles_raw, list) or not profiles_raw:
        raise SpecError(f"{where}: 'profiles' must be a non-empty list")
    profiles = []
    for p in profiles_raw:
        name = PROFILE_ALIASES.get(str(p).strip().lower())
        if name is None:
            raise SpecError(f"{where}: profiles: unknown risk profile {p!r}")
        profiles.append(name)
    knobs_raw = data.get("knobs")
    if not isinstance(knobs_raw, Mapping) or not knobs_raw:
        raise SpecError(f"{where}: 'knobs' must be a non-empty table of PARAPHINA_* names")
    knobs = []
    for name in sorted(knobs_raw):
        v = knobs_raw[name]
        if not str(name).startswith("PARAPHINA_") or name == "PARAPHINA_RISK_PROFILE":
            raise SpecError(f"{where}: knobs.{name}: knob names are PARAPHINA_* env variables (profile via 'profiles')")
        if isinstance(v, list):
            if not v or not all(_is_number(x) or isinstance(x, str) for x in v):
                raise SpecError(f"{where}: knobs.{name}: choices must be a non-empty list of numbers or strings")
            knobs.append(KnobRange(name=name, choices=tuple(v)))
        elif isinstance(v, Mapping):
            if set(v) != {"low", "high"} or not (_is_number(v["low"]) and _is_number(v["high"])) or v["low"] > v["high"]:
                raise SpecError(f"{where}: knobs.{name}: a range is {{low: a, high: b}} with numbers a <= b")
            knobs.append(KnobRange(name=name, low=float(v["low"]), high=float(v["high"])))
        else:
            raise SpecError(f"{where}: knobs.{name}: expected a list of choices or {{low, high}}")
    return KnobSpec(profiles=tuple(profiles), knobs=tuple(knobs))


def load_knob_spec(path: str | Path = DEFAULT_KNOBS) -> KnobSpec:
    path = Path(path)
    return knob_spec_from_dict(_read(path), str(path))


def load_budgets(path: str | Path | None = DEFAULT_BUDGETS) -> tuple[float, dict[str, Budget]]:
    """(alpha, {tier: Budget}) in file order; the reference defaults when ``path`` is None."""
    if path is None:
        return DEFAULT_ALPHA, {t: Budget(tier=t, max_kill_ucb=k, max_dd_cvar=d, min_pnl_lcb_usd=p)
                               for t, (k, d, p) in DEFAULT_BUDGET_TABLE.items()}
    path = Path(path)
    data = _read(path)
    alpha = data.pop("alpha", DEFAULT_ALPHA)
    if not _is_number(alpha) or not 0 < alpha < 1:
        raise SpecError(f"{path}: alpha must be a number in (0, 1) (got {alpha!r})")
    if not data:
        raise SpecError(f"{path}: no tiers")
    tiers: dict[str, Budget] = {}
    for tier, body in data.items():
        if not isinstance(body, Mapping):
            raise SpecError(f"{path}: {tier}: expected a table of bounds")
        vals: dict[str, float] = {}
        for k, v in body.items():
            if k not in _BUDGET_KEYS:
                raise SpecError(f"{path}: {tier}.{k}: unknown key (expected max_kill_ucb, max_dd_cvar, min_pnl_lcb_usd)")
            if not _is_number(v):
                raise SpecError(f"{path}: {tier}.{k}: expected a number (got {v!r})")
            canon = _BUDGET_KEYS[k]
            if canon in vals:
                raise SpecError(f"{path}: {tier}.{k}: bound given twice (legacy and current name)")
            vals[canon] = float(v)
        missing = sorted({"max_kill_ucb", "max_dd_cvar", "min_pnl_lcb_usd"} - set(vals))
        if missing:
            raise SpecError(f"{path}: {tier}: missing {missing[0]}")
        tiers[str(tier)] = Budget(tier=str(tier), **vals)
    return float(alpha), tiers


def format_value(v: Any) -> str:
    """Env string of a knob value: ints as ints, floats by repr (shortest round trip)."""
    if isinstance(v, bool):
        raise SpecError(f"knob value {v!r}: booleans are not knob values")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def candidate_id(env: Mapping[str, str]) -> str:
    return hashlib.sha256("_".join(f"{k}={env[k]}" for k in sorted(env)).encode("utf-8")).hexdigest()[:12]


def draw_env(spec: KnobSpec, rng: np.random.Generator) -> dict[str, str]:
    """One uniform draw from the knob ranges: the profile, then each knob in name order."""
    env = {"PARAPHINA_RISK_PROFILE": spec.profiles[int(rng.integers(len(spec.profiles)))]}
    for k in spec.knobs:
        if k.choices is not None:
            env[k.name] = format_value(k.choices[int(rng.integers(len(k.choices)))])
        else:
            env[k.name] = format_value(round(float(rng.uniform(k.low, k.high)), 6))
    return env


def make_candidate(env: Mapping[str, str]) -> Candidate:
    """The candidate of an overlay (profile included): its id and its env sorted by name."""
    return Candidate(candidate_id=candidate_id(env), profile=env["PARAPHINA_RISK_PROFILE"], env=dict(sorted(env.items())))


def space_size(spec: KnobSpec) -> int:
    """How many distinct candidates the ranges allow (a continuous range counts as 10**9)."""
    space = len(spec.profiles)
    for k in spec.knobs:
        space *= len(k.choices) if k.choices is not None else 10**9
    return space


def generate_candidates(spec: KnobSpec, n: int, seed: int) -> list[Candidate]:
    """``n`` distinct candidates drawn with a numpy Generator seeded by ``seed``."""
    if n < 1:
        raise SpecError(f"--candidates must be >= 1 (got {n})")
    space = space_size(spec)
    if n > space:
        raise SpecError(f"asked for {n} candidates but the knob ranges only allow {space} distinct ones")
    rng = np.random.default_rng(seed)
    out: list[Candidate] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 1000 * n:
            raise SpecError(f"could not draw {n} distinct candidates from the knob ranges")
        cand = make_candidate(draw_env(spec, rng))
        if cand.candidate_id in seen:
            continue
        seen.add(cand.candidate_id)
        out.append(cand)
    return out


def env_file_text(env: Mapping[str, str], header: list[str]) -> str:
    """``#`` header lines, then sorted ``export K=V`` lines (values are plain numbers or names)."""
    return "".join(f"# {h}\n" for h in header) + "".join(f"export {k}={env[k]}\n" for k in sorted(env))
