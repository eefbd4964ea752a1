"""ONNX inference cost per tick next to the heuristic (rows printed as ``name<TAB>value``).

Replays one simulated 5-venue log with the heuristic and with the ONNX policy (an MLP of the
behaviour-cloning shape, obs 71 -> 32 -> 32 -> 21, random weights: the cost does not depend on
them), and times the model call alone (observation + session.run + shield) per tick.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

from paraphina.policies import HeuristicPolicy
from paraphina.replay import replay_log
from paraphina.rl.env import scenario_env_config
from paraphina.rl.export import constant_model, mlp_model
from paraphina.rl.policy import OnnxPolicy
from paraphina.rl.schema import action_bounds, action_dim, clip_action, identity_action, obs_dim, observation
from paraphina.sim.runner import run_simulation
from paraphina.sim.scenario import Scenario

TICKS = 1500


def _mlp(path: str, n_venues: int, hidden: int = 32) -> None:
    rng = np.random.Generator(np.random.PCG64(0))
    dims = [obs_dim(n_venues), hidden, hidden, action_dim(n_venues)]
    layers = [(rng.normal(0, 0.1, (a, b)), np.zeros(b)) for a, b in zip(dims[:-1], dims[1:])]
    lo, hi = action_bounds(n_venues)
    with open(path, "wb") as f:
        f.write(mlp_model(layers, lo, hi))


def main() -> None:
    from paraphina.commands.sim import engine_factory

    sc = Scenario(scenario_id="default")
    cfg = scenario_env_config(sc)
    n = len(sc.venues)
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "run.arrow")
        model = os.path.join(tmp, "mlp.onnx")
        _mlp(model, n)
        ident = os.path.join(tmp, "identity.onnx")
        with open(ident, "wb") as f:
            f.write(constant_model(identity_action(n).to_list(), obs_dim(n)))
        run_simulation(sc, cfg, "heuristic", 1, TICKS, log, engine_factory("heuristic"))
        replay_log(log, HeuristicPolicy(), cfg)  # warm up (numba, caches)
        timings = {}
        for name, make in (("heuristic", HeuristicPolicy), ("onnx", lambda: OnnxPolicy(model)),
                           ("identity", lambda: OnnxPolicy(ident))):
            best = float("inf")
            for _ in range(3):
                p = make()
                t0 = time.perf_counter()
                r = replay_log(log, p, cfg)
                best = min(best, time.perf_counter() - t0)
            timings[name] = (best, r.summary["ticks"], r.actions)
        grab = []

        class Grab(HeuristicPolicy):
            from paraphina.hookspecs import hookimpl

            @hookimpl
            def paraphina_quotes(self, ctx):
                grab.append((ctx.model, ctx.venue_inputs))
                return super().paraphina_quotes(ctx)

        replay_log(log, Grab(), cfg)
        p = OnnxPolicy(model)
        t0 = time.perf_counter()
        for m, vi in grab:
            clip_action(p.infer(observation(m, vi, cfg)), n)
        infer = (time.perf_counter() - t0) / len(grab)
    (th, ticks, ah), (to, _, ao), (ti, _, ai) = timings["heuristic"], timings["onnx"], timings["identity"]
    print(f"replay 5 venues, heuristic, {ticks} ticks\t{th / ticks * 1e6:,.1f} us/tick ({ah} actions)")
    print(f"replay 5 venues, onnx constant identity model, {ticks} ticks\t{ti / ticks * 1e6:,.1f} us/tick "
          f"(+{(ti - th) / ticks * 1e6:,.1f} us/tick over the heuristic, {ai} actions)")
    print(f"replay 5 venues, onnx MLP {obs_dim(n)}-32-32-{action_dim(n)} random weights, {ticks} ticks\t"
          f"{to / ticks * 1e6:,.1f} us/tick (+{(to - th) / ticks * 1e6:,.1f} us/tick, {ao} actions: its knobs move quotes)")
    print(f"onnx inference alone (observation + session.run + shield)\t{infer * 1e6:,.1f} us/tick")


if __name__ == "__main__":
    main()
