"""``paraphina rl bc``: behaviour cloning of the heuristic into an ONNX model with a model card."""

from __future__ import annotations

import os

import click

from paraphina.cli import cli
from paraphina.commands.common import force_option, output_option
from paraphina.errors import UserError
from paraphina.outputs import check_input, check_output


def _need_rl() -> None:
    try:
        import gymnasium  # noqa: F401
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise UserError(f"this command needs the rl extra ({exc.name} missing): pip install 'paraphina[rl]'") from None


@cli.group()
def rl() -> None:
    """Learned policies: behaviour cloning (see docs/rl.md)."""


@rl.command()
@output_option(dest="out_dir", metavar="DIR", help="Where model.onnx, dataset.npz and the model card go.", required=True)
@click.option("--seeds", type=click.IntRange(min=1), default=8, show_default=True, help="Training seeds per scenario.")
@click.option("--holdout", type=click.IntRange(min=1), default=4, show_default=True, help="Held-out evaluation seeds.")
@click.option("--ticks", type=click.IntRange(min=10), default=300, show_default=True, help="Main ticks per run.")
@click.option("--epochs", type=click.IntRange(min=1), default=400, show_default=True)
@click.option("--hidden", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--scenario", "scenario_paths", multiple=True, metavar="FILE",
              help="Scenario YAML (repeatable; default: the calm 5-venue market).")
@force_option("model in DIR")
def bc(out_dir, seeds, holdout, ticks, epochs, hidden, scenario_paths, force) -> None:
    """Clone the rl-teacher's knobs: dataset from teacher runs, a small MLP, ONNX, model card."""
    for p in scenario_paths:
        check_input(p, what="--scenario")
    check_output(out_dir, inputs=scenario_paths, directory=True)
    if os.path.exists(os.path.join(out_dir, "model.onnx")) and not force:
        raise UserError(f"--out {out_dir}: already holds a model (add --force to replace it)")
    _need_rl()
    from paraphina.rl.bc import behaviour_clone
    from paraphina.sim.scenario import load_scenario

    from paraphina.progress import Progress

    scenarios = [load_scenario(p) for p in scenario_paths]
    # Three stages (dataset, training, held-out evaluation); off a terminal the heartbeat writes
    # the current stage at least every progress interval while one runs.
    bar = Progress("rl bc", 3, "stages")

    def stage(message: str) -> None:
        if bar.detail:
            bar.update()
        bar.describe(message)

    with bar:
        card = behaviour_clone(out_dir, seeds=seeds, holdout=holdout, ticks=ticks, epochs=epochs, hidden=hidden,
                               scenarios=scenarios or None, scenario_names=list(scenario_paths), progress=stage)
        bar.update()
    e = card["evaluation"]
    click.echo(f"model: {out_dir}/model.onnx sha256 {card['model']['sha256']}")
    click.echo(f"action error: train {e['action_error_train']:.4f} held-out {e['action_error_heldout']:.4f} "
               f"(constant predictor {e['action_error_heldout_constant_baseline']:.4f}, bar {e['error_bar']:.4f})")
    for what in ("mean_pnl", "kill_rate"):
        click.echo(f"held-out {what.replace('_', ' ')}: " + " ".join(
            f"{p} {e[p][what]:+.2f}" for p in ("heuristic", "teacher", "learned")))
    click.echo(f"passed: {'yes' if e['passed'] else 'no'} (model card: {out_dir}/model_card.md)")
    for r in e["reasons"]:
        click.echo(f"  {r}")
