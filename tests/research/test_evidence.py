"""Evidence packs: write, verify, tamper (modified, extra, missing), CLI exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from paraphina.cli import _register, cli
from paraphina.research.evidence import EvidenceError, verify_evidence, write_evidence_pack


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "study"
    (root / "trials" / "a").mkdir(parents=True)
    (root / "summary.json").write_text('{"x": 1}\n')
    (root / "trials" / "a" / "runs.jsonl").write_text("1\n2\n")
    (root / ".hidden").write_text("ignored")
    write_evidence_pack(root / "trials" / "a", {"seeds": [1]})
    write_evidence_pack(root, {"config_hash": "abc", "seeds": {"base": 7}, "commands": ["paraphina mc"], "note": "n"})
    return root


def test_pack_contents(tree):
    sums = (tree / "evidence_pack" / "SHA256SUMS").read_text().splitlines()
    paths = [line.split("  ", 1)[1] for line in sums]
    assert paths == sorted(paths)
    assert "evidence_pack/manifest.json" in paths and "summary.json" in paths
    assert "trials/a/evidence_pack/SHA256SUMS" in paths  # nested packs are sealed too
    assert ".hidden" not in paths
    m = json.loads((tree / "evidence_pack" / "manifest.json").read_text())
    assert m["config_hash"] == "abc" and m["seeds"] == {"base": 7} and m["commands"] == ["paraphina mc"]
    assert m["extra"] == {"note": "n"}
    assert set(m["versions"]) == {"paraphina", "python", "numpy", "pyarrow"}
    assert [f["path"] for f in m["files"]] == [p for p in paths if p != "evidence_pack/manifest.json"]


def test_pack_is_deterministic(tree):
    before = (tree / "evidence_pack" / "SHA256SUMS").read_bytes()
    write_evidence_pack(tree, {"config_hash": "abc", "seeds": {"base": 7}, "commands": ["paraphina mc"], "note": "n"})
    assert (tree / "evidence_pack" / "SHA256SUMS").read_bytes() == before


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="sha256sum not installed")
def test_sha256sum_compatible(tree):
    r = subprocess.run(["sha256sum", "-c", "--quiet", "evidence_pack/SHA256SUMS"], cwd=tree, capture_output=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_verify_ok(tree):
    rep = verify_evidence(tree)
    assert (rep.code, rep.problems) == (0, ())
    rep = verify_evidence(tree, recursive=True)
    assert rep.code == 0 and len(rep.packs) == 2


def test_modified_file_is_3_and_named(tree):
    (tree / "trials" / "a" / "runs.jsonl").write_text("1\n3\n")
    rep = verify_evidence(tree)
    assert rep.code == 3
    assert any("modified" in p and "runs.jsonl" in p for p in rep.problems)


def test_extra_file_is_3(tree):
    (tree / "trials" / "new.csv").write_text("x")
    rep = verify_evidence(tree)
    assert rep.code == 3 and any("unexpected file" in p and "new.csv" in p for p in rep.problems)


def test_extra_file_inside_pack_dir_is_3(tree):
    (tree / "evidence_pack" / "notes.txt").write_text("x")
    assert verify_evidence(tree).code == 3


def test_missing_file_is_3(tree):
    (tree / "summary.json").unlink()
    rep = verify_evidence(tree)
    assert rep.code == 3 and any("missing" in p and "summary.json" in p for p in rep.problems)


def test_tampered_sums_and_manifest_are_3(tree):
    sums = tree / "evidence_pack" / "SHA256SUMS"
    sums.write_text(sums.read_text() + "zz  bogus\n")
    assert verify_evidence(tree).code == 3
    write_evidence_pack(tree)
    man = tree / "evidence_pack" / "manifest.json"
    man.write_text(man.read_text().replace('"seeds": null', '"seeds": 1'))
    rep = verify_evidence(tree)
    assert rep.code == 3 and any("manifest.json" in p for p in rep.problems)


def test_recursive_finds_nested_tamper(tree):
    nested = tree / "trials" / "a"
    # Re-seal the root after tampering inside a nested pack: only --recursive notices.
    (nested / "runs.jsonl").write_text("tampered\n")
    write_evidence_pack(tree)
    assert verify_evidence(tree).code == 0
    rep = verify_evidence(tree, recursive=True)
    assert rep.code == 3 and any("runs.jsonl" in p for p in rep.problems)


def test_errors_are_2(tmp_path):
    assert verify_evidence(tmp_path / "nope").code == 2
    assert verify_evidence(tmp_path).code == 2  # no pack
    assert verify_evidence(tmp_path, recursive=True).code == 2


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlink_refused(tmp_path):
    (tmp_path / "a").write_text("x")
    os.symlink(tmp_path / "a", tmp_path / "b")
    with pytest.raises(EvidenceError, match="symbolic link"):
        write_evidence_pack(tmp_path)


def test_cli_exit_codes(tree, tmp_path):
    _register()
    runner = CliRunner()
    r = runner.invoke(cli, ["verify-evidence", str(tree), "--recursive"])
    assert r.exit_code == 0 and "2 evidence packs verified" in r.output
    (tree / "summary.json").write_text("changed")
    r = runner.invoke(cli, ["verify-evidence", str(tree)])
    assert r.exit_code == 3 and "summary.json" in r.output
    r = runner.invoke(cli, ["verify-evidence", str(tmp_path / "empty_dir_missing")])
    assert r.exit_code == 2
