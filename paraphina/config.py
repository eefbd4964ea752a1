"""Typed configuration: sections of frozen msgspec Structs, risk profiles, env knobs, hash.

Precedence, lowest first: built-in defaults < risk profile < config file (TOML or YAML) <
``PARAPHINA_*`` environment knobs < explicit overrides (CLI flags). The profile is chosen by
the CLI, else ``PARAPHINA_RISK_PROFILE``, else the file's ``profile`` key, else ``balanced``.

Every value is validated when the config is built (unknown keys, wrong types, negative limits
are errors naming the key); :func:`config_hash` is the SHA-256 of the canonical JSON of the
resolved config, printed in every output so runs can be traced to their exact settings.

This module is pure: :func:`load_config` takes the file *text* and an environment mapping;
reading files and ``os.environ`` is the caller's job (the CLI).
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

NonNeg = Annotated[float, Meta(ge=0)]
Pos = Annotated[float, Meta(gt=0)]
PosInt = Annotated[int, Meta(gt=0)]
NonNegInt = Annotated[int, Meta(ge=0)]
Fraction = Annotated[float, Meta(ge=0, le=1)]


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

    main_loop_interval_ms: PosInt = 250
    hedge_loop_interval_ms: PosInt = 500
    risk_loop_interval_ms: PosInt = 3000
    fill_agg_interval_ms: PosInt = 1000
    risk_every_main_tick: bool = True


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


Profile = Literal["conservative", "balanced", "aggressive"]


class Config(_Section):
    profile: Profile = "balanced"
    venues: list[VenueConfig] = []
    loops: LoopConfig = LoopConfig()
    risk: RiskConfig = RiskConfig()
    book: BookConfig = BookConfig()
    orders: OrderConfig = OrderConfig()
    fixed_spread: FixedSpreadConfig = FixedSpreadConfig()

    def venue(self, name: str) -> VenueConfig:
        """The config of venue ``name``; venues the config does not list get the defaults."""
        for v in self.venues:
            if v.name == name:
                return v
        return VenueConfig(name=name)


class ConfigError(ValueError):
    """A bad config value; the message names the key."""


# Profile-dependent knobs (STRATEGY.md 2.1), as dotted paths into Config.
PROFILES: dict[str, dict[str, Any]] = {
    "conservative": {
        "risk.delta_hard_limit_usd_base": 46_600.0,
        "risk.daily_loss_limit": 2000.0,
    },
    "balanced": {
        "risk.delta_hard_limit_usd_base": 100_000.0,
        "risk.daily_loss_limit": 5000.0,
    },
    "aggressive": {
        "risk.delta_hard_limit_usd_base": 86_400.0,
        "risk.daily_loss_limit": 2000.0,
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
    "PARAPHINA_RISK_LOOP_INTERVAL_MS": ("loops.risk_loop_interval_ms", int),
    "PARAPHINA_FILL_AGG_INTERVAL_MS": ("loops.fill_agg_interval_ms", int),
}


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
) -> Config:
    """Build the resolved Config; raises ConfigError naming the offending key."""
    env = env or {}
    data: dict[str, Any] = _deep_copy(dict(file_data or {}))
    name, _ = resolve_profile(profile, env, data.get("profile"))
    layered: dict[str, Any] = {}
    for path, value in PROFILES[name].items():
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
    try:
        return msgspec.convert(layered, Config, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"config: {exc}".replace("`$.", "`")) from None


def config_hash(cfg: Config) -> str:
    return hashlib.sha256(msgspec.json.encode(cfg)).hexdigest()


def config_to_dict(cfg: Config) -> dict[str, Any]:
    return msgspec.to_builtins(cfg)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _set_path(d: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for p in parents:
        d = d.setdefault(p, {})
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
