"""``paraphina replay`` and ``paraphina diff``."""

from __future__ import annotations

import os
import sys
import tempfile

import click

from paraphina.cli import cli
from paraphina.commands.common import (config_options, force_option, model_option, output_option, policy_spec,
                                       resolve_config)
from paraphina.diagnosis import QuietObserver, why_quiet
from paraphina.diff import attach_events, compare, read_actions, render_text
from paraphina.errors import UserError
from paraphina.eventlog import LogReader
from paraphina.logs import event_time, get_logger
from paraphina.outputs import check_input, check_output
from paraphina.replay import progress_reporter, replay_log, summary_lines


@cli.command()
@click.argument("log")
@click.option("--policy", default=None, help="Policy plugin name (see `paraphina plugins`); default: the policy the "
              "log was recorded with, else fixed-spread.")
@output_option(metavar="ACTIONS", help="Write the action stream (JSON lines) here.")
@config_options
@click.option("--checkpoint-at", type=click.IntRange(min=0), default=None, metavar="N",
              help="Save the engine state after the first N events.")
@click.option("--checkpoint", "checkpoint_path", default=None, metavar="FILE", help="Where --checkpoint-at writes.")
@click.option("--resume", default=None, metavar="CHECKPOINT", help="Start from a saved state (replays the rest of LOG).")
@model_option
@force_option("ACTIONS file or checkpoint")
def replay(log, policy, out, config_path, profile, checkpoint_at, checkpoint_path, resume, model_path, force) -> None:
    """Replay LOG through the engine with POLICY; print the summary and the stream hash.

    Without --config and --profile, a log that carries its run's config (simulated runs,
    backtests, recordings) is replayed with that config, any other with the btc preset.
    """
    check_input(log)
    inputs = (log, config_path, resume, model_path)
    if out is not None:
        check_output(out, inputs=inputs, force=force)
    if checkpoint_at is not None:
        check_output(checkpoint_path or f"{log}.ckpt-{checkpoint_at}", flag="--checkpoint", inputs=(*inputs, out),
                     force=force)
    cfg, cfg_source = resolve_config(config_path, profile, log=log)
    policy = policy or policy_for_log(log)
    spec = policy_spec(policy, model_path)
    if callable(spec):
        policy = spec()
    update, close = progress_reporter(log)
    quiet = QuietObserver()
    try:
        r = replay_log(log, policy, cfg, out=out, checkpoint_at=checkpoint_at, checkpoint_path=checkpoint_path,
                       resume=resume, progress=update, observers=[quiet])
    finally:
        if close:
            close()
    for w in r.warnings:
        click.echo(w, err=True)
    if r.gap_reports:
        log = get_logger("replay")
        names = [i.venue for i in LogReader(r.log).info.instruments]
        for g in r.gap_reports[:20]:
            log.warning("book_gap", seq=g.seq, venue=names[g.venue] if 0 <= g.venue < len(names) else g.venue,
                        event_time=event_time(g.ts_ns), source=g.source)
        if len(r.gap_reports) > 20:
            log.warning("book_gap", more=len(r.gap_reports) - 20)
    click.echo(f"log: {r.log}")
    plugins = {k: v for k, v in r.plugins.items() if k != QuietObserver.name}  # the diagnosis is not a plugin of the run
    click.echo(f"policy: {r.policy} | plugins: {', '.join(f'{k}=={v}' for k, v in plugins.items())}")
    click.echo(f"config_hash: {r.config_hash[:16]} | profile: {cfg.profile} | config: {cfg_source}")
    if r.first_seq:
        click.echo(f"resumed at seq {r.first_seq}")
    s = r.summary
    click.echo(f"ticks: {s['ticks']} | book gaps: {s['gaps']} | position: {s['position']:.6g}")
    if r.policy_counters:
        click.echo("policy fallbacks: " + ", ".join(f"{k}={v}" for k, v in sorted(r.policy_counters.items())))
    if s["shield"]:
        click.echo("shield: " + ", ".join(f"{k}={v}" for k, v in s["shield"].items()))
    if s["kill_switch"]:
        click.echo(f"Kill reason: {s['kill_reason']}")
    why = why_quiet(quiet.tally, s, cfg)
    if why:
        click.echo(why)
    for line in summary_lines(r):
        click.echo(line)


def policy_for_log(log: str) -> str:
    """The policy a log was recorded or simulated with, else ``fixed-spread``."""
    try:
        return str(LogReader(log).info.session.get("policy") or "fixed-spread")
    except Exception:  # noqa: BLE001 - an unreadable log is reported by the replay itself
        return "fixed-spread"


def _actions_for(path: str, policy: str, config_path: str | None, profile: str | None) -> tuple[list, str | None]:
    """Actions of ``path``: read an actions file, or replay a log with ``policy``."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\xff\xff\xff\xff") or head[:4] == b"ARROW":
        cfg, _ = resolve_config(config_path, profile, log=path)
        fd, tmp = tempfile.mkstemp(suffix=".actions")
        os.close(fd)
        try:
            replay_log(path, policy, cfg, out=tmp)
            return read_actions(tmp), path
        finally:
            os.unlink(tmp)
    return read_actions(path), None


@cli.command()
@click.argument("a")
@click.argument("b")
@click.option("--policy", default="fixed-spread", show_default=True, help="Policy for logs (both sides unless --policy-b).")
@click.option("--policy-b", default=None, help="Policy for B when comparing a log under two policies.")
@click.option("--config", "config_path", default=None, metavar="FILE", help="Config for replaying A (and B).")
@click.option("--config-b", default=None, metavar="FILE", help="Config for replaying B.")
@click.option("--profile", default=None)
@click.option("--log", "log_path", default=None, metavar="LOG", help="The log behind two action files (to show the causing event).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def diff(a, b, policy, policy_b, config_path, config_b, profile, log_path, fmt) -> None:
    """Compare two action streams (action files, or logs replayed with policies).

    Exit 0 identical, 1 different, 2 error.
    """
    import msgspec

    for p in (a, b):
        if not os.path.exists(p):
            raise UserError(f"{p}: no such file")
    try:
        acts_a, log_a = _actions_for(a, policy, config_path, profile)
        acts_b, log_b = _actions_for(b, policy_b or policy, config_b or config_path, profile)
    except msgspec.DecodeError as exc:
        raise UserError(f"not an actions file: {exc}") from None
    d = compare(acts_a, acts_b)
    log_for_events = log_path or log_a or log_b
    if not d.identical and log_for_events:
        attach_events(d, log_for_events)
    if fmt == "json":
        sys.stdout.buffer.write(d.to_json() + b"\n")
    else:
        for line in render_text(d, "A", "B"):
            click.echo(line)
    sys.exit(0 if d.identical else 1)
