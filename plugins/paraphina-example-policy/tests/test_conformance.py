"""Run paraphina's policy conformance suite against this plugin (copy this into your plugin)."""

from paraphina.testing import PolicyConformance


class TestTouchJoiner(PolicyConformance):
    policy_name = "touch-joiner"
