"""Plugins: discovery by entry point, listing, and the conformance suite on the built-in policy."""

from __future__ import annotations

from paraphina.testing import PolicyConformance

from conftest import ROOT, run_cli


class TestFixedSpreadConformance(PolicyConformance):
    policy_name = "fixed-spread"


class TestHeuristicConformance(PolicyConformance):
    policy_name = "heuristic"
    config_path = str(ROOT / "paraphina" / "presets" / "btc.toml")


def test_plugins_lists_builtin_and_third_party():
    r = run_cli("plugins")
    assert r.returncode == 0
    names = [line.split("\t")[0] for line in r.stdout.splitlines()]
    assert "fixed-spread" in names and "touch-joiner" in names
    # A policy that needs a model is not broken for lacking one (issue 13): it says what it needs.
    assert "broken" not in r.stdout
    onnx = next(line for line in r.stdout.splitlines() if line.startswith("onnx\t"))
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is not None:
        assert "(needs --model FILE)" in onnx
    else:
        assert "needs onnxruntime" in onnx


def test_replay_records_plugin_names_and_versions(sample_log):
    r = run_cli("replay", str(sample_log), "--policy", "touch-joiner")
    assert r.returncode == 0 and "plugins: touch-joiner==0.1.0" in r.stdout
