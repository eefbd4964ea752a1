"""The golden manifest: every pinned replay still matches; a behaviour change is caught and shown."""

from __future__ import annotations

import shutil
import tomllib

import tomli_w

from conftest import ROOT, run_cli

MANIFEST = ROOT / "event_logs" / "manifest.toml"


def test_golden_check_passes():
    r = run_cli("golden", "check", str(MANIFEST))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "of 3 golden entries match" in r.stdout or "golden entries match" in r.stdout


def test_a_behaviour_change_is_caught_with_its_first_divergence(tmp_path):
    work = tmp_path / "event_logs"
    shutil.copytree(ROOT / "event_logs", work)
    # Only the committed sample entries: the real-data ones build from ../shared, not from a copy.
    manifest = tomllib.loads((work / "manifest.toml").read_text())
    manifest["golden"] = [e for e in manifest["golden"] if not e.get("optional")]
    (work / "manifest.toml").write_text(tomli_w.dumps(manifest))
    (work / "configs" / "wide.toml").write_text("[fixed_spread]\nhalf_spread_ticks = 13\nsize = 0.5\nskew_ticks_per_unit = 4.0\n")
    r = run_cli("golden", "check", str(work / "manifest.toml"))
    assert r.returncode == 1
    assert "differ   demo_5venue.fixed-spread.wide" in r.stdout
    assert "first divergence at action #0" in r.stdout and "cause:" in r.stdout
    u = run_cli("golden", "update", str(work / "manifest.toml"))
    assert u.returncode == 0 and "moved    demo_5venue.fixed-spread.wide" in u.stdout and "1 entries re-pinned" in u.stdout
    assert run_cli("golden", "check", str(work / "manifest.toml")).returncode == 0


def test_a_missing_golden_log_is_an_error(tmp_path):
    m = tmp_path / "manifest.toml"
    m.write_text('[[golden]]\nname = "x"\nlog = "nope.arrow"\npolicy = "fixed-spread"\nactions_file = "x.actions"\n')
    r = run_cli("golden", "check", str(m))
    assert r.returncode == 2 and "golden log missing" in r.stderr
