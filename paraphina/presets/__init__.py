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

from paraphina.config import Config, ConfigError, load_config, parse_config_text
from paraphina.errors import UserError

PRESETS_DIR = Path(__file__).resolve().parent
DEFAULT_PRESET = "btc"
SPEC = "spec"  # the built-in defaults, as a preset name


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
                 overrides: Mapping[str, Any] | None = None) -> tuple[Config, str]:
    """(resolved config, what it was built from) for ``config``: a preset name, a file (refining
    the preset its ``preset`` key names, else the built-in defaults), or None: the default preset."""
    config = config or DEFAULT_PRESET
    if is_preset_name(config):
        preset, data, source = preset_data(config), None, f"preset {config}"
    else:
        data = read_config_data(config)
        name = data.pop("preset", None)
        if name is not None and not isinstance(name, str):
            raise UserError(f"{config}: preset: expected a preset name ({', '.join(available())})")
        preset = preset_data(name, f"{config}: preset") if name else {}
        source = f"{config} (on preset {name})" if name else config
    try:
        return load_config(data, env, profile, overrides, preset_data=preset), source
    except ConfigError as exc:
        raise UserError(f"{config}: {exc}") from None
