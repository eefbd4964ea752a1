"""The pure core imports no I/O, clock or randomness, and nothing from the I/O side (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "paraphina"
CORE = ["events", "actions", "columns", "state", "engine", "book", "shield", "hookspecs", "intents",
        "context", "mutators", "orders", "config", "host", "diagnosis", "tick_inputs"]
CORE_PACKAGES = ["strategy"]
FORBIDDEN_STDLIB = {"os", "io", "sys", "pathlib", "socket", "time", "datetime", "random", "subprocess",
                    "threading", "asyncio", "logging", "shutil", "tempfile", "glob", "importlib.metadata",
                    "urllib", "http", "secrets", "uuid"}
FORBIDDEN_THIRD_PARTY = {"pyarrow", "structlog", "click", "ray", "onnxruntime", "websockets", "httpx", "matplotlib"}
FORBIDDEN_PARAPHINA = {"cli", "commands", "live", "eventlog", "ipcframes", "export", "sim", "importers", "shadow", "replay", "golden",
                       "policies", "samplegen", "testing", "diff", "telemetry", "research", "rl", "human"}


def core_files() -> list[Path]:
    files = [PKG / f"{m}.py" for m in CORE]
    for pkg in CORE_PACKAGES:
        if (PKG / pkg).is_dir():
            files += sorted((PKG / pkg).rglob("*.py"))
    return [f for f in files if f.exists()]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def violations(path: Path) -> list[str]:
    bad = []
    for mod in imported_modules(path):
        top = mod.split(".")[0]
        if mod in FORBIDDEN_STDLIB or top in FORBIDDEN_STDLIB or top in FORBIDDEN_THIRD_PARTY:
            bad.append(mod)
        parts = mod.split(".")
        if parts[0] == "paraphina" and len(parts) > 1 and parts[1] in FORBIDDEN_PARAPHINA:
            bad.append(mod)
    return sorted(bad)


def test_core_modules_exist():
    assert len(core_files()) >= len(CORE)


def test_pure_core_imports_no_io():
    problems = {str(f.relative_to(PKG)): violations(f) for f in core_files()}
    assert {k: v for k, v in problems.items() if v} == {}


def test_the_checker_catches_a_forbidden_import(tmp_path):
    f = tmp_path / "bad.py"
    f.write_text("import time\nfrom paraphina.eventlog import LogWriter\nfrom os import path\n")
    assert violations(f) == ["os", "os.path", "paraphina.eventlog", "paraphina.eventlog.LogWriter", "time"]


def private_imports(path: Path, package: str) -> list[str]:
    """``from paraphina.X import _name`` where ``paraphina.X`` is outside ``package`` (the
    importing module's own package): another package's private name, which should be promoted."""
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("paraphina"):
            owner = node.module.rsplit(".", 1)[0] if "." in node.module else node.module
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__") and owner != package:
                    bad.append(f"{node.module}.{a.name}")
    return bad


def test_no_module_imports_another_packages_private_names():
    problems = {}
    for f in sorted(PKG.rglob("*.py")):
        parts = f.relative_to(PKG.parent).with_suffix("").parts
        package = ".".join(parts if f.name == "__init__.py" else parts[:-1])
        if found := private_imports(f, package):
            problems[str(f.relative_to(PKG))] = found
    assert problems == {}


def test_the_private_name_checker_catches_one(tmp_path):
    f = tmp_path / "bad.py"
    f.write_text("from paraphina.sim.runner import _helper, loop\nfrom paraphina.rl import env as _env\n")
    assert private_imports(f, "paraphina.rl") == ["paraphina.sim.runner._helper"]
    assert private_imports(f, "paraphina.sim") == []
