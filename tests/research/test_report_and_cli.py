"""HTML report, `paraphina report`, `paraphina mc-merge`, and the mc command body."""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET

import click
import pytest
from click.testing import CliRunner

from paraphina.cli import _register, cli
from paraphina.commands.research import mc_command_impl, mc_options
from paraphina.errors import UserError
from paraphina.research.evidence import verify_evidence
from paraphina.research.report import render_report
from paraphina.research.toy import toy_run

RUN_FN = functools.partial(toy_run, ticks=50, drift=0.0, vol=1.0, loss_limit=7.0)  # test double


@click.command()
@mc_options
def mc_test(**kw):
    """What the lead's `paraphina mc --scenario` will look like, with the toy run function."""
    raise SystemExit(mc_command_impl(RUN_FN, **kw))


def invoke(cmd, args):
    _register()
    return CliRunner().invoke(cmd, args, catch_exceptions=False)


def svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg.*?</svg>", page, re.S)]


def figures(page: str) -> list[str]:
    """The ids of the page's plots, in order (each figure holds one matplotlib SVG)."""
    return re.findall(r'<figure id="plot-([^"]+)">\s*<svg', page)


def test_mc_command_impl_prints_contract_and_writes(tmp_path):
    out = tmp_path / "mc"
    r = invoke(mc_test, ["--runs", "30", "--seed", "5", "--output-dir", str(out), "--jobs", "2"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("paraphina-mc v")
    assert "SUMMARY" in r.output and f"Wrote: {out / 'mc_runs.jsonl'}" in r.output
    assert re.search(r"kill: \d+/30 p=[0-9.]+ wilson95=\[[0-9.]+, [0-9.]+\] ucb=[0-9.]+", r.output)
    assert verify_evidence(out).code == 0


def test_sharded_cli_then_merge(tmp_path):
    base = ["--runs", "20", "--seed", "9", "--quiet"]
    invoke(mc_test, [*base, "--output-dir", str(tmp_path / "whole")])
    invoke(mc_test, [*base, "--output-dir", str(tmp_path / "s0"), "--run-count", "8"])
    invoke(mc_test, [*base, "--output-dir", str(tmp_path / "s1"), "--run-start-index", "8"])
    r = invoke(cli, ["mc-merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "-o", str(tmp_path / "m")])
    assert r.exit_code == 0 and "SUMMARY" in r.output
    assert (tmp_path / "m" / "mc_runs.jsonl").read_bytes() == (tmp_path / "whole" / "mc_runs.jsonl").read_bytes()
    # a gap is a one-line error (UserError -> exit 2 through paraphina.cli.main)
    with pytest.raises(UserError, match="gap"):
        invoke(cli, ["mc-merge", str(tmp_path / "s1"), "-o", str(tmp_path / "m2")])


def test_report_of_mc_dir(tmp_path):
    out = tmp_path / "mc"
    invoke(mc_test, ["--runs", "40", "--seed", "1", "--output-dir", str(out), "--quiet"])
    page = render_report(out)
    assert page == render_report(out)  # deterministic
    assert len(svgs(page)) == len(figures(page))  # every plot parses as XML
    assert figures(page)[:3] == ["pnl", "drawdown", "fills-fees"]
    assert ("kill-reasons" in figures(page)) == ("PnlHardBreach" in (out / "mc_runs.jsonl").read_text())
    assert "Kill switch: <b>" in page and "Fees per run" in page
    r = invoke(cli, ["report", str(out), "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 0 and (tmp_path / "r.html").read_text() == page


def test_report_leaves_the_evidence_pack_verifiable(tmp_path):
    """Issue 12 item 3: `paraphina mc ...; paraphina report DIR; paraphina verify-evidence DIR` exits 0."""
    out = tmp_path / "mc"
    invoke(mc_test, ["--runs", "12", "--seed", "3", "--output-dir", str(out), "--quiet"])
    r = invoke(cli, ["report", str(out)])
    assert r.exit_code == 0 and "evidence pack is left as it was" in r.output
    assert (tmp_path / "mc.report.html").is_file()  # beside the directory, not in it
    assert verify_evidence(out).code == 0
    with pytest.raises(UserError, match="inside the evidence pack"):
        invoke(cli, ["report", str(out), "-o", str(out / "report.html")])
    assert not (out / "report.html").exists() and verify_evidence(out).code == 0


def test_report_of_study(tmp_path):
    from batch_runs.phase_a.__main__ import main

    study = tmp_path / "study"
    assert main(["--study-dir", str(study), "--seed", "7", "--candidates", "4", "--runs", "30",
                 "--evaluate", "paraphina.research.toy:toy_candidate_run"]) == 0
    page = (study / "report.html").read_text()
    assert page == render_report(study)
    ids = figures(page)
    assert len(svgs(page)) == len(ids) and len(set(ids)) == len(ids)
    assert "pareto-dd" in ids and "kill" in ids
    assert "<h2>Knob values</h2>" in page and "hedge_band_base" in page  # each candidate's knobs
    assert "Phase A study: study | 4 candidates x 30 runs | seed 7" in page
    if any(i.endswith("-pnl") for i in ids):
        assert any(i.startswith("trial_") and i.endswith("-pnl") for i in ids)


def test_report_rejects_other_dirs(tmp_path):
    with pytest.raises(UserError, match="neither"):
        render_report(tmp_path)
