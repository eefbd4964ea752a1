"""Structured logs (structlog) for the command line: key=value lines on stderr.

Inside replay, log records carry *event* time (``event_time``, from the log), never wall time, so
the same replay prints the same log lines.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone


def get_logger(name: str = "paraphina"):
    # Imported here, not at the top: structlog (and the asyncio it loads) costs about 25 ms of
    # every command's start-up, and most runs never log.
    import structlog

    if not structlog.is_configured():
        structlog.configure(
            processors=[structlog.processors.add_log_level, structlog.dev.ConsoleRenderer(colors=False)],
            logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
            cache_logger_on_first_use=True,
        )
    return structlog.get_logger(name)


def event_time(ts_ns: int) -> str:
    """ISO-8601 UTC of an event timestamp (ns since the epoch)."""
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{ts_ns % 1_000_000_000 // 1_000_000:03d}Z"
