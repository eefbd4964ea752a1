"""Writing ONNX models with the ``onnx`` helper API (no torch): an MLP, a constant model, and a
trained Gaussian policy's mean with its observation normalisation (PPO, :mod:`paraphina.rl.ppo`).

The graphs use MatMul/Add/Sub/Div/Mul/Relu/Tanh/Sigmoid/Clip only, opset 17, with input ``obs`` float32
``[1, obs_dim]`` and output ``action`` float32 ``[1, action_dim]`` in raw action units, the
contract of :class:`paraphina.rl.policy.OnnxPolicy`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

OPSET = 17
IR_VERSION = 8  # readable by every onnxruntime since 1.10


def _onnx():
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        from paraphina.errors import UserError

        raise UserError("writing ONNX models needs onnx: pip install 'paraphina[rl]'") from None
    return onnx, TensorProto, helper, numpy_helper


def _model(nodes, inits, obs_dim: int, act_dim: int, name: str, doc: str) -> bytes:
    onnx, TensorProto, helper, _ = _onnx()
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, [1, obs_dim])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, [1, act_dim])],
        initializer=inits,
    )
    model = helper.make_model(graph, producer_name="paraphina", doc_string=doc,
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model.SerializeToString()


def mlp_model(weights: Sequence[tuple[np.ndarray, np.ndarray]], low: Sequence[float], high: Sequence[float],
              *, doc: str = "") -> bytes:
    """An MLP: ``Relu`` hidden layers, a ``Sigmoid`` output mapped affinely onto ``[low, high]``
    per dimension (``action = low + (high - low) * sigmoid(z)``)."""
    _, _, helper, numpy_helper = _onnx()
    nodes, inits = [], []
    x = "obs"
    for i, (w, b) in enumerate(weights):
        inits += [numpy_helper.from_array(np.asarray(w, np.float32), f"W{i}"),
                  numpy_helper.from_array(np.asarray(b, np.float32).reshape(1, -1), f"B{i}")]
        nodes += [helper.make_node("MatMul", [x, f"W{i}"], [f"m{i}"]), helper.make_node("Add", [f"m{i}", f"B{i}"], [f"z{i}"])]
        x = f"z{i}"
        if i < len(weights) - 1:
            nodes.append(helper.make_node("Relu", [x], [f"h{i}"]))
            x = f"h{i}"
    lo = np.asarray(low, np.float32).reshape(1, -1)
    span = (np.asarray(high, np.float32) - np.asarray(low, np.float32)).reshape(1, -1)
    inits += [numpy_helper.from_array(lo, "LOW"), numpy_helper.from_array(span, "SPAN")]
    nodes += [helper.make_node("Sigmoid", [x], ["sig"]), helper.make_node("Mul", ["sig", "SPAN"], ["scaled"]),
              helper.make_node("Add", ["scaled", "LOW"], ["action"])]
    obs_dim = int(np.asarray(weights[0][0]).shape[0])
    return _model(nodes, inits, obs_dim, len(lo[0]), "paraphina_mlp", doc)


def constant_model(values: Sequence[float], obs_dim: int, *, doc: str = "") -> bytes:
    """A model whose output is ``values`` whatever the observation (``obs @ 0 + values``); for
    tests (NaN, out-of-range, identity) and as a fixed-knob policy."""
    _, _, helper, numpy_helper = _onnx()
    v = np.asarray(values, np.float32).reshape(1, -1)
    zero = np.zeros((obs_dim, v.shape[1]), np.float32)
    inits = [numpy_helper.from_array(zero, "Z"), numpy_helper.from_array(v, "C")]
    nodes = [helper.make_node("MatMul", ["obs", "Z"], ["m"]), helper.make_node("Add", ["m", "C"], ["action"])]
    return _model(nodes, inits, obs_dim, v.shape[1], "paraphina_constant", doc)


def gaussian_policy_model(obs_mean: Sequence[float], obs_std: Sequence[float], obs_clip: float,
                          weights: Sequence[tuple[np.ndarray, np.ndarray]], low: Sequence[float], high: Sequence[float],
                          *, doc: str = "") -> bytes:
    """The deterministic action of a Gaussian policy trained on normalised observations and
    actions in [-1, 1] (Stable-Baselines3's PPO with VecNormalize and a rescaled action box):
    ``x = clip((obs - mean) / std, ±obs_clip)``, ``Tanh`` hidden layers, the mean ``m`` of the
    last layer, ``action = mid + halfspan * clip(m, -1, 1)`` per dimension of ``[low, high]``."""
    _, _, helper, numpy_helper = _onnx()
    f32 = np.float32
    lo, hi = np.asarray(low, np.float64), np.asarray(high, np.float64)
    inits = [numpy_helper.from_array(np.asarray(obs_mean, f32).reshape(1, -1), "OBS_MEAN"),
             numpy_helper.from_array(np.asarray(obs_std, f32).reshape(1, -1), "OBS_STD"),
             numpy_helper.from_array(np.asarray(-obs_clip, f32), "OBS_LO"),
             numpy_helper.from_array(np.asarray(obs_clip, f32), "OBS_HI"),
             numpy_helper.from_array(np.asarray(-1.0, f32), "ONE_NEG"),
             numpy_helper.from_array(np.asarray(1.0, f32), "ONE"),
             numpy_helper.from_array(((lo + hi) / 2).astype(f32).reshape(1, -1), "MID"),
             numpy_helper.from_array(((hi - lo) / 2).astype(f32).reshape(1, -1), "HALF")]
    nodes = [helper.make_node("Sub", ["obs", "OBS_MEAN"], ["centred"]),
             helper.make_node("Div", ["centred", "OBS_STD"], ["scaled_obs"]),
             helper.make_node("Clip", ["scaled_obs", "OBS_LO", "OBS_HI"], ["x"])]
    x = "x"
    for i, (w, b) in enumerate(weights):
        inits += [numpy_helper.from_array(np.asarray(w, f32), f"W{i}"),
                  numpy_helper.from_array(np.asarray(b, f32).reshape(1, -1), f"B{i}")]
        nodes += [helper.make_node("MatMul", [x, f"W{i}"], [f"m{i}"]), helper.make_node("Add", [f"m{i}", f"B{i}"], [f"z{i}"])]
        x = f"z{i}"
        if i < len(weights) - 1:
            nodes.append(helper.make_node("Tanh", [x], [f"h{i}"]))
            x = f"h{i}"
    nodes += [helper.make_node("Clip", [x, "ONE_NEG", "ONE"], ["unit"]),
              helper.make_node("Mul", ["unit", "HALF"], ["spread"]),
              helper.make_node("Add", ["spread", "MID"], ["action"])]
    return _model(nodes, inits, len(np.asarray(obs_mean)), len(lo), "paraphina_gaussian_policy", doc)
