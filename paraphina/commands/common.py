"""Options and loaders shared by commands (reading files and the environment happens here)."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager

import click
import msgspec

from paraphina.config import ENV_KNOBS, Config
from paraphina.errors import UserError
from paraphina.presets import build_config


def config_options(f):
    f = click.option("--profile", default=None, help="Risk profile: conservative, balanced or aggressive.")(f)
    f = click.option("--config", "config_path", default=None, metavar="FILE",
                     help="Config file (TOML, or YAML by extension), or a preset name (btc, spec); default: "
                          "the log's own config if it carries one, else the btc preset.")(f)
    return f


def resolve_config(config_path: str | None, profile: str | None = None, *, log: str | None = None,
                   overrides: dict | None = None) -> tuple[Config, str]:
    """The one rule for which config a command uses, as (config, where it came from).

    ``--config`` (a file or a preset name) and ``--profile`` build it from the default preset
    up; without either, a ``log`` that carries the resolved config of the run that made it
    (``run``, ``backtest``, ``record``, ``shadow``) is used as it is; else the default preset
    (``btc``) with the environment's profile and knobs."""
    if config_path is None and profile is None and not overrides and log is not None:
        embedded = embedded_config(log)
        if embedded is not None:
            ignored = [k for k in sorted(os.environ) if k in ENV_KNOBS or k == "PARAPHINA_RISK_PROFILE"]
            return embedded, "from the log" + (f" ({', '.join(ignored)} not applied: pass --config to rebuild)"
                                               if ignored else "")
    return build_config(config_path, os.environ, profile, overrides,
                        price=log_price_usd(log) if log is not None else None)


# How far into a log to look for a price: a first snapshot comes within the first few events.
PRICE_SCAN_EVENTS = 10_000


def log_price_usd(log: str) -> float | None:
    """The instrument's price in USD a log starts at: the mid of the first snapshot with both
    sides (a venue's ticks times its tick size), or None (no such snapshot early on, not a log:
    the command reading it reports that).

    The first batches are read straight from the Arrow stream, without the hash chain's check
    (which costs a full pass over a batch: 20 ms of a real log's 65,536-event first batch): the
    price only sizes the preset, and the command then reads the log through its checked reader,
    which refuses a damaged one."""
    import numpy as np
    import pyarrow as pa

    from paraphina.columns import K_SNAPSHOT
    from paraphina.eventlog import LogReader

    if not os.path.exists(log):
        return None
    try:
        reader = LogReader(log)
        try:
            ticks = [float(inst.tick_size) for inst in reader.info.instruments]
        finally:
            reader.close()
        seen = 0
        with pa.memory_map(log) as source:
            for batch in pa.ipc.open_stream(source):
                n = min(batch.num_rows, PRICE_SCAN_EVENTS - seen)
                kinds = batch.column("kind").to_numpy()[:n]
                for i in np.flatnonzero(kinds == K_SNAPSHOT).tolist():
                    venue = batch.column("venue")[i].as_py()
                    bids, asks = batch.column("bid_px")[i].as_py(), batch.column("ask_px")[i].as_py()
                    if bids and asks and 0 <= venue < len(ticks):
                        return (max(bids) + min(asks)) / 2.0 * ticks[venue]
                seen += n
                if seen >= PRICE_SCAN_EVENTS:
                    return None
    except Exception:  # noqa: BLE001 - an unreadable log is reported by the command reading it
        return None
    return None


def embedded_config(log: str) -> Config | None:
    """The resolved config a log's session metadata carries, or None (none, or not a log)."""
    from paraphina.eventlog import LogReader

    if not os.path.exists(log):
        return None
    try:
        embedded = LogReader(log).info.session.get("config")
    except Exception:  # noqa: BLE001 - an unreadable log is reported by the command reading it
        return None
    if embedded is None:
        return None
    try:
        return msgspec.convert(embedded, Config)
    except msgspec.ValidationError as exc:
        raise UserError(f"{log}: the config stored in the log is not valid here: {exc} "
                        "(pass --config to choose one)") from None


def load_cli_config(config_path: str | None, profile: str | None = None, overrides: dict | None = None) -> Config:
    """The config ``--config``/``--profile`` name, from the default preset up (no log involved)."""
    return build_config(config_path, os.environ, profile, overrides)[0]


def check_telemetry_output(inputs=(), force: bool = False) -> None:
    """Refuse a ``PARAPHINA_TELEMETRY_PATH`` that is an input or exists without ``force`` (a
    command may call this before any work; :func:`telemetry_observers` calls it again)."""
    from paraphina.outputs import check_output
    from paraphina.telemetry import telemetry_path

    path = telemetry_path()
    if path is not None:
        check_output(path, flag="PARAPHINA_TELEMETRY_PATH", inputs=inputs, force=force)


@contextmanager
def telemetry_observers(inputs=(), force: bool = False) -> Iterator[list]:
    """The engine observers the environment asks for (``PARAPHINA_TELEMETRY_MODE=jsonl`` and
    ``PARAPHINA_TELEMETRY_PATH``, see :mod:`paraphina.telemetry`), closed on the way out: the one
    way every command that runs the engine (run, replay, backtest, shadow, record) gets telemetry.
    The path follows the output rules: never one of the command's ``inputs``, replaced only with
    ``force``."""
    from paraphina.telemetry import from_env

    check_telemetry_output(inputs, force)
    writer = from_env()
    try:
        yield [writer] if writer else []
    finally:
        if writer:
            writer.close()


def units_option(f):
    return click.option("--units", type=click.Choice(["raw", "human"]), default="raw", show_default=True,
                        help="raw: ticks, lots and ns as the log stores them; human: prices and sizes as decimals "
                             "(from the log's instrument table), times as ISO-8601 UTC.")(f)


def model_option(f):
    return click.option("--model", "model_path", default=None, metavar="FILE",
                        help="Model file for a learned policy (--policy onnx).")(f)


def policy_spec(policy: str, model_path: str | None):
    """What engine factories take: the policy name, or for ``onnx`` (or any --model) a
    zero-argument factory building the plugin around the model file."""
    if policy == "onnx" or model_path:
        if policy != "onnx":
            raise UserError(f"--model is for --policy onnx, not {policy!r}")
        from paraphina.rl.policy import onnx_factory

        return onnx_factory(model_path)
    return policy


def output_option(*old: str, dest: str = "out", metavar: str = "OUT", help: str = "", required: bool = False,
                  default: str | None = None):
    """``-o/--out`` (the one spelling of every command's output), with ``old`` spellings kept as
    hidden aliases for one release. The command receives the path as ``dest``."""

    def deco(f):
        @functools.wraps(f)
        def wrapper(*args, **kw):
            out = kw.pop("_out")
            for i, name in enumerate(old):
                value = kw.pop(f"_out_alias_{i}")
                if value is not None:
                    if out is not None and value != out:
                        raise click.UsageError(f"give the output once: {name} is the old spelling of -o/--out",
                                               ctx=click.get_current_context())
                    out = value
            if out is None and required:
                raise click.UsageError("Missing option '-o' / '--out'.", ctx=click.get_current_context())
            out = default if out is None else out
            return f(*args, **{dest: out}, **kw)

        for i, name in enumerate(old):
            wrapper = click.option(name, f"_out_alias_{i}", default=None, hidden=True)(wrapper)
        return click.option("-o", "--out", "_out", default=None, metavar=metavar,
                            help=help + (" [required]" if required else "")
                            + (f"  [default: {default}]" if default is not None else ""))(wrapper)

    return deco


def force_option(what: str = "OUT", help: str | None = None):
    """``--force``: the one way to replace an existing output (docs/cli.md, "Outputs")."""
    return click.option("--force", is_flag=True, help=help or f"Replace an existing {what} (each file is written "
                        "beside its destination, then renamed into place).")
