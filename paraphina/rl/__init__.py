"""Learned policies behind the shield: observation/action schemas, the ONNX policy, the gymnasium
environment and behaviour cloning (see docs/rl.md). onnxruntime, onnx and gymnasium come with
the optional extra ``paraphina[rl]`` and are imported only where needed."""
