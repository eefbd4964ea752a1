"""Typed configuration: sections of frozen msgspec Structs, risk profiles, env knobs, hash.

Precedence, lowest first: built-in defaults < preset (instrument scale) < risk profile (risk
appetite) < config file (TOML or YAML) < ``PARAPHINA_*`` environment knobs < explicit overrides
(CLI flags). The profile is chosen by the CLI, else ``PARAPHINA_RISK_PROFILE``, else the file's
``profile`` key, else ``balanced``.

A preset sizes the instrument (fees, order sizes, limits in its units); a profile scales what the
preset set: each profile knob becomes ``preset value x profile / balanced`` (STRATEGY.md 2.1's
table read as ratios), so at the spec's own TAO scale the table's numbers come out exactly and
at a BTC preset's scale the profile acts in BTC units (docs/strategy.md, "Configuration").

Every value is validated when the config is built (unknown keys, wrong types, negative limits
are errors naming the key); :func:`config_hash` is the SHA-256 of the canonical JSON of the
resolved config, printed in every output so runs can be traced to their exact settings.

This module is pure: :func:`load_config` takes the file *text* and an environment mapping;
reading files and ``os.environ`` is the caller's job (the CLI).
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

NonNeg = Annotated[float, Meta(ge=0)]
Pos = Annotated[float, Meta(gt=0)]
PosInt = Annotated[int, Meta(gt=0)]
NonNegInt = Annotated[int, Meta(ge=0)]
Fraction = Annotated[float, Meta(ge=0, le=1)]
IntervalMs = Annotated[int, Meta(gt=0, le=3_600_000)]  # a loop slower than an hourly tick is a typo
LimitComparison = Literal["spec", "reference"]


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class VenueConfig(_Section):
    """Per-venue strategy parameters (STRATEGY.md 2.2). Instrument units come from the log."""

    name: str = ""
    maker_fee_bps: float = 2.0
    taker_fee_bps: float = 5.0
    maker_rebate_bps: float = 0.0
    gamma: Pos = 0.10
    k: Pos = 1.5
    w_liq: Fraction = 0.25
    w_fund: Fraction = 0.25
    stale_ms_override: NonNegInt | None = None
    base_order_size: Pos = 1.0
    max_order_size: Pos = 20.0
    min_notional_usd: NonNeg = 10.0
    is_hedge_allowed: bool = True
    max_position: Pos = 1000.0


class LoopConfig(_Section):
    """Loop cadences in event-time milliseconds (STRATEGY.md 2.3 and 5)."""

    main_loop_interval_ms: IntervalMs = 250
    hedge_loop_interval_ms: IntervalMs = 500
    fill_agg_interval_ms: IntervalMs = 1000


class RiskConfig(_Section):
    daily_loss_limit: Pos = 5000.0
    delta_hard_limit_usd_base: Pos = 100_000.0
    delta_warn_frac: Fraction = 0.7
    basis_hard_limit_usd: Pos = 10_000.0
    basis_warn_frac: Fraction = 0.7
    pnl_warn_frac: Fraction = 0.5
    spread_warn_mult: Annotated[float, Meta(ge=1)] = 1.5
    q_warn_cap: Pos = 5.0
    mm_margin_safety: Fraction = 0.5
    mm_max_leverage: Pos = 10.0
    liq_warn_sigma: NonNeg = 5.0
    liq_crit_sigma: NonNeg = 2.0
    liq_sigma_horizon_sec: Pos = 86_400.0
    pnl_day_boundary_utc: str | None = "00:00"
    # On the kill tick, one best-effort IOC that flattens the venue most at risk (spec 4.14 step 2;
    # off by default as in the reference's PARAPHINA_KILL_BEST_EFFORT).
    kill_best_effort_flatten: bool = False
    # "spec": hard breach on |x| > limit, warnings strictly above the fraction (decision 15);
    # "reference": the Rust code's >= everywhere plus a liquidation Warning at dist <= liq_warn.
    limit_comparison: LimitComparison = "spec"


class BookConfig(_Section):
    depth_levels: PosInt = 10
    stale_ms: PosInt = 1000
    min_healthy_for_kf: PosInt = 2
    max_mid_jump_pct: NonNeg = 0.02
    capacity_levels: PosInt = 2048


class OrderConfig(_Section):
    """Order management (STRATEGY.md 4.9), applied to every policy's quotes."""

    min_quote_lifetime_ms: NonNegInt = 500
    price_tol_ticks: NonNegInt = 1
    size_tol_rel: NonNeg = 0.10


class FixedSpreadConfig(_Section):
    """The built-in ``fixed-spread`` policy: N ticks around each venue's mid, skewed by inventory."""

    half_spread_ticks: PosInt = 5
    size: Pos = 1.0
    skew_ticks_per_unit: NonNeg = 1.0
    max_position: Pos = 10.0


# --- canonical heuristic strategy (STRATEGY.md 2.3); consumed by paraphina.strategy ----------

VenueTargetSign = Literal["intent", "literal"]


KalmanNoiseModel = Literal["relative", "reference"]


class KalmanConfig(_Section):
    """Robust 1-D Kalman filter on log fair value (STRATEGY.md 4.1, decision 16).

    ``noise_model = "relative"`` (default): a venue's observation variance is
    ``r_min + r_spread*(spread/mid)^2 + r_depth*(median depth/depth)``, the same on any
    instrument. ``"reference"``: the spec's ``r_a*(spread/mid)^2 + r_b/depth_usd``, sized for
    TAO books (at BTC depth it makes every mid a few percent noisy and the fair value lag).
    """

    q_base: NonNeg = 1e-6
    noise_model: KalmanNoiseModel = "relative"
    r_spread: NonNeg = 0.25
    r_depth: NonNeg = 1e-8
    r_a: NonNeg = 1e-6
    r_b: NonNeg = 1e2
    r_min: Pos = 1e-8
    r_max: Pos = 1e-2
    p_init: Pos = 1.0


class VolatilityConfig(_Section):
    """Fair-value volatility and the control scalars derived from it (STRATEGY.md 4.2)."""

    fv_vol_alpha_short: Fraction = 0.2
    fv_vol_alpha_long: Fraction = 0.05
    sigma_min: Pos = 0.001
    vol_ref: Pos = 0.028125
    vol_ref_cadence_sec: Pos = 86_400.0
    sigma_min_cadence_sec: Pos = 86_400.0
    vol_ratio_min: Pos = 0.25
    vol_ratio_max: Pos = 4.0
    spread_vol_mult_coeff: NonNeg = 1.0
    size_vol_mult_coeff: NonNeg = 2.0
    band_vol_mult_coeff: NonNeg = 1.0


class ToxicityConfig(_Section):
    """Markout toxicity and venue health (STRATEGY.md 4.4, decision 2)."""

    vol_tox_scale: Pos = 0.5
    tox_med_threshold: Fraction = 0.6
    tox_high_threshold: Fraction = 0.9
    markout_horizon_ms: NonNegInt = 5000
    markout_alpha: Fraction = 0.1
    markout_scale_usd_per_tao: Pos = 2.0
    max_pending_per_venue: PosInt = 100
    catastrophic_stale_ms: PosInt = 120_000
    decay_half_life_ms: PosInt = 60_000
    # Floor of both vols in the venue-vol feature. Local vol is per book update and sigma_eff
    # per main tick, so a per-tick floor would make toxicity depend on a venue's update rate
    # (docs/drift-register.md D2b).
    vol_floor: Pos = 0.001
    dev_limit: NonNeg = 0.02
    dev_breach_count: PosInt = 3
    dev_clean_count: PosInt = 3


class MMConfig(_Section):
    """Market-making quotes: reservation price, half-spread, sizes (STRATEGY.md 4.6-4.8)."""

    basis_weight: NonNeg = 0.3
    funding_weight: NonNeg = 0.3
    funding_enabled: bool = False
    edge_local_min: NonNeg = 0.5
    # A passive quote earns at most about the venue's half-spread against the post-fill fair
    # value, however far out it sits: the edge filter and size count at most this many venue
    # half-spreads of distance (decision 16; 0 = the spec's whole distance; the btc preset: 1).
    edge_capture_cap: NonNeg = 0.0
    edge_vol_mult: NonNeg = 0.2
    lambda_inv: NonNeg = 0.3
    quote_horizon_sec: Pos = 30.0
    funding_target_rate_scale: Pos = 0.001
    funding_target_max_tao: NonNeg = 5.0
    quote_max_age_ms: NonNegInt | None = None
    size_eta: Pos = 0.10
    # "intent": a venue above its target quotes lower (decision 14); "literal": spec/code sign.
    venue_target_sign: VenueTargetSign = "intent"
    # Spec subtracts the vol buffer from the edge too; the reference only inside the floor.
    edge_subtracts_vol_buffer: bool = False
    # Reference widens the half-spread up to x3 between LIQ_WARN and LIQ_CRIT.
    liq_spread_widening: bool = True
    liq_spread_widening_max: NonNeg = 2.0
    warning_status_size_mult: Fraction = 0.5
    tox_size_floor: Fraction = 0.1


class HedgeConfig(_Section):
    """Global LQ hedge with a dead band, allocated over venues by cost (STRATEGY.md 4.12)."""

    band_base_tao: NonNeg = 5.625
    # False: band = base * band_mult, narrowing with vol (decision 13); True: reference base*(1+c*vr).
    band_grows_with_vol: bool = False
    band_vol_mult: NonNeg = 1.0
    k_hedge: Fraction = 0.5
    max_step_tao: NonNeg = 20.0
    max_venue_tao_per_tick: NonNeg = 10.0
    depth_fraction: Fraction = 0.10
    min_depth_usd: NonNeg = 500.0
    funding_enabled: bool = False
    funding_weight: NonNeg = 0.20
    basis_weight: NonNeg = 0.20
    funding_horizon_sec: Pos = 30.0
    slippage_buffer: NonNeg = 0.05
    guard_mult: NonNeg = 0.5
    frag_penalty: NonNeg = 0.02
    liq_penalty_scale: NonNeg = 0.10
    liq_warn_sigma: NonNeg = 5.0
    liq_crit_sigma: NonNeg = 2.0
    margin_safety_buffer: Fraction = 0.95
    max_leverage: Pos = 10.0
    chunk_size_tao: NonNeg = 0.0
    chunk_convexity_cost_bps: NonNeg = 0.0


class ExitConfig(_Section):
    """Cross-venue profit-taking exits (STRATEGY.md 4.10)."""

    enabled: bool = True
    max_total_tao_per_tick: NonNeg = 10.0
    max_venue_tao_per_tick: NonNeg = 6.0
    min_global_abs_tao: NonNeg = 0.25
    min_intent_size_tao: NonNeg = 0.01
    edge_min_usd: NonNeg = 0.25
    edge_vol_mult: NonNeg = 0.10
    basis_weight: NonNeg = 0.20
    funding_weight: NonNeg = 0.20
    funding_enabled: bool = False
    funding_horizon_sec: Pos = 30.0
    fragmentation_penalty_per_tao: NonNeg = 0.05
    fragmentation_reduction_bonus: NonNeg = 0.02
    basis_risk_penalty_weight: NonNeg = 0.10
    slippage_linear_coeff: NonNeg = 0.01
    slippage_quadratic_coeff: NonNeg = 0.001
    slippage_spread_mult: NonNeg = 1.0
    depth_fraction: Fraction = 0.10
    min_depth_usd: NonNeg = 500.0
    vol_buffer_mult: NonNeg = 0.5
    liq_penalty_scale: NonNeg = 0.10


class FundingConfig(_Section):
    """When a venue's funding rate may feed decisions (STRATEGY.md 4.6)."""

    stale_ms: PosInt = 600_000
    avoid_window_ms: NonNegInt = 60_000


TAO_INSTRUMENTS = ("TAO-PERP", "TAO-USD-PERP", "TAO")

# STRATEGY.md 2.2, venue index order 0..4. Everything else per venue takes VenueConfig defaults.
TAO_VENUES: list[VenueConfig] = [
    VenueConfig(name="extended", maker_fee_bps=2.0, gamma=0.10, k=1.5, w_liq=0.25, w_fund=0.25),
    VenueConfig(name="hyperliquid", maker_fee_bps=1.5, gamma=0.09, k=1.6, w_liq=0.25, w_fund=0.25, stale_ms_override=2000),
    VenueConfig(name="aster", maker_fee_bps=2.0, gamma=0.11, k=1.4, w_liq=0.20, w_fund=0.20),
    VenueConfig(name="lighter", maker_fee_bps=2.0, gamma=0.10, k=1.5, w_liq=0.15, w_fund=0.15),
    VenueConfig(name="paradex", maker_fee_bps=2.0, gamma=0.10, k=1.5, w_liq=0.15, w_fund=0.15, stale_ms_override=3000),
]


Profile = Literal["conservative", "balanced", "aggressive"]


class Config(_Section):
    profile: Profile = "balanced"
    venues: list[VenueConfig] = []
    loops: LoopConfig = LoopConfig()
    risk: RiskConfig = RiskConfig()
    book: BookConfig = BookConfig()
    orders: OrderConfig = OrderConfig()
    fixed_spread: FixedSpreadConfig = FixedSpreadConfig()
    instrument: str = ""
    initial_q_tao: float = 0.0
    kalman: KalmanConfig = KalmanConfig()
    volatility: VolatilityConfig = VolatilityConfig()
    toxicity: ToxicityConfig = ToxicityConfig()
    mm: MMConfig = MMConfig()
    hedge: HedgeConfig = HedgeConfig()
    exit: ExitConfig = ExitConfig()
    funding: FundingConfig = FundingConfig()
    # Parameters for every venue the config does not list by name (e.g. an instrument whose
    # price scale differs from the spec's TAO defaults).
    venue_defaults: VenueConfig = VenueConfig()

    def venue(self, name: str) -> VenueConfig:
        """The config of venue ``name``; venues the config does not list get ``venue_defaults``."""
        for v in self.venues:
            if v.name == name:
                return v
        return msgspec.structs.replace(self.venue_defaults, name=name)


# The built-in defaults as plain data: what a profile scales when no preset sets a knob.
_DEFAULTS: dict[str, Any] = msgspec.to_builtins(Config())


class ConfigError(ValueError):
    """A bad config value; the message names the key."""


# Profile-dependent knobs (STRATEGY.md 2.1), as dotted paths into Config.
PROFILES: dict[str, dict[str, Any]] = {
    "conservative": {
        "risk.delta_hard_limit_usd_base": 46_600.0,
        "risk.daily_loss_limit": 2000.0,
        "hedge.band_base_tao": 2.62125,
        "mm.size_eta": 0.0466,
        "volatility.vol_ref": 0.028125,
        "initial_q_tao": 0.0,
    },
    "balanced": {
        "risk.delta_hard_limit_usd_base": 100_000.0,
        "risk.daily_loss_limit": 5000.0,
        "hedge.band_base_tao": 5.625,
        "mm.size_eta": 0.10,
        "volatility.vol_ref": 0.028125,
        "initial_q_tao": 0.0,
    },
    "aggressive": {
        "risk.delta_hard_limit_usd_base": 86_400.0,
        "risk.daily_loss_limit": 2000.0,
        "hedge.band_base_tao": 4.86,
        "mm.size_eta": 0.0864,
        "volatility.vol_ref": 0.028125,
        "initial_q_tao": 0.0,
    },
}

PROFILE_ALIASES = {
    "balanced": "balanced", "bal": "balanced", "b": "balanced",
    "conservative": "conservative", "cons": "conservative", "c": "conservative",
    "aggressive": "aggressive", "agg": "aggressive", "a": "aggressive", "loose": "aggressive", "l": "aggressive",
}

# PARAPHINA_* environment knobs -> (dotted path, parser). Later sections append their own.
ENV_KNOBS: dict[str, tuple[str, Any]] = {
    "PARAPHINA_DAILY_LOSS_LIMIT": ("risk.daily_loss_limit", lambda s: abs(float(s))),
    "PARAPHINA_MAIN_LOOP_INTERVAL_MS": ("loops.main_loop_interval_ms", int),
    "PARAPHINA_HEDGE_LOOP_INTERVAL_MS": ("loops.hedge_loop_interval_ms", int),
    "PARAPHINA_FILL_AGG_INTERVAL_MS": ("loops.fill_agg_interval_ms", int),
    "PARAPHINA_INIT_Q_TAO": ("initial_q_tao", float),
    "PARAPHINA_HEDGE_BAND_BASE": ("hedge.band_base_tao", float),
    "PARAPHINA_HEDGE_MAX_STEP": ("hedge.max_step_tao", float),
    "PARAPHINA_HEDGE_K_HEDGE": ("hedge.k_hedge", float),
    "PARAPHINA_MM_SIZE_ETA": ("mm.size_eta", float),
    "PARAPHINA_VOL_REF": ("volatility.vol_ref", float),
    "PARAPHINA_MM_FUNDING_ENABLED": ("mm.funding_enabled", lambda s: _parse_bool(s)),
    "PARAPHINA_HEDGE_FUNDING_ENABLED": ("hedge.funding_enabled", lambda s: _parse_bool(s)),
    "PARAPHINA_EXIT_FUNDING_ENABLED": ("exit.funding_enabled", lambda s: _parse_bool(s)),
}


def _parse_bool(s: str) -> bool:
    v = s.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(s)


def resolve_profile(cli: str | None, env: Mapping[str, str], file_value: str | None) -> tuple[str, str]:
    """(profile, source) by precedence CLI > env > file > default."""
    for source, raw in (("cli", cli), ("env", env.get("PARAPHINA_RISK_PROFILE")), ("file", file_value)):
        if raw:
            name = PROFILE_ALIASES.get(raw.strip().lower())
            if name is None:
                raise ConfigError(f"unknown risk profile {raw!r} (from {source}); expected one of conservative, balanced, aggressive")
            return name, source
    return "balanced", "default"


def parse_config_text(text: str, filename: str) -> dict[str, Any]:
    """TOML or YAML text into a plain dict (by file extension; TOML unless .yaml/.yml)."""
    try:
        if filename.endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = tomllib.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parser error is a user error here
        raise ConfigError(f"{filename}: not valid {'YAML' if filename.endswith(('.yaml', '.yml')) else 'TOML'}: {_first_line(exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{filename}: the top level must be a table of keys")
    return data


def load_config(
    file_data: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    profile: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    preset_data: Mapping[str, Any] | None = None,
) -> Config:
    """Build the resolved Config; raises ConfigError naming the offending key.

    ``preset_data`` is a preset's table (instrument scale, under the profile); ``file_data`` a
    user's config file (over the profile)."""
    env = env or {}
    data: dict[str, Any] = _deep_copy(dict(file_data or {}))
    if "preset" in data:
        raise ConfigError("preset: a file's preset is resolved by the loader that reads it (paraphina.presets)")
    layered: dict[str, Any] = _deep_copy(dict(preset_data or {}))
    if "profile" in layered:
        raise ConfigError("profile: a preset sets the instrument's scale, not a risk profile")
    name, _ = resolve_profile(profile, env, data.get("profile"))
    for path, value in profile_values(name, layered).items():
        _set_path(layered, path, value)
    _deep_merge(layered, data)
    layered["profile"] = name
    for var in sorted(ENV_KNOBS):
        if var in env:
            path, parse = ENV_KNOBS[var]
            try:
                value = parse(env[var])
            except ValueError:
                raise ConfigError(f"{var}={env[var]!r}: not a valid value for {path}") from None
            _set_path(layered, path, value)
    for path, value in (overrides or {}).items():
        _set_path(layered, path, value)
    if not layered.get("venues") and str(layered.get("instrument", "")).upper() in TAO_INSTRUMENTS:
        # A config naming the TAO perp without its own venue table gets STRATEGY.md 2.2's.
        layered["venues"] = [msgspec.to_builtins(v) for v in TAO_VENUES]
    try:
        return msgspec.convert(layered, Config, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"config: {exc}".replace("`$.", "`")) from None


def adapt_to_instruments(cfg: Config, instruments: Sequence[Any]) -> Config:
    """The config the engine runs with on a log whose instrument table is ``instruments``
    (anything with a ``venue`` name): the fair-value filter never waits for more healthy venues
    than the log has (``book.min_healthy_for_kf`` capped at their number), and a single venue
    does not hedge (there is no other venue to hedge on: ``is_hedge_allowed`` off for it).
    Multi-venue logs within the cap get ``cfg`` itself. Pure and idempotent; drift register D-RD-1.
    """
    n = len(instruments)
    changes: dict[str, Any] = {}
    if 0 < n < cfg.book.min_healthy_for_kf:
        changes["book"] = msgspec.structs.replace(cfg.book, min_healthy_for_kf=n)
    if n == 1:
        name = instruments[0].venue
        if any(v.name == name for v in cfg.venues):
            changes["venues"] = [msgspec.structs.replace(v, is_hedge_allowed=False) if v.name == name else v
                                 for v in cfg.venues]
        else:
            changes["venue_defaults"] = msgspec.structs.replace(cfg.venue_defaults, is_hedge_allowed=False)
    return msgspec.structs.replace(cfg, **changes) if changes else cfg


# How each instrument-sized knob moves when the instrument's price is ``factor`` times the price
# a config was sized at (``scale_to_price``): its power of ``factor``. Sizes in base units move
# as 1/factor (the same notional), USD per base unit as factor (the same bps), the fill decay k
# per USD as 1/factor; quote size edge/eta needs eta in USD/unit^2 (factor^2) and the exits'
# slippage base - lin*T - quad*T^2 needs lin ~ factor^2, quad ~ factor^3. gamma stays: the
# skew gamma*sigma_px^2*tau*q and the AS half-spread log1p(gamma/k)/gamma keep their bps.
# Every other knob is in USD, bps, ratios, ticks or time, the same on any instrument.
PRICE_SCALED_VENUE_KNOBS: dict[str, int] = {
    "k": -1, "base_order_size": -1, "max_order_size": -1, "max_position": -1,
}
PRICE_SCALED_KNOBS: dict[str, int] = {
    "initial_q_tao": -1,
    "risk.q_warn_cap": -1,
    "fixed_spread.size": -1,
    "fixed_spread.max_position": -1,
    "fixed_spread.skew_ticks_per_unit": 1,
    "toxicity.markout_scale_usd_per_tao": 1,
    "mm.edge_local_min": 1,
    "mm.size_eta": 2,
    "mm.funding_target_max_tao": -1,
    "hedge.band_base_tao": -1,
    "hedge.max_step_tao": -1,
    "hedge.max_venue_tao_per_tick": -1,
    "hedge.chunk_size_tao": -1,
    "hedge.slippage_buffer": 1,
    "hedge.frag_penalty": 1,
    "hedge.liq_penalty_scale": 1,
    "exit.max_total_tao_per_tick": -1,
    "exit.max_venue_tao_per_tick": -1,
    "exit.min_global_abs_tao": -1,
    "exit.min_intent_size_tao": -1,
    "exit.edge_min_usd": 1,
    "exit.fragmentation_penalty_per_tao": 1,
    "exit.fragmentation_reduction_bonus": 1,
    "exit.liq_penalty_scale": 1,
    "exit.slippage_linear_coeff": 2,
    "exit.slippage_quadratic_coeff": 3,
}


def scale_to_price(cfg: Config, factor: float) -> Config:
    """``cfg``, sized for an instrument at price P, resized for one at ``factor`` x P: the same
    notionals, bps and quote geometry (``PRICE_SCALED_KNOBS`` says how each knob moves). Knobs
    in USD, bps, ticks or time are unchanged; ``factor`` 1 gives ``cfg`` itself. Pure."""
    if not (factor > 0.0 and math.isfinite(factor)):
        raise ConfigError(f"price scale factor: expected a positive finite number, got {factor!r}")
    if factor == 1.0:
        return cfg
    data = msgspec.to_builtins(cfg)
    for path, power in PRICE_SCALED_KNOBS.items():
        _set_path(data, path, _get_path(data, path, _DEFAULTS) * factor ** power)
    for venue in [*data["venues"], data["venue_defaults"]]:
        for key, power in PRICE_SCALED_VENUE_KNOBS.items():
            venue[key] = venue[key] * factor ** power
    return msgspec.convert(data, Config)


def profile_values(name: str, preset: Mapping[str, Any]) -> dict[str, Any]:
    """The profile's knobs at the scale ``preset`` set: ``preset value x profile / balanced``.

    A knob the profile leaves at balanced keeps the preset's value, and a knob at the preset's
    balanced value takes the table's number exactly (no float round trip)."""
    out: dict[str, Any] = {}
    for path, value in PROFILES[name].items():
        balanced = PROFILES["balanced"][path]
        base = _get_path(preset, path, _DEFAULTS)
        if value == balanced or base == balanced or balanced == 0:
            out[path] = base if value == balanced else value
        else:
            out[path] = base * (value / balanced)
    return out


def config_hash(cfg: Config) -> str:
    return hashlib.sha256(msgspec.json.encode(cfg)).hexdigest()


def config_to_dict(cfg: Config) -> dict[str, Any]:
    return msgspec.to_builtins(cfg)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _get_path(d: Mapping[str, Any], path: str, fallback: Mapping[str, Any]) -> Any:
    """The value at dotted ``path`` in ``d``, else in ``fallback``."""
    for source in (d, fallback):
        node: Any = source
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                break
            node = node[part]
        else:
            return node
    raise KeyError(path)


def _set_path(d: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for i, p in enumerate(parents):
        d = d.setdefault(p, {})
        if not isinstance(d, dict):
            raise ConfigError(f"`{'.'.join(parents[:i + 1])}` = {d!r} is not a table, so {path} cannot be set")
    d[leaf] = value


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> None:
    for k, v in top.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _deep_merge(base[k], v)
        else:
            base[k] = v


def _deep_copy(d: Any) -> Any:
    if isinstance(d, Mapping):
        return {k: _deep_copy(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_deep_copy(v) for v in d]
    return d
