"""Learned policies: the heuristic's quotes, exits and hedges with bounded knobs moved by a model.

:class:`KnobPolicy` is the common part: on each main tick it asks :meth:`KnobPolicy.knobs` for
a shielded :class:`~paraphina.rl.schema.KnobAction` (``None`` means "fall back to the
heuristic"), then applies it to the heuristic's intents (:mod:`paraphina.rl.knobs`). Exits are
the heuristic's, untouched. Everything then passes the engine's shield like any policy output.

:class:`OnnxPolicy` (built-in name ``onnx``, ``--policy onnx --model FILE``) gets the action
from an ONNX model run by onnxruntime with one thread and sequential execution, so a run is
deterministic. The model takes ``obs`` float32 ``[1, obs_dim]`` (schema
:data:`~paraphina.rl.schema.OBS_VERSION`) and returns one float32 output ``[1, action_dim]`` in
raw action units (schema :data:`~paraphina.rl.schema.ACTION_VERSION`). A tick falls back to the
heuristic, and is counted in :attr:`KnobPolicy.counters`, when the output is invalid (wrong
shape, NaN, inf: ``invalid_output``) or when a ``PolicyFault`` event for this policy arrived
since the previous main tick (``policy_fault``: a live or shadow runner's timeout, replayed).

The model file's SHA-256 and both schema versions are in the plugin's ``version`` string, which
the engine's host records in logs and replay output.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from paraphina.errors import UserError
from paraphina.hookspecs import hookimpl
from paraphina.intents import OrderIntent
from paraphina.rl.knobs import apply_hedge_knobs, apply_quote_knobs
from paraphina.rl.schema import ACTION_VERSION, OBS_VERSION, KnobAction, clip_action, obs_dim, observation
from paraphina.strategy import model as strategy
from paraphina.digest import sha256_file

POLICY_VERSION = "1.0"


class KnobPolicy:
    """The heuristic with knobs from :meth:`knobs` (override it); counts fallbacks."""

    name = "knobs"
    version = POLICY_VERSION

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}
        self._seq = -1
        self._action: KnobAction | None = None
        self.ticks = 0

    def knobs(self, ctx) -> KnobAction | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def count(self, what: str) -> None:
        self.counters[what] = self.counters.get(what, 0) + 1

    def action(self, ctx) -> KnobAction | None:
        """This tick's shielded action (computed once per main tick), or None to fall back."""
        if ctx.seq != self._seq:
            self._seq = ctx.seq
            self.ticks += 1
            if ctx.policy_fault:
                self.count("policy_fault")
                self._action = None
            else:
                self._action = self.knobs(ctx)
        return self._action

    @hookimpl
    def paraphina_quotes(self, ctx) -> list[OrderIntent] | None:
        if ctx.model is None:
            return None
        intents = strategy.quote(ctx.model, ctx.config, ctx.venue_inputs)
        a = self.action(ctx)
        return intents if a is None else apply_quote_knobs(intents, a, ctx.venue_inputs, ctx.model.fair_value)

    @hookimpl
    def paraphina_exits(self, ctx) -> list[OrderIntent] | None:
        return strategy.exits(ctx.model, ctx.config, ctx.venue_inputs) if ctx.model is not None else None

    @hookimpl
    def paraphina_hedges(self, ctx) -> list[OrderIntent] | None:
        if ctx.model is None:
            return None
        intents = strategy.hedge(ctx.model, ctx.config, ctx.venue_inputs)
        a = self.action(ctx)
        return intents if a is None else apply_hedge_knobs(intents, a, ctx.venue_inputs)




def onnx_session(model_bytes: bytes, source: str):
    """A single-threaded, sequential onnxruntime session (deterministic), or a UserError."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise UserError("policy 'onnx' needs onnxruntime: pip install 'paraphina[rl]'") from None
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    try:
        return ort.InferenceSession(model_bytes, sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - a bad model file is the user's input
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{source}: not a usable ONNX model ({first})") from None


class OnnxPolicy(KnobPolicy):
    """``--policy onnx --model FILE``: knobs from an ONNX model (see the module docstring)."""

    name = "onnx"

    def __init__(self, model_path: str) -> None:
        super().__init__()
        try:
            with open(model_path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise UserError(f"{model_path}: cannot read model ({exc.strerror})") from None
        self.model_path = model_path
        self.model_sha256 = hashlib.sha256(data).hexdigest()
        self.version = f"{POLICY_VERSION}+model.sha256.{self.model_sha256}.obs{OBS_VERSION}.act{ACTION_VERSION}"
        self.session = onnx_session(data, model_path)
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise UserError(f"{model_path}: the model must take one input (obs), it takes {len(inputs)}")
        self._input = inputs[0].name
        shape = inputs[0].shape
        self._in_dim = shape[-1] if shape and isinstance(shape[-1], int) else None
        self._checked = False

    def check_venue_count(self, n_venues: int) -> None:
        """A UserError unless the model's input fits the observation for ``n_venues`` venues
        (a live runner calls it before connecting; replay finds out on the first tick)."""
        if self._in_dim is not None and self._in_dim != obs_dim(n_venues):
            raise UserError(f"{self.model_path}: the model takes {self._in_dim} inputs, observation schema "
                            f"v{OBS_VERSION} with {n_venues} venues has {obs_dim(n_venues)}")
        self._checked = True

    def infer(self, obs):
        """The model's raw output for one observation (float32 ``[obs_dim]``)."""
        return self.session.run(None, {self._input: obs.reshape(1, -1)})[0]

    def knobs(self, ctx) -> KnobAction | None:
        n = len(ctx.venue_inputs)
        if not self._checked:
            self.check_venue_count(n)
        try:
            raw = self.infer(observation(ctx.model, ctx.venue_inputs, ctx.config))
        except Exception:  # noqa: BLE001 - a model that fails at run time falls back like bad output
            raw = None
        a = clip_action(raw, n) if raw is not None else None
        if a is None:
            self.count("invalid_output")
        return a


class ExternalKnobPolicy(KnobPolicy):
    """Knobs set from outside before each tick (the gymnasium environment's ``step(action)``);
    ``set_action(None)`` runs the plain heuristic."""

    name = "rl-env"

    def __init__(self, n_venues: int) -> None:
        super().__init__()
        self.n_venues = n_venues
        self.pending: KnobAction | None = None

    def set_action(self, action: KnobAction | None) -> None:
        self.pending = action

    def knobs(self, ctx) -> KnobAction | None:
        return self.pending


def onnx_factory(model_path: str | None) -> Callable[[], OnnxPolicy]:
    """A zero-argument factory of :class:`OnnxPolicy` for ``model_path`` (what the CLI hands to
    engine factories); the path is checked now so a missing file fails before any work."""
    if not model_path:
        raise UserError("policy 'onnx' needs --model FILE")
    OnnxPolicy(model_path)  # validate early: readable, loadable
    return lambda: OnnxPolicy(model_path)
