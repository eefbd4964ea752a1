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
from paraphina.research.report import nice_ticks, render_report
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
    figs = svgs(page)  # parses as XML
    titles = [t.text for f in figs for t in f.iter("{http://www.w3.org/2000/svg}text") if t.get("font-weight") == "bold"]
    assert titles == ["PnL distribution: mc", "Drawdown tail: mc", "Kill probability"]
    r = invoke(cli, ["report", str(out), "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 0 and (tmp_path / "r.html").read_text() == page


def test_report_of_study(tmp_path):
    from batch_runs.phase_a.__main__ import main

    study = tmp_path / "study"
    assert main(["--study-dir", str(study), "--seed", "7", "--candidates", "4", "--runs", "30",
                 "--evaluate", "paraphina.research.toy:toy_candidate_run"]) == 0
    page = (study / "report.html").read_text()
    assert page == render_report(study)
    bold = [t.text for f in svgs(page) for t in f.iter("{http://www.w3.org/2000/svg}text")
            if t.get("font-weight") == "bold"]
    assert "Pareto: mean PnL vs drawdown CVaR" in bold and "Kill probability per trial (x = trial number)" in bold
    assert any(b.startswith("PnL distribution: trial_") for b in bold)


def test_report_rejects_other_dirs(tmp_path):
    with pytest.raises(UserError, match="neither"):
        render_report(tmp_path)


def test_nice_ticks():
    assert nice_ticks(0, 1) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    t = nice_ticks(-37.0, 112.0)
    assert t == [-25.0, 0.0, 25.0, 50.0, 75.0, 100.0]
    assert t[0] >= -37.0 and t[-1] <= 112.0 and len(t) >= 3
