"""Per-tick telemetry JSONL (research contract, schema_version 1) as an observer plugin.

Enabled by ``PARAPHINA_TELEMETRY_MODE=jsonl`` and ``PARAPHINA_TELEMETRY_PATH=FILE``. One
canonical JSON object per main tick; fields: schema_version, t, pnl_realised, pnl_unrealised,
pnl_total, risk_regime, kill_switch, kill_reason, q_global_tao, dollar_delta_usd, basis_usd,
plus fv_available, fair_value, sigma_eff, healthy_venues_used_count, healthy_venues_used.
Values come from event time only, so a replay of the run writes the same bytes.

A simulated run adds what only the simulator knows (:attr:`TelemetryWriter.extra_fields`):
``latent_price``, the generator's latent fair price at the tick. A replay of the run's log has no
generator and leaves it out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import msgspec

from paraphina.errors import UserError
from paraphina.hookspecs import hookimpl

_encoder = msgspec.json.Encoder()


class TelemetryWriter:
    name = "telemetry-jsonl"
    version = "1"

    def __init__(self, path: str) -> None:
        from paraphina.outputs import ReplacingFile

        try:
            self._f = ReplacingFile(path)  # renamed over PATH on close: a kill keeps the old file
        except OSError as exc:
            raise UserError(f"PARAPHINA_TELEMETRY_PATH={path}: cannot write ({exc.strerror})") from None
        self.path = path
        self.lines = 0
        # name -> function of the tick context, appended to every record (simulator-only truths).
        self.extra_fields: dict = {}

    @hookimpl
    def paraphina_on_tick(self, ctx, telemetry):
        if self.extra_fields:
            telemetry = {**telemetry, **{k: f(ctx) for k, f in self.extra_fields.items()}}
        self._f.write(_encoder.encode(telemetry) + b"\n")
        self.lines += 1

    def close(self) -> None:
        self._f.close()


def from_env(env: Mapping[str, str] = os.environ) -> TelemetryWriter | None:
    path = telemetry_path(env)
    return TelemetryWriter(path) if path is not None else None


def telemetry_path(env: Mapping[str, str] = os.environ) -> str | None:
    """The file the environment asks telemetry to be written to, or None when it is off."""
    mode = env.get("PARAPHINA_TELEMETRY_MODE", "").strip().lower()
    if mode in ("", "off", "none"):
        return None
    if mode != "jsonl":
        raise UserError(f"PARAPHINA_TELEMETRY_MODE={mode!r}: expected jsonl or off")
    path = env.get("PARAPHINA_TELEMETRY_PATH")
    if not path:
        raise UserError("PARAPHINA_TELEMETRY_MODE=jsonl needs PARAPHINA_TELEMETRY_PATH")
    return path
