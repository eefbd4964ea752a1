"""Inputs are sacred (issue 18, item 1): no command writes over one of its inputs, nothing is
replaced without --force, and every write goes to a partial file renamed into place, so a kill
leaves the previous file intact. Also the one CLI grammar: every writing command has -o/--out
and --force (issue 13, item 4)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import click
import pytest

from paraphina.cli import _register, cli, main
from paraphina.errors import UserError
from paraphina.outputs import PARTIAL, ReplacingFile, check_output, replacing, same_file, write_file

from conftest import ROOT, write_sample

SCENARIO = ROOT / "scenarios" / "synth_baseline.yaml"


def run(*args, capsys) -> tuple[int, str, str]:
    """``paraphina ARGS`` in-process through the real entry point."""
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def assert_one_line_error(code, err, *needles):
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]


# --- the helper ------------------------------------------------------------------------------


def test_same_file_sees_through_symlinks_and_hard_links(tmp_path):
    a = tmp_path / "a"
    a.write_text("x")
    (tmp_path / "sym").symlink_to(a)
    os.link(a, tmp_path / "hard")
    assert same_file(a, tmp_path / "sym") and same_file(a, tmp_path / "hard")
    assert same_file(a, tmp_path / "." / "a")
    assert not same_file(a, tmp_path / "b")


def test_check_output_rules(tmp_path):
    inp = tmp_path / "in.arrow"
    inp.write_bytes(b"in")
    with pytest.raises(UserError, match="is also an input"):
        check_output(tmp_path / "sub" / ".." / "in.arrow", inputs=[inp], force=True)
    with pytest.raises(UserError, match=r"already exists \(add --force"):
        check_output(inp)
    assert check_output(inp, force=True) == str(inp)
    with pytest.raises(UserError, match="is a directory"):
        check_output(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        check_output(tmp_path / "nowhere" / "x")
    with pytest.raises(UserError, match="not a directory"):
        check_output(inp, directory=True)


def test_replacing_renames_on_success_and_removes_the_partial_on_failure(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("old")
    with pytest.raises(RuntimeError):
        with replacing(out) as tmp:
            Path(tmp).write_text("half")
            assert PARTIAL in tmp and Path(tmp).parent == tmp_path
            raise RuntimeError("boom")
    assert out.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]
    write_file(out, "new")
    assert out.read_text() == "new" and os.listdir(tmp_path) == ["out.txt"]
    f = ReplacingFile(str(out))
    f.write(b"streamed")
    assert out.read_text() == "new"
    f.commit()
    assert out.read_text() == "streamed"


# --- output == input refused, for every writing command --------------------------------------


@pytest.fixture
def files(tmp_path):
    """One of every kind of input, each with known bytes."""
    d = tmp_path / "in"
    d.mkdir()
    log = write_sample(d / "s.arrow", n=3000, venues=2)
    cfg = d / "cfg.toml"
    cfg.write_text("[risk]\ndaily_loss_limit = 5000\n")
    scen = d / "scen.yaml"
    scen.write_text(SCENARIO.read_text())
    suite = d / "suite.yaml"
    suite.write_text(f"suite_id: t\nscenarios:\n  - path: {scen}\n    seeds: [1]\nticks: 5\n")
    capture = d / "cap.jsonl"
    capture.write_text("{}\n")
    tele = d / "t.jsonl"
    tele.write_text("{}\n")
    dataset = d / "ds.csv"
    dataset.write_text("file,pnl_total\na,1\n")
    study = d / "study"
    study.mkdir()
    (study / "mc_runs.jsonl").write_text("{}\n")
    return {"log": log, "cfg": cfg, "scen": scen, "suite": suite, "capture": capture, "tele": tele,
            "dataset": dataset, "study": study}


SAME_AS_INPUT = {
    "replay --out LOG": lambda f: ["replay", f["log"], "--out", f["log"], "--force"],
    "replay --out CONFIG": lambda f: ["replay", f["log"], "--config", f["cfg"], "-o", f["cfg"], "--force"],
    "replay --checkpoint LOG": lambda f: ["replay", f["log"], "--checkpoint-at", "10", "--checkpoint", f["log"],
                                          "--force"],
    "run --log SCENARIO": lambda f: ["run", "--scenario", f["scen"], "--log", f["scen"], "--force", "--ticks", "2"],
    "run -o CONFIG": lambda f: ["run", "--config", f["cfg"], "-o", f["cfg"], "--force", "--ticks", "2"],
    "backtest -o LOG": lambda f: ["backtest", f["log"], "-o", f["log"], "--force"],
    "shadow -o LOG": lambda f: ["shadow", f["log"], "--candidate", "fixed-spread", "-o", f["log"], "--force"],
    "import -o CAPTURE": lambda f: ["import", "binance", f["capture"], "-o", f["capture"], "--force"],
    "merge -o LOG": lambda f: ["merge", f["log"], "-o", f["log"], "--force"],
    "suite -o SUITE": lambda f: ["suite", f["suite"], "-o", f["suite"], "--force"],
    "telemetry condense -o FILE": lambda f: ["telemetry", "condense", f["tele"], "-o", f["tele"], "--force"],
    "telemetry summarise --json DATASET": lambda f: ["telemetry", "summarise", f["dataset"], "--json", f["dataset"]],
    "telemetry summarise -o DATASET": lambda f: ["telemetry", "summarise", f["dataset"], "-o", f["dataset"],
                                                 "--force"],
    "report -o a study file": lambda f: ["report", f["study"], "-o", f["study"] / "mc_runs.jsonl", "--force"],
    "mc -o SCENARIO": lambda f: ["mc", "--scenario", f["scen"], "-o", f["scen"], "--runs", "1"],
    "rl bc -o SCENARIO": lambda f: ["rl", "bc", "--scenario", f["scen"], "-o", f["scen"], "--force"],
    "rl offline -o LOG": lambda f: ["rl", "offline", f["log"], "-o", f["log"], "--force"],
    "rl train -o SCENARIO": lambda f: ["rl", "train", "--scenario", f["scen"], "-o", f["scen"], "--force"],
    "build-real -o DATA": lambda f: ["build-real", f["cfg"], "--data", f["study"], "-o", f["study"], "--force"],
    "record -o CONFIG": lambda f: ["record", "--venue", "bybit:BTCUSDT", "--config", f["cfg"], "-o", f["cfg"],
                                   "--force"],
}


@pytest.mark.parametrize("case", sorted(SAME_AS_INPUT))
def test_an_output_that_is_an_input_is_refused(files, case, capsys):
    before = {p: (p.read_bytes() if p.is_file() else None) for p in files["log"].parent.rglob("*")}
    code, out, err = run(*SAME_AS_INPUT[case](files), capsys=capsys)
    if "record" in case and "live extra" in err:
        pytest.skip("record needs the live extra (httpx, websockets)")
    assert_one_line_error(code, err)
    assert "input" in err or "is also" in err or "not a directory" in err, err
    after = {p: (p.read_bytes() if p.is_file() else None) for p in files["log"].parent.rglob("*")}
    assert after == before  # nothing written, nothing touched


def test_telemetry_path_that_is_an_input_or_exists(files, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PARAPHINA_TELEMETRY_MODE", "jsonl")
    monkeypatch.setenv("PARAPHINA_TELEMETRY_PATH", str(files["scen"]))
    before = files["scen"].read_bytes()
    code, _, err = run("run", "--scenario", files["scen"], "--ticks", "2", "--force", capsys=capsys)
    assert_one_line_error(code, err, "PARAPHINA_TELEMETRY_PATH", "is also an input")
    assert files["scen"].read_bytes() == before
    old = _existing(tmp_path, "t.jsonl")
    monkeypatch.setenv("PARAPHINA_TELEMETRY_PATH", str(old))
    code, _, err = run("run", "--ticks", "2", capsys=capsys)
    assert_one_line_error(code, err, "PARAPHINA_TELEMETRY_PATH", "already exists", "--force")
    code, _, err = run("run", "--ticks", "2", "--force", capsys=capsys)
    assert code == 0, err
    assert old.read_bytes().startswith(b"{")


def test_an_output_reached_through_a_symlink_is_still_the_input(files, capsys, tmp_path):
    link = tmp_path / "link.actions"
    link.symlink_to(files["log"])
    code, _, err = run("replay", files["log"], "--out", link, "--force", capsys=capsys)
    assert_one_line_error(code, err, "is also an input")


# --- nothing replaced without --force, and the message names the flag -----------------------


def _existing(tmp_path, name="old.out") -> Path:
    p = tmp_path / name
    p.write_bytes(b"precious bytes")
    return p


@pytest.mark.parametrize("argv", [
    lambda f, o: ["replay", f["log"], "--out", o],
    lambda f, o: ["replay", f["log"], "--checkpoint-at", "5", "--checkpoint", o],
    lambda f, o: ["run", "-o", o, "--ticks", "2"],
    lambda f, o: ["backtest", f["log"], "-o", o],
    lambda f, o: ["shadow", f["log"], "--candidate", "fixed-spread", "-o", o],
    lambda f, o: ["sample", "-o", o],
    lambda f, o: ["sample", o],
    lambda f, o: ["merge", f["log"], "-o", o],
    lambda f, o: ["import", "binance", f["capture"], "-o", o],
    lambda f, o: ["telemetry", "condense", f["tele"], "-o", o],
    lambda f, o: ["report", f["study"], "-o", o],
], ids=["replay", "replay-checkpoint", "run", "backtest", "shadow", "sample", "sample-positional", "merge",
        "import", "telemetry-condense", "report"])
def test_an_existing_output_needs_force(files, tmp_path, argv, capsys):
    old = _existing(tmp_path)
    code, _, err = run(*argv(files, old), capsys=capsys)
    assert_one_line_error(code, err, str(old), "already exists", "--force")
    assert old.read_bytes() == b"precious bytes"


def test_summarise_json_needs_force_and_keeps_the_dataset(files, tmp_path, capsys):
    old = _existing(tmp_path, "summary.json")
    code, _, err = run("telemetry", "summarise", files["dataset"], "--json", old, capsys=capsys)
    assert_one_line_error(code, err, "already exists", "--force")
    code, _, err = run("telemetry", "summarise", files["dataset"], "-o", old, "--force", capsys=capsys)
    assert code == 0, err
    assert json.loads(old.read_text())


def test_shadow_refuses_to_replace_the_files_beside_its_log(files, tmp_path, capsys):
    session = tmp_path / "s.arrow"
    side = _existing(tmp_path, "s.arrow.candidate.actions")
    code, _, err = run("shadow", files["log"], "--candidate", "fixed-spread", "-o", session, capsys=capsys)
    assert_one_line_error(code, err, "s.arrow.candidate.actions", "--force")
    assert side.read_bytes() == b"precious bytes" and not session.exists()


def test_record_refuses_to_truncate_an_existing_actions_file(tmp_path, capsys):
    side = _existing(tmp_path, "s.arrow.actions")
    code, _, err = run("record", "--venue", "bybit:BTCUSDT", "-o", tmp_path / "s.arrow", "--policy", "fixed-spread",
                       "--duration", "1s", capsys=capsys)
    if "live extra" in err:
        pytest.skip("record needs the live extra (httpx, websockets)")
    assert_one_line_error(code, err, "s.arrow.actions", "already exists", "--force")
    assert side.read_bytes() == b"precious bytes" and not (tmp_path / "s.arrow").exists()


def test_replay_out_with_force_replaces_atomically(files, tmp_path, capsys):
    old = _existing(tmp_path, "a.actions")
    code, out, err = run("replay", files["log"], "-o", old, "--force", capsys=capsys)
    assert code == 0, err
    assert old.read_bytes() != b"precious bytes" and old.read_bytes().startswith(b"{")
    assert sorted(os.listdir(tmp_path)) == ["a.actions", "in"]  # no partial file left


def test_old_spellings_are_hidden_aliases(files, tmp_path, capsys):
    code, _, err = run("run", "--ticks", "2", "--log", tmp_path / "r.arrow", capsys=capsys)
    assert code == 0, err
    assert (tmp_path / "r.arrow").exists()
    code, _, err = run("run", "--ticks", "2", "--log", tmp_path / "a.arrow", "-o", tmp_path / "b.arrow", capsys=capsys)
    assert_one_line_error(code, err, "--log", "-o/--out")
    code, out, _ = run("run", "--help", capsys=capsys)
    assert "--log" not in out and "-o, --out" in out


# --- kill -9 while writing leaves the previous file intact ------------------------------------

# Runs the real command in a child that stops itself (SIGSTOP) right after its first batch of
# bytes reaches the partial file; the test then kills it with SIGKILL. No timing is involved:
# the kill always lands mid-write, with the partial file holding data and the rename not done.
_STOP_AFTER_FIRST_WRITE = r"""
import os, signal, sys
from paraphina import eventlog, outputs
from paraphina.cli import main

def stop():
    os.kill(os.getpid(), signal.SIGSTOP)

init = eventlog.LogWriter.__init__
def small_batches(self, *a, **kw):
    init(self, *a, **kw)
    self.batch_events = 500  # framing only: the same events, flushed sooner
eventlog.LogWriter.__init__ = small_batches
write_pending = eventlog.LogWriter._write_pending  # every write of batches, by size or by time
def write_then_stop_log(self, mode):
    write_pending(self, mode)
    if outputs.PARTIAL in self.path and self.next_seq > 0:
        stop()
eventlog.LogWriter._write_pending = write_then_stop_log
write = outputs.ReplacingFile.write
def write_then_stop(self, data):
    n = write(self, data)
    self.flush()
    stop()
    return n
outputs.ReplacingFile.write = write_then_stop
main(sys.argv[1:])
"""


def kill_mid_write(args: list[str], cwd: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _STOP_AFTER_FIRST_WRITE, *map(str, args)], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status), f"the writer ended before writing: {proc.stderr.read().decode()}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _partials(d: Path, name: str) -> list[Path]:
    return sorted(d.glob(f"{name}{PARTIAL}*"))


@pytest.mark.parametrize("command", ["run", "sample", "replay"])
def test_kill_9_mid_write_leaves_the_previous_file_intact(command, tmp_path):
    log = write_sample(tmp_path / "in.arrow", n=3000, venues=2)
    out = tmp_path / ("out.actions" if command == "replay" else "out.arrow")
    out.write_bytes(b"the previous file, byte for byte")
    args = {"run": ["run", "--ticks", "400", "-o", out, "--force"],
            "sample": ["sample", "--events", "5000", "-o", out, "--force"],
            "replay": ["replay", log, "--out", out, "--force"]}[command]
    kill_mid_write(args, tmp_path)
    assert out.read_bytes() == b"the previous file, byte for byte"
    partials = _partials(tmp_path, out.name)
    assert len(partials) == 1 and partials[0].stat().st_size > 0  # what the killed writer had written


def test_a_run_killed_mid_write_keeps_its_events_in_the_partial_log(tmp_path):
    from paraphina.eventlog import read_info

    out = tmp_path / "run.arrow"
    kill_mid_write(["run", "--ticks", "400", "-o", out], tmp_path)
    assert not out.exists()
    (partial,) = _partials(tmp_path, out.name)
    info = read_info(partial)
    assert info.events >= 500  # the flushed batches are an intact prefix


# --- one grammar: every command that writes has -o/--out and --force --------------------------

# Commands that write files. Exempt, with the reason: `golden update` rewrites its manifest in
# place by design; `mc` and `mc-merge` fill research directories whose --force (resume versus
# replace) belongs to the research directory rules (docs/research.md).
WRITERS = ["replay", "run", "backtest", "suite", "sample", "import", "merge", "build-real", "record", "shadow",
           "report", "rl bc", "rl offline", "rl eval", "rl train", "telemetry condense", "telemetry summarise",
           "adversarial"]
OUT_ONLY = ["mc", "mc-merge"]


def _commands() -> dict[str, click.Command]:
    _register()
    found = {}

    def walk(group: click.Group, prefix: str) -> None:
        for name, cmd in sorted(group.commands.items()):
            full = f"{prefix}{name}"
            if isinstance(cmd, click.Group):
                walk(cmd, f"{full} ")
            else:
                found[full] = cmd
    walk(cli, "")
    return found


def _visible_options(cmd: click.Command) -> set[str]:
    return {o for p in cmd.params if isinstance(p, click.Option) and not p.hidden for o in p.opts}


def test_every_writing_command_has_out_and_force():
    cmds = _commands()
    for name in WRITERS:
        opts = _visible_options(cmds[name])
        assert {"-o", "--out", "--force"} <= opts, (name, sorted(opts))
    for name in OUT_ONLY:
        assert {"-o", "--out"} <= _visible_options(cmds[name]), name


def test_no_command_shows_an_old_output_spelling():
    old = {"--log", "--output-dir", "--out-dir", "--study-dir"}
    for name, cmd in _commands().items():
        if name == "diff":  # diff --log names an input (the log behind two action files)
            continue
        assert not (_visible_options(cmd) & old), name


def test_help_lists_out_and_force_for_writers(capsys):
    for name in WRITERS:
        code, out, _ = run(*name.split(), "--help", capsys=capsys)
        assert code == 0 and "-o, --out" in out and "--force" in out, name


def _doc_rows() -> list[str]:
    return [line for line in (ROOT / "docs" / "cli.md").read_text().splitlines() if line.startswith("| `")]


def test_docs_cli_lists_every_option_of_every_command():
    import re

    rows = _doc_rows()
    missing = {}
    for name, cmd in _commands().items():
        mine = [r for r in rows if f"`paraphina {name} " in r.split(" | ")[0] or f"`paraphina {name}`" in r.split(" | ")[0]]
        assert mine, f"docs/cli.md has no row for `paraphina {name}`"
        row = " ".join(r.split(" | ")[0] for r in mine)
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden and "--help" not in p.opts:
                if not any(re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", row) for o in p.opts):
                    missing.setdefault(name, []).append(p.opts[-1])
    assert missing == {}


def test_phase_a_takes_out_and_hides_study_dir(capsys):
    from batch_runs.phase_a.__main__ import main as phase_a

    with pytest.raises(SystemExit) as exc:
        phase_a(["--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "-o STUDY_DIR, --out STUDY_DIR" in out and "--study-dir" not in out
    with pytest.raises(SystemExit) as exc:
        phase_a(["--seed", "1", "--evaluate", "paraphina.research.toy:toy_candidate_run"])
    assert exc.value.code == 2 and "-o/--out" in capsys.readouterr().err
