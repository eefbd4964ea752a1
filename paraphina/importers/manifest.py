"""Build logs from real captures as described by a manifest (``event_logs/real_manifest.toml``).

Built logs are never committed; the manifest pins what goes in (files and their sha256, the
import options, the merge's timer grid) so anyone with ``../shared/data/real`` rebuilds the same
bytes. Each ``[[log]]`` has ``name``, ``out``, optional ``timer_ms`` and ``[[log.input]]``
entries (``source``, ``out``, ``files``, ``sha256``, and the import options ``venue``,
``instrument``, ``tick_size``, ``lot_size``, ``contract_size_to_base``).
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path

from paraphina.importers import run_import
from paraphina.importers.common import BadInput, ImportOptions
from paraphina.importers.merge import merge_logs
from paraphina.digest import sha256_file

_OPTION_KEYS = ("venue", "instrument", "tick_size", "lot_size", "contract_size_to_base")


def default_data_dir(manifest: Path) -> Path:
    """``$PARAPHINA_DATA_DIR``, else ``<repo>/../shared/data/real`` for a manifest in ``<repo>/event_logs/``."""
    if os.environ.get("PARAPHINA_DATA_DIR"):
        return Path(os.environ["PARAPHINA_DATA_DIR"])
    return manifest.resolve().parent.parent.parent / "shared" / "data" / "real"




def load_manifest(path: Path) -> list[dict]:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: not a valid TOML manifest ({exc})") from None
    logs = doc.get("log")
    if not isinstance(logs, list) or not logs:
        raise BadInput(f"{path}: no [[log]] entries")
    for i, log in enumerate(logs):
        for key in ("name", "out", "input"):
            if key not in log:
                raise BadInput(f"{path}: log {i}: missing '{key}'")
        for j, inp in enumerate(log["input"]):
            for key in ("source", "out", "files", "sha256"):
                if key not in inp:
                    raise BadInput(f"{path}: log {log['name']} input {j}: missing '{key}'")
            if len(inp["files"]) != len(inp["sha256"]):
                raise BadInput(f"{path}: log {log['name']} input {j}: 'files' and 'sha256' differ in length")
    return logs


def build(manifest: Path, data_dir: Path | None, out_dir: Path, names: list[str] | None = None,
          force: bool = False, echo=print) -> list[Path]:
    """Check, import and merge every selected log; returns the paths of the built logs."""
    logs = load_manifest(manifest)
    data_dir = data_dir or default_data_dir(manifest)
    if not data_dir.is_dir():
        raise BadInput(f"{data_dir}: data directory not found (pass --data)")
    selected = [l for l in logs if not names or l["name"] in names]
    missing = sorted(set(names or []) - {l["name"] for l in logs})
    if missing:
        raise BadInput(f"{manifest}: no log named {', '.join(missing)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    built = []
    for log in selected:
        outputs = [out_dir / inp["out"] for inp in log["input"]] + [out_dir / log["out"]]
        if not force:
            for path in outputs:
                if path.exists():
                    raise BadInput(f"{path}: already exists (use --force to replace it)")
        # Built aside and renamed into place: a concurrent build of the same log (two test
        # workers, two golden checks) writes the same bytes and never sees a half-written part.
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".building-") as tmp:
            parts = []
            for inp in log["input"]:
                files = [data_dir / f for f in inp["files"]]
                for f, want in zip(files, inp["sha256"]):
                    if not f.exists():
                        raise BadInput(f"{f}: no such file (listed in {manifest})")
                    got = sha256_file(f)
                    if got != want:
                        raise BadInput(f"{f}: sha256 {got} differs from the manifest's {want}")
                part = Path(tmp) / inp["out"]
                opts = ImportOptions(**{k: inp[k] for k in _OPTION_KEYS if k in inp})
                summary = run_import(inp["source"], [str(f) for f in files], str(part), opts)
                echo(f"imported {inp['out']}: " + " | ".join(summary.lines()[2:4]))
                parts.append(str(part))
            merged = Path(tmp) / log["out"]
            lines = merge_logs(parts, str(merged), timer_ms=int(log.get("timer_ms", 0)))
            for made, path in zip([*map(Path, parts), merged], outputs):
                os.replace(made, path)
        out = out_dir / log["out"]
        echo(f"built {out}: {lines[0]}")
        built.append(out)
    return built
