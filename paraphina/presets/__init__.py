"""Ready-made configs shipped with paraphina (``paraphina/presets/<name>.toml``).

``btc``: venues and limits sized for a BTC perpetual at ~60,000 USD (the simulator's default
market, the sample logs and the Binance captures); the spec's own defaults are for TAO at ~250 USD.
"""

from __future__ import annotations

from pathlib import Path

PRESETS_DIR = Path(__file__).resolve().parent


def preset_path(name: str) -> Path:
    return PRESETS_DIR / f"{name}.toml"


def available() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))
