"""``paraphina rl``: behaviour cloning (``bc``), PPO training (``train``), offline RL (``offline``, TD3+BC)
and evaluation gates (``eval``) for ONNX knob models with a model card."""

from __future__ import annotations

import os

import click
import msgspec

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
    """Learned policies: behaviour cloning, PPO training, offline RL, evaluation gates (see docs/rl.md)."""


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


DEFAULT_SUITES = ("scenarios/suites/research.yaml", "scenarios/suites/adversarial_regression.yaml")


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_suites() -> list[str]:
    """The default stress suites: from the current directory, else from the repository's."""
    return [p if os.path.exists(p) else os.path.join(REPO, p) for p in DEFAULT_SUITES]


@rl.command("eval")
@click.argument("model", metavar="MODEL.onnx")
@click.option("--tier", required=True, help="Risk tier whose budgets the model must meet (a tier of --budgets).")
@output_option(dest="out_dir", metavar="DIR", help="Where the evaluation report, Monte Carlo runs, suite logs and the "
               "shadow session go.", required=True)
@click.option("--seeds", "runs", type=click.IntRange(min=2), default=32, show_default=True,
              help="Held-out Monte Carlo runs per policy.")
@click.option("--seed", "base_seed", type=click.IntRange(min=0), default=2026, show_default=True,
              help="Base seed of the Monte Carlo runs (seed rule of paraphina research mc).")
@click.option("--ticks", type=click.IntRange(min=10), default=300, show_default=True, help="Main ticks per Monte Carlo run.")
@click.option("--scenario", "scenario_path", default=None, metavar="FILE",
              help="Scenario of the Monte Carlo runs and the shadow session (default: the calm 5-venue market).")
@click.option("--budgets", "budgets_path", default=None, metavar="FILE",
              help="Budgets YAML (default: batch_runs/phase_a/budgets.yaml).")
@click.option("--suite", "suite_paths", multiple=True, metavar="SUITE.yaml",
              help="Stress suite (repeatable; default: the research and adversarial regression suites).")
@click.option("--no-suites", is_flag=True, help="Skip the stress suites.")
@click.option("--suite-ticks", type=click.IntRange(min=10), default=None,
              help="Main ticks per suite run (default: each scenario's horizon).")
@click.option("--no-shadow", is_flag=True, help="Skip the shadow session.")
@force_option("evaluation in DIR")
def eval_cmd(model, tier, out_dir, runs, base_seed, ticks, scenario_path, budgets_path, suite_paths, no_suites,
             suite_ticks, no_shadow, force) -> None:
    """Gate a learned model against a tier: exit 0 if it passes, 1 if it fails (2: bad input).

    Passes when, on held-out Monte Carlo seeds, the model is within the tier's budgets and its
    risk-adjusted score beats the heuristic's, and it breaks no stress-suite invariant the
    heuristic keeps. Writes DIR/eval_report.json and DIR/eval_report.md and records the result in
    the model card beside MODEL (model_card.json / .md) when there is one.
    """
    import sys

    check_input(model, what="MODEL")
    suites = [] if no_suites else list(suite_paths or default_suites())
    if no_suites and suite_paths:
        raise UserError("--suite and --no-suites contradict each other")
    for p in [*suites, *(x for x in (scenario_path, budgets_path) if x)]:
        check_input(p)
    check_output(out_dir, inputs=(model, *suites, *(x for x in (scenario_path, budgets_path) if x)), directory=True)
    _need_rl()
    from paraphina.progress import Progress
    from paraphina.rl.evaluate import evaluate
    from paraphina.rl.policy import OnnxPolicy
    from paraphina.sim.scenario import Scenario, load_scenario

    OnnxPolicy(model)  # a bad model file is a one-line error before any work
    scenario = load_scenario(scenario_path) if scenario_path else Scenario(scenario_id="default")
    # Stages: Monte Carlo of each policy, each suite with each policy, the shadow session.
    bar = Progress("rl eval", 2 + 2 * len(suites) + (0 if no_shadow else 1), "stages")

    def stage(message: str) -> None:
        if bar.detail:
            bar.update()
        bar.describe(message)

    with bar:
        report = evaluate(model, tier, out_dir, budgets_path=budgets_path, runs=runs, base_seed=base_seed, ticks=ticks,
                          scenario=scenario, scenario_name=scenario_path or "default", suite_paths=suites,
                          suite_ticks=suite_ticks, run_shadow_session=not no_shadow, force=force, progress=stage,
                          suite_base_dir=None if suite_paths or os.path.exists(DEFAULT_SUITES[0]) else REPO)
        bar.update()
    from paraphina.rl.evaluate import render_report

    for line in render_report(report):
        if line:
            click.echo(line)
    click.echo(f"report: {out_dir}/eval_report.md" + (f"; model card: {report['model_card']}" if report["model_card"]
                                                      else "; no model_card.json beside the model, none updated"))
    sys.exit(0 if report["passed"] else 1)


@rl.command()
@click.argument("logs", nargs=-1, required=True, metavar="LOG...")
@output_option(dest="out_dir", metavar="DIR", help="Where model.onnx, dataset.npz and the model card go.", required=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Training seed.")
@click.option("--steps", type=click.IntRange(min=1), default=2000, show_default=True, help="Gradient steps.")
@click.option("--alpha", type=click.FloatRange(min=0), default=0.25, show_default=True,
              help="TD3+BC's weight of the Q term against the behaviour term (0: pure behaviour cloning).")
@click.option("--hidden", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--behaviour-model", "behaviour_models", multiple=True, metavar="FILE",
              help="ONNX model that wrote some of the logs (repeatable; matched by its sha256).")
@click.option("--config", "config_path", default=None, metavar="FILE",
              help="Config to replay the logs with (default: each log's own, as paraphina replay).")
@force_option("model in DIR")
def offline(logs, out_dir, seed, steps, alpha, hidden, batch, behaviour_models, config_path, force) -> None:
    """Offline RL (TD3+BC) from heuristic, rl-teacher or ONNX-policy logs: ONNX model and model card."""
    from paraphina.digest import sha256_file
    from paraphina.research.provenance import claim

    for p in logs:
        check_input(p, what="LOG")
    for p in behaviour_models:
        check_input(p, what="--behaviour-model")
    check_output(out_dir, inputs=(*logs, *behaviour_models, *((config_path,) if config_path else ())), directory=True)
    _need_rl()
    from paraphina.commands.common import resolve_config
    from paraphina.progress import Progress
    from paraphina.rl.logdata import log_transitions
    from paraphina.rl.offline import TD3BCSettings, offline_rl, require_torch, settings_record

    require_torch()
    settings = TD3BCSettings(steps=steps, alpha=alpha, hidden=hidden, batch=batch, seed=seed)
    models = {sha256_file(p): p for p in behaviour_models}
    record = {"schema_version": 1, "logs": [{"path": p, "sha256": sha256_file(p)} for p in logs],
              "behaviour_models": sorted(models), "config": config_path, "settings": settings_record(settings)}
    # Stages: replaying each log, then training.
    bar = Progress("rl offline", len(logs) + 1, "stages")

    def stage(message: str) -> None:
        if bar.detail:
            bar.update()
        bar.describe(message)

    with bar:
        # The logs are read first: a log that cannot be learned from leaves DIR untouched.
        data = log_transitions(list(logs), lambda log: resolve_config(config_path, None, log=log)[0], models,
                               progress=stage)
        claim(out_dir, "offline_config.json", record, force=force, what="an offline RL run",
              hint="use another -o/--out, or --force to start over")
        card = offline_rl(out_dir, data, settings, progress=stage)
        bar.update()
    t, e = card["training"], card["evaluation"]
    click.echo(f"model: {out_dir}/model.onnx sha256 {card['model']['sha256']}")
    click.echo(f"data: {len(logs)} logs, {card['data']['transitions']} transitions "
               f"({', '.join(card['data']['behaviour_policies'])})")
    click.echo(f"{t['algo']}: {t['steps']} steps, final critic loss {t['final_critic_loss']:.6f}, behaviour MSE "
               f"{t['final_bc_mse']:.6f}, mean Q logged {t['q_data_mean']:.4f} / policy {t['q_policy_mean']:.4f}")
    click.echo(f"action error against the logs: {e['action_error_vs_data']:.4f}; next: paraphina rl eval "
               f"{out_dir}/model.onnx --tier T -o DIR (model card: {out_dir}/model_card.md)")


@rl.command()
@click.option("--algo", type=click.Choice(["ppo"]), default="ppo", show_default=True, help="RL algorithm.")
@click.option("--constrained", "tier", default=None, metavar="TIER",
              help="Lagrangian penalties for this tier's budgets (kill probability, drawdown; delta and basis usage).")
@click.option("--budgets", default=None, metavar="FILE", help="Risk budgets per tier (default: batch_runs/phase_a/budgets.yaml).")
@click.option("--steps", type=click.IntRange(min=1), default=20_000, show_default=True, help="Environment steps (main ticks) to train.")
@click.option("--seed", type=click.IntRange(min=0, max=2**30), default=0, show_default=True)
@output_option(dest="out_dir", metavar="DIR", help="Where model.onnx, the model card and provenance.json go.", required=True)
@click.option("--envs", type=click.IntRange(min=1, max=64), default=4, show_default=True, help="Environments stepped per call.")
@click.option("--ticks", type=click.IntRange(min=10), default=300, show_default=True, help="Main ticks per episode.")
@click.option("--n-steps", type=click.IntRange(min=8), default=128, show_default=True, help="Steps per environment per rollout.")
@click.option("--holdout", type=click.IntRange(min=1), default=8, show_default=True, help="Held-out evaluation seeds.")
@click.option("--scenario", "scenario_path", default=None, metavar="FILE", help="Base scenario YAML (default: the calm 5-venue market).")
@click.option("--no-randomise", is_flag=True, help="Train on the base scenario only (no domain randomisation).")
@click.option("--config", "config_path", default=None, metavar="FILE",
              help="Engine config file or preset name (default: the btc preset), with the scenario's profile.")
@click.option("--quiet", "-q", is_flag=True, help="No progress.")
@force_option("model in DIR", help="Start over when DIR holds a model trained with other inputs.")
def train(algo, tier, budgets, steps, seed, out_dir, envs, ticks, n_steps, holdout, scenario_path, no_randomise,
          config_path, quiet, force) -> None:
    """Train a policy on the knobs with PPO (optionally constrained), export ONNX, evaluate, write a model card."""
    import math
    import time
    from pathlib import Path

    from paraphina.research.evidence import canonical_json, write_atomic
    from paraphina.research.provenance import claim, file_hash

    from paraphina.presets import is_preset_name

    config_file = config_path if config_path and not is_preset_name(config_path) else None
    inputs = [p for p in (scenario_path, budgets, config_file) if p]
    for p, what in ((scenario_path, "--scenario"), (budgets, "--budgets"), (config_file, "--config")):
        if p:
            check_input(p, what=what)
    check_output(out_dir, inputs=inputs, directory=True)
    _need_rl()
    from paraphina.rl.ppo import need_sb3

    need_sb3()
    from batch_runs.phase_a.spec import DEFAULT_BUDGETS, load_budgets

    from paraphina.progress import Progress
    from paraphina.rl import ppo
    from paraphina.rl.env import RewardWeights, scenario_env_config
    from paraphina.rl.randomise import Randomisation
    from paraphina.sim.scenario import Scenario, load_scenario

    alpha, tiers = load_budgets(budgets or DEFAULT_BUDGETS)
    if tier is not None and tier not in tiers:
        raise UserError(f"--constrained: unknown tier {tier!r} (tiers: {', '.join(tiers)})")
    budget = tiers[tier] if tier else None
    scenario = load_scenario(scenario_path) if scenario_path else Scenario(scenario_id="default")
    config = scenario_env_config(scenario, scenario.initial_state.profile, config_path)
    settings = ppo.PPOSettings(n_envs=envs, episode_ticks=ticks, n_steps=n_steps, batch_size=min(n_steps * envs, 128))
    randomisation = None if no_randomise else Randomisation()
    weights = RewardWeights()
    record = {
        "command": "paraphina rl train", "algo": algo, "constrained": tier,
        "budget": msgspec.to_builtins(budget) if budget else None, "alpha": alpha, "steps": steps, "seed": seed,
        "settings": msgspec.to_builtins(settings), "holdout": holdout,
        "scenario": file_hash(scenario_path) if scenario_path else "default",
        "randomisation": msgspec.to_builtins(randomisation) if randomisation else None,
        "reward_weights": msgspec.to_builtins(weights), "libraries": ppo.library_versions(),
    }
    if config_path:  # only when given: records written before --config existed stay comparable
        record["config"] = file_hash(config_file) if config_file else config_path
    claim(out_dir, "provenance.json", record, force=force, what="a model trained")
    rollout = settings.n_envs * settings.n_steps
    total = math.ceil(steps / rollout) * rollout
    with Progress(f"rl train {algo}", total, "steps", enabled=not quiet) as bar:
        result = ppo.train_ppo(scenario, config, steps=steps, seed=seed, settings=settings, budget=budget,
                               randomisation=randomisation, weights=weights, progress=bar.update)
    model_path = os.path.join(out_dir, "model.onnx")
    sha = ppo.write_model(out_dir, result)
    t0 = time.perf_counter()
    seeds = [ppo.HOLDOUT_SEED_BASE + k for k in range(holdout)]
    with Progress("rl train: held-out evaluation", holdout, "seeds", enabled=not quiet) as bar:
        evaluation = ppo.evaluate(model_path, scenario, config, seeds=seeds, ticks=ticks, randomisation=randomisation,
                                  budgets=tiers, alpha=alpha, progress=bar.update)
    eval_seconds = time.perf_counter() - t0
    card = ppo.build_card(algo=algo, tier=tier, budget=budget, steps=steps, seed=seed, settings=settings,
                          scenario_name=scenario_path or "default", randomisation=randomisation, weights=weights,
                          config=config, result=result, n_venues=len(scenario.venues), model_sha256=sha,
                          evaluation=evaluation)
    ppo.write_card(out_dir, card)
    # Wall-clock figures depend on the machine: kept out of the card, whose bytes the inputs determine.
    timing = {"train_seconds": round(result.train_seconds, 3), "env_steps_per_second": round(result.env_steps_per_second, 1),
              "eval_seconds": round(eval_seconds, 3)}
    write_atomic(Path(out_dir) / "timing.json", canonical_json(timing))
    e = card["evaluation"]
    click.echo(f"model: {model_path} sha256 {card['model']['sha256']}")
    click.echo(f"trained: {result.steps_done} steps in {result.train_seconds:.1f}s ({result.env_steps_per_second:.0f} steps/s)"
               + (f"; final multipliers {', '.join(f'{k}={v:.3g}' for k, v in result.lambdas.items())}" if tier else ""))
    for name in ("heuristic", "learned"):
        s = e[name]
        click.echo(f"held-out {name}: mean PnL {s['mean_pnl']:+.2f}, mean max drawdown {s['mean_max_drawdown']:.2f}, "
                   f"kill rate {s['kill_rate']:.2f} ({s['runs']} runs)")
    click.echo(f"actions differ from the heuristic's on {e['runs_with_different_actions']} of {len(seeds)} held-out runs")
    click.echo(f"beats the heuristic: {'yes' if e['beats_heuristic'] else 'no'}"
               + (f"; within the {tier} budget: {'yes' if e['within_budget'][tier]['learned'] else 'no'}" if tier else ""))
    click.echo(f"model card: {out_dir}/model_card.md")
