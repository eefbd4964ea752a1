"""Ready-made configs shipped with paraphina (``paraphina/presets/<name>.toml``), and the one
loader that turns ``--config`` (a preset name or a file) into a resolved Config.

A preset sets the instrument's scale (fees, sizes, limits in its units), never the risk appetite:
the risk profile applies on top of it (``paraphina.config.profile_values``).

``btc``: venues and limits sized for a BTC perpetual at ~60,000 USD (the simulator's default
market, the sample logs and the Binance captures); the default of every command.
``spec``: no preset, the built-in defaults (STRATEGY.md's TAO values at ~250 USD).

A config file may name the preset it refines with a top-level ``preset = "btc"``; a file that
names none refines the built-in defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from paraphina.config import Config, ConfigError, load_config, parse_config_text, scale_to_price
from paraphina.errors import UserError

PRESETS_DIR = Path(__file__).resolve().parent
DEFAULT_PRESET = "btc"
SPEC = "spec"  # the built-in defaults, as a preset name
# The price in USD each preset is sized at, and the band (a factor) within which it is used as
# it is: on a log whose instrument trades outside [reference / band, reference x band] the
# preset is resized to the log's first mid (paraphina.config.scale_to_price: same notionals and
# bps; docs/strategy.md "Instrument scale"). A preset not listed is never resized.
PRICE_REFERENCES: dict[str, tuple[float, float]] = {
    "btc": (60_000.0, 2.0),
}


def preset_path(name: str) -> Path:
    return PRESETS_DIR / f"{name}.toml"


def available() -> list[str]:
    return sorted([SPEC, *(p.stem for p in PRESETS_DIR.glob("*.toml"))])


def is_preset_name(config: str) -> bool:
    """``config`` is meant as a preset name (no such file, no path separator, no extension)."""
    return not os.path.exists(config) and os.sep not in config and "." not in config


def preset_data(name: str, named_by: str = "--config") -> dict[str, Any]:
    """The preset's table ({} for ``spec``); an unknown name is a one-line UserError."""
    if name not in available():
        raise UserError(f"{named_by} {name!r}: no such file, and not a preset ({', '.join(available())})")
    if name == SPEC:
        return {}
    return read_config_data(str(preset_path(name)))


def price_reference(name: str) -> tuple[float, float] | None:
    """(reference price in USD, band factor) preset ``name`` is sized at, or None if it names none."""
    return PRICE_REFERENCES.get(name)


def scaled_preset(name: str, price: float | None, named_by: str = "--config") -> tuple[dict[str, Any], str]:
    """Preset ``name``'s table for an instrument at ``price`` USD, and how it was sized: as it is
    within its band (or when it or the price names no scale), else the whole resolved preset
    resized by ``price / reference`` (``paraphina.config.scale_to_price``)."""
    preset, source = preset_data(name, named_by), f"preset {name}"
    ref = price_reference(name)
    if ref is None or price is None or not price > 0.0:
        return preset, source
    reference, band = ref
    if reference / band <= price <= reference * band:
        return preset, source
    factor = price / reference
    try:
        resolved = load_config(None, {}, None, None, preset_data=preset)
    except ConfigError as exc:
        raise UserError(f"preset {name}: {exc}") from None
    data = msgspec.to_builtins(scale_to_price(resolved, factor))
    del data["profile"]
    return data, f"preset {name} resized to {price:.6g} USD (x{factor:.4g} of its {reference:g})"


def read_config_data(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise UserError(f"{path}: cannot read config ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file") from None
    return parse_config_text(text, path)


def build_config(config: str | None, env: Mapping[str, str], profile: str | None = None,
                 overrides: Mapping[str, Any] | None = None, *, price: float | None = None) -> tuple[Config, str]:
    """(resolved config, what it was built from) for ``config``: a preset name, a file (refining
    the preset its ``preset`` key names, else the built-in defaults), or None: the default preset.
    ``price``: the instrument's price in USD where known (a log's first mid); the preset layer
    (named, or under a file) is resized to it outside its price band, a file's own numbers never
    (they are its author's)."""
    config = config or DEFAULT_PRESET
    if is_preset_name(config):
        preset, source = scaled_preset(config, price)
        data = None
    else:
        data = read_config_data(config)
        name = data.pop("preset", None)
        if name is not None and not isinstance(name, str):
            raise UserError(f"{config}: preset: expected a preset name ({', '.join(available())})")
        if name:
            preset, on = scaled_preset(name, price, f"{config}: preset")
            source = f"{config} (on {on})"
        else:
            preset, source = {}, config
    try:
        return load_config(data, env, profile, overrides, preset_data=preset), source
    except ConfigError as exc:
        raise UserError(f"{config}: {exc}") from None
