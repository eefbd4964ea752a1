"""Run a command beside CPU-bound processes (a busy CI box), e.g. the live tests:

    python benchmarks/under_load.py --burners 2 -- python -m pytest tests/live

The burners are this script's own children and are terminated when the command ends; the exit
status is the command's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--burners", type=int, default=2, help="CPU-bound processes beside the command (default 2)")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = ap.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("give the command after --")
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.burners)]
    try:
        return subprocess.call(command)
    finally:
        for b in burners:
            b.terminate()
        for b in burners:
            b.wait()


if __name__ == "__main__":
    sys.exit(main())
