"""Options and loaders shared by commands (reading files and the environment happens here)."""

from __future__ import annotations

import functools
import os

import click

from paraphina.config import Config, load_config, parse_config_text
from paraphina.errors import UserError


def config_options(f):
    f = click.option("--profile", default=None, help="Risk profile: conservative, balanced or aggressive.")(f)
    f = click.option("--config", "config_path", default=None, metavar="FILE",
                     help="Config file (TOML, or YAML by extension), or a preset name (btc).")(f)
    return f


def load_cli_config(config_path: str | None, profile: str | None = None, overrides: dict | None = None) -> Config:
    data = None
    if config_path and not os.path.exists(config_path) and os.sep not in config_path and "." not in config_path:
        from paraphina.presets import available, preset_path

        if config_path not in available():
            raise UserError(f"--config {config_path!r}: no such file, and not a preset ({', '.join(available())})")
        config_path = str(preset_path(config_path))
    if config_path:
        try:
            with open(config_path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise UserError(f"{config_path}: cannot read config ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise UserError(f"{config_path}: not a text file") from None
        data = parse_config_text(text, config_path)
    cfg = load_config(data, dict(os.environ), profile, overrides)
    return cfg


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
