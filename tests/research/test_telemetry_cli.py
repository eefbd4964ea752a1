"""`paraphina telemetry condense | summarise | check`: the dataset, its summary, the Telemetry v1 check."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from paraphina.cli import main
from paraphina.research.dataset_summary import summarise
from paraphina.research.telemetry_contract import check_telemetry_v1
from paraphina.research.telemetry_dataset import condense, file_label, path_labels, read_dataset
from paraphina.research.ts_metrics import METRICS, compute_ts_metrics, load_telemetry_jsonl

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, capsys) -> tuple[int, str, str]:
    """``paraphina ARGS`` in-process through the real entry point (exit codes, one-line errors)."""
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def good_record(t: int, pnl: float = 0.0, **over) -> dict:
    rec = {"schema_version": 1, "t": t, "pnl_realised": pnl, "pnl_unrealised": 0.0, "pnl_total": pnl,
           "risk_regime": "Normal", "kill_switch": False, "kill_reason": None, "q_global_tao": 0.0,
           "dollar_delta_usd": 0.0, "basis_usd": 0.0, "fv_available": True, "fair_value": 100.0, "sigma_eff": None,
           "healthy_venues_used_count": 2, "healthy_venues_used": [0, 1]}
    rec.update(over)
    return rec


def write_jsonl(path: Path, recs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in recs))
    return path


# --- check -----------------------------------------------------------------------------------------

def test_check_accepts_a_valid_file(tmp_path, capsys):
    p = write_jsonl(tmp_path / "telemetry.jsonl", [good_record(1), good_record(2, kill_switch=True,
                                                                             kill_reason="PnlHardBreach")])
    code, out, err = cli("telemetry", "check", p, capsys=capsys)
    assert (code, err) == (0, "") and out == f"ok: {p}: 2 records, Telemetry v1\n"


def test_check_names_line_and_field_and_exits_1(tmp_path, capsys):
    p = write_jsonl(tmp_path / "t.jsonl", [
        good_record(1),
        good_record(2, risk_regime="Calm"),
        good_record(2),  # t not increasing
        good_record(4, kill_switch=1, pnl_total="3"),
        {k: v for k, v in good_record(5).items() if k != "basis_usd"},
        good_record(6, schema_version=2, healthy_venues_used=[0, "1"]),
        good_record(7.0, fair_value=None),  # null fair value and integral float t are fine
    ])
    code, out, err = cli("telemetry", "check", p, capsys=capsys)
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[:-1] == [
        f"{p}:2: risk_regime: 'Calm' is not one of Normal, Warning, HardLimit",
        f"{p}:3: t: not strictly increasing (2 after 2)",
        f"{p}:4: pnl_total: expected a number, got string",
        f"{p}:4: kill_switch: expected a boolean, got number",
        f"{p}:5: basis_usd: missing required field",
        f"{p}:6: healthy_venues_used: expected an array of integers, got array",
        f"{p}:6: schema_version: expected 1, got 2",
    ]
    assert lines[-1] == f"FAILED: {p}: 7 violation(s) in 7 record(s)"


def test_check_line_level_violations(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(good_record(1)).encode() + b"\r\n" + b"{oops\n"
                  + json.dumps(good_record(3, basis_usd=float("inf"))).encode() + b"\n" + b'{"t": 4')
    got = [(v.line, v.field, v.message.split(" (")[0]) for v in check_telemetry_v1(p).violations]
    assert got[:4] == [(1, None, "starts with a UTF-8 byte-order mark"), (1, None, "CRLF line end"),
                       (2, None, "not JSON"), (3, "basis_usd", "non-finite number")]
    assert got[-1] == (4, None, "last line has no LF line end")


def test_check_empty_file_is_a_violation_missing_file_is_exit_2(tmp_path, capsys):
    (tmp_path / "empty.jsonl").write_text("")
    code, _, err = cli("telemetry", "check", tmp_path / "empty.jsonl", capsys=capsys)
    assert code == 1 and "empty.jsonl: no records (empty file)" in err
    code, out, err = cli("telemetry", "check", tmp_path / "missing.jsonl", capsys=capsys)
    assert code == 2 and out == ""
    assert err == f"paraphina: error: {tmp_path / 'missing.jsonl'}: cannot read (No such file or directory)\n"
    code, _, err = cli("telemetry", "check", capsys=capsys)
    assert code == 2 and "Missing argument" in err and "Traceback" not in err


# --- condense --------------------------------------------------------------------------------------

def test_condense_rows_sorted_columns_fixed_and_path_labels(tmp_path, capsys):
    b = write_jsonl(tmp_path / "profile=b" / "seed=2" / "telemetry.jsonl", [good_record(1, 1.0), good_record(2, -1.0)])
    a = write_jsonl(tmp_path / "profile=a" / "seed=1" / "telemetry.jsonl", [good_record(1, 2.0)])
    out = tmp_path / "ds.csv"
    code, stdout, _ = cli("telemetry", "condense", b, a, "-o", out, "--label-from-path", capsys=capsys)
    assert code == 0 and stdout == f"Wrote: {out} (2 runs, {2 + 2 + 1 + len(METRICS)} columns)\n"
    ds = read_dataset(out)
    assert ds.columns == ("file", "label", "profile", "seed", "schema_version", *METRICS)
    assert ds.column("file") == [a.as_posix(), b.as_posix()]  # sorted whatever the argument order
    assert ds.column("label") == ["seed=1", "seed=2"] and ds.column("profile") == ["a", "b"]
    row = dict(zip(ds.columns, ds.rows[1]))
    assert (row["pnl_total_end"], row["max_drawdown"], row["max_drawdown_time"], row["time_to_kill"],
            row["kill_switch"], row["num_ticks"]) == ("-1.0", "2.0", "2", "", "false", "2")
    # without the flag: no label columns
    assert condense([a, b]).columns == ("file", "label", "schema_version", *METRICS)


def test_labels_from_file_names():
    assert file_label("runs/x/telemetry.jsonl") == "x" and file_label("runs/x/seed3.jsonl") == "seed3"
    assert path_labels("r/profile=a/init_q=-20/seed=3.jsonl") == {"profile": "a", "init_q": "-20", "seed": "3"}


@pytest.mark.parametrize("content, message", [
    ('{"pnl_total": 1}\nnot json\n', r"bad\.jsonl:2: not JSON"),
    ('{"t": 1}\n', r"bad\.jsonl:1: missing pnl_total"),
    ('{"pnl_total": "abc"}\n', r"bad\.jsonl:1: pnl_total: expected a number, got string"),
    ("", r"bad\.jsonl: no telemetry records \(empty file\)"),
])
def test_condense_bad_input_is_one_line_exit_2(tmp_path, capsys, content, message):
    (tmp_path / "bad.jsonl").write_text(content)
    good = write_jsonl(tmp_path / "good.jsonl", [good_record(1)])
    code, out, err = cli("telemetry", "condense", good, tmp_path / "bad.jsonl", "-o", tmp_path / "ds.csv",
                         capsys=capsys)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and "Traceback" not in err
    assert re.search(message, err), err
    assert not (tmp_path / "ds.csv").exists()


def test_condense_refuses_missing_duplicate_and_clashing(tmp_path, capsys):
    good = write_jsonl(tmp_path / "good.jsonl", [good_record(1)])
    code, _, err = cli("telemetry", "condense", tmp_path / "nope.jsonl", "-o", tmp_path / "o.csv", capsys=capsys)
    assert code == 2 and "nope.jsonl: cannot read (No such file or directory)" in err
    code, _, err = cli("telemetry", "condense", good, good, "-o", tmp_path / "o.csv", capsys=capsys)
    assert code == 2 and "given twice" in err
    clash = write_jsonl(tmp_path / "num_ticks=3" / "x.jsonl", [good_record(1)])
    code, _, err = cli("telemetry", "condense", clash, "-o", tmp_path / "o.csv", "--label-from-path", capsys=capsys)
    assert code == 2 and "'num_ticks' clashes" in err


# --- summarise -------------------------------------------------------------------------------------

def test_summary_statistics_by_hand(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    csv.write_text("file,label,schema_version,profile,x,killed,note,y\n"
                   "a,a,1,p,1,true,hi,\n" "b,b,1,p,2,false,,\n" "c,c,1,p,3,false,,\n" "d,d,1,p,4,true,,\n"
                   "e,e,1,q,10,false,,5\n")
    s = summarise(read_dataset(csv))
    assert s.columns == ("x", "killed", "y")  # profile and note are text; identity columns never
    st = s.groups[0].stats
    assert s.groups[0].runs == 5 and st["y"]["count"] == 1 and st["y"]["std"] == 0.0
    g = summarise(read_dataset(csv), ["profile"])
    p = g.groups[0].stats["x"]
    assert g.groups[0].key == ("p",) and g.groups[0].runs == 4
    # 1,2,3,4: mean 2.5, sample std sqrt(5/3), p05 at h=0.15 -> 1.15, p50 2.5, p95 at h=2.85 -> 3.85
    assert p == pytest.approx({"count": 4, "mean": 2.5, "std": (5 / 3) ** 0.5, "min": 1.0, "p05": 1.15, "p50": 2.5,
                               "p95": 3.85, "max": 4.0})
    assert g.groups[0].stats["killed"]["mean"] == 0.5  # a boolean's mean is its rate
    q = g.groups[1].stats
    assert q["x"]["mean"] == 10.0 and q["killed"]["count"] == 1 and q["y"]["count"] == 1
    assert g.groups[0].stats["y"]["count"] == 0  # no value in the group: count 0, the rest NaN

    code, out, _ = cli("telemetry", "summarise", csv, "--group-by", "profile", "--json", tmp_path / "s.json",
                       "--csv", tmp_path / "s.csv", capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["profile", "runs", "column", "count", "mean", "std", "min", "p05", "p50", "p95", "max"]
    assert lines[1].split() == ["p", "4", "x", "4", "2.5", "1.29099", "1", "1.15", "2.5", "3.85", "4"]
    assert lines[3].split() == ["p", "4", "y", "0", "-", "-", "-", "-", "-", "-", "-"]
    assert len({len(x) for x in lines[:6]}) <= 2  # aligned (rstrip may shorten rows ending in '-')
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["group_by"] == ["profile"] and doc["groups"][0]["key"] == {"profile": "p"}
    assert doc["groups"][0]["stats"]["y"]["mean"] is None and doc["groups"][1]["stats"]["x"]["p50"] == 10.0
    row = (tmp_path / "s.csv").read_text().splitlines()[1].split(",")
    assert row[:4] == ["p", "4", "x", "4"] and [float(v) for v in row[4:]] == pytest.approx([2.5, 1.2909944, 1, 1.15,
                                                                                             2.5, 3.85, 4])


def test_numeric_groups_sort_by_value(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("init_q,v\n20,1\n-40,2\n0,3\n-20,4\n,5\n")
    assert [g.key for g in summarise(read_dataset(csv), ["init_q"]).groups] == [("",), ("-40",), ("-20",), ("0",),
                                                                                ("20",)]


def test_summarise_errors_exit_2(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b\n1,2\n")
    code, _, err = cli("telemetry", "summarise", csv, "--group-by", "zzz", capsys=capsys)
    assert code == 2 and err.startswith("paraphina: error: --group-by zzz: no such column")
    (tmp_path / "h.csv").write_text("a,b\n")
    code, _, err = cli("telemetry", "summarise", tmp_path / "h.csv", capsys=capsys)
    assert code == 2 and "no rows" in err
    (tmp_path / "r.csv").write_text("a,b\n1,2,3\n")
    code, _, err = cli("telemetry", "summarise", tmp_path / "r.csv", capsys=capsys)
    assert code == 2 and "r.csv:2: 3 cells, the header has 2" in err
    code, _, err = cli("telemetry", "summarise", tmp_path / "missing.csv", capsys=capsys)
    assert code == 2 and "missing.csv: cannot read" in err and len(err.splitlines()) == 1


# --- end to end --------------------------------------------------------------------------------------

def run_paraphina(*args: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    full = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "paraphina", *map(str, args)], capture_output=True, text=True,
                          env=full, cwd=cwd, timeout=300)


def test_two_simulated_runs_condense_and_summarise_deterministically(tmp_path):
    files = []
    for seed in (1, 2):
        tel = tmp_path / "runs" / f"seed={seed}" / "telemetry.jsonl"
        tel.parent.mkdir(parents=True)
        r = run_paraphina("run", "--scenario", "scenarios/synth_baseline.yaml", "--ticks", "60", "--seed", seed,
                          env={"PARAPHINA_TELEMETRY_MODE": "jsonl", "PARAPHINA_TELEMETRY_PATH": str(tel)})
        assert r.returncode == 0, r.stderr
        files.append(tel.relative_to(tmp_path))
    r = run_paraphina("telemetry", "check", *files, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("Telemetry v1") == 2

    outputs = []
    for i, hashseed in enumerate(("0", "12345")):  # two separate processes, different hash seeds
        (tmp_path / f"out{i}").mkdir()
        env = {"PYTHONHASHSEED": hashseed}
        condensed = run_paraphina("telemetry", "condense", *reversed(files), "-o", f"out{i}/ds.csv",
                                  "--label-from-path", env=env, cwd=tmp_path)
        assert condensed.returncode == 0, condensed.stderr
        summarised = run_paraphina("telemetry", "summarise", f"out{i}/ds.csv", "--group-by", "seed",
                                   "--json", f"out{i}/s.json", "--csv", f"out{i}/s.csv", env=env, cwd=tmp_path)
        assert summarised.returncode == 0, summarised.stderr
        table = summarised.stdout.replace(f"out{i}/", "")  # the "Wrote: out<i>/..." lines
        outputs.append([table] + [(tmp_path / f"out{i}" / n).read_bytes() for n in ("ds.csv", "s.json", "s.csv")])
    assert outputs[0] == outputs[1]  # table, dataset, JSON and CSV summaries: same bytes

    ds = read_dataset(tmp_path / "out0" / "ds.csv")
    assert ds.column("seed") == ["1", "2"] and ds.column("label") == ["seed=1", "seed=2"]
    for f, row in zip(files, ds.rows):
        got = dict(zip(ds.columns, row))
        want = compute_ts_metrics(load_telemetry_jsonl(tmp_path / f))
        assert int(got["num_ticks"]) == want["num_ticks"] == len((tmp_path / f).read_text().splitlines())
        assert float(got["pnl_total_end"]) == want["pnl_total_end"]  # repr round-trips exactly
        assert float(got["max_drawdown"]) == want["max_drawdown"]
        assert got["healthy_venues_used_min"] == str(want["healthy_venues_used_min"])
    summary = json.loads((tmp_path / "out0" / "s.json").read_bytes())
    assert [g["key"] for g in summary["groups"]] == [{"seed": "1"}, {"seed": "2"}]
    assert all(g["runs"] == 1 and g["stats"]["num_ticks"]["count"] == 1 for g in summary["groups"])
    assert "seed" not in summary["columns"] and "pnl_total_end" in summary["columns"]


def test_a_killed_run_has_its_kill_tick_in_the_telemetry(tmp_path):
    tel = tmp_path / "killed.jsonl"
    # synth_jump starts 0.8 BTC long and hedges at once: its taker fees break a 1 USD loss limit.
    r = run_paraphina("run", "--ticks", "200", "--scenario", str(ROOT / "scenarios" / "synth_jump.yaml"), env={"PARAPHINA_TELEMETRY_MODE": "jsonl", "PARAPHINA_TELEMETRY_PATH": str(tel),
                                                    "PARAPHINA_DAILY_LOSS_LIMIT": "1"})
    assert r.returncode == 0, r.stderr
    kill_tick = int(re.search(r"Kill switch active at tick (\d+)", r.stdout).group(1))
    m = compute_ts_metrics(load_telemetry_jsonl(tel))
    assert m["time_to_kill"] == kill_tick == m["num_ticks"]
    last = json.loads(tel.read_text().splitlines()[-1])
    assert last["kill_switch"] is True and last["risk_regime"] == "HardLimit" and last["kill_reason"] == "PnlHardBreach"
