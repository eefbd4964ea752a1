"""`paraphina record --policy P` writes the same telemetry as `run` (PARAPHINA_TELEMETRY_MODE=jsonl),
and replaying the session writes the same bytes."""

from __future__ import annotations

import json

import pytest

from paraphina.live.capture_server import ServerThread
from paraphina.live.feeds import instrument_for

from conftest import run_cli
from livetools import SPOT, USDM, capture

SPEED = 40.0


@pytest.fixture(scope="module")
def feeds(real_data_dir):
    return [(capture(str(real_data_dir), USDM, 3000), USDM[2]), (capture(str(real_data_dir), SPOT, 2000), SPOT[2])]


def test_record_telemetry_and_report_replay_byte_for_byte(feeds, tmp_path):
    out = tmp_path / "s.arrow"
    tel = {"PARAPHINA_TELEMETRY_MODE": "jsonl", "PARAPHINA_TELEMETRY_PATH": str(tmp_path / "rec.jsonl")}
    with ServerThread(feeds[0][0], instrument_for(USDM[2]), speed=SPEED) as usdm, \
            ServerThread(feeds[1][0], instrument_for(SPOT[2]), speed=SPEED) as spot:
        p = run_cli("record", "--venue", "binance-usdm:BTCUSDT", "--venue", "binance-spot:BTCUSDT", "-o", str(out),
                    "--endpoint", f"binance-usdm={usdm.url}", "--endpoint", f"binance-spot={spot.url}",
                    "--config", "btc", "--status", "off", "--backoff", "0.05s", "--duration", "3s",
                    "--policy", "heuristic", env=tel)
    assert p.returncode == 0, p.stderr[-3000:]
    recs = [json.loads(line) for line in (tmp_path / "rec.jsonl").read_text().splitlines()]
    assert recs and recs[0]["schema_version"] == 1 and "fair_value" in recs[0]
    r = run_cli("replay", str(out), env={**tel, "PARAPHINA_TELEMETRY_PATH": str(tmp_path / "replay.jsonl")})
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "replay.jsonl").read_bytes() == (tmp_path / "rec.jsonl").read_bytes()
    # and the session's report replays it, finds SESSION.arrow.actions and says it matches
    r = run_cli("report", str(out))
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "s.report.html").read_text()
    assert "Recorded session of s.arrow | policy heuristic" in page
    assert "s.arrow.actions: matches the replay" in page
