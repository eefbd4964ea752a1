"""Parse a run's stdout summary (RESEARCH_CONTRACTS.md section 1, ``metrics.py``) and aggregate runs.

The two regexes are the contract's, literally, both case-insensitive. They accept the current
summary (``Kill switch: true``) and the older spellings (``Kill switch active: true``,
``Kill switch = false``); the early-stop line ``Kill switch active at tick ...`` has no ``:``
or ``=`` after the words and never matches. The **last** match of each wins.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

PNL_RE = re.compile(
    r"Daily PnL \(realised\s*/\s*unrealised\s*/\s*total\):\s*(?P<realised>[+-]?\d+(?:\.\d+)?)\s*/\s*"
    r"(?P<unrealised>[+-]?\d+(?:\.\d+)?)\s*/\s*(?P<total>[+-]?\d+(?:\.\d+)?)",
    re.IGNORECASE,
)
KILL_RE = re.compile(r"Kill\s*switch(?:\s*active)?\s*[:=]\s*(?P<val>true|false)", re.IGNORECASE)


def parse_daily_summary(stdout: str) -> dict[str, Any]:
    """``{pnl_realised, pnl_unrealised, pnl_total, kill_switch}``; NaN / False when absent."""
    out: dict[str, Any] = {"pnl_realised": math.nan, "pnl_unrealised": math.nan, "pnl_total": math.nan,
                           "kill_switch": False}
    pnl = None
    for pnl in PNL_RE.finditer(stdout):
        pass
    if pnl is not None:
        out["pnl_realised"] = float(pnl.group("realised"))
        out["pnl_unrealised"] = float(pnl.group("unrealised"))
        out["pnl_total"] = float(pnl.group("total"))
    kill = None
    for kill in KILL_RE.finditer(stdout):
        pass
    if kill is not None:
        out["kill_switch"] = kill.group("val").lower() == "true"
    return out


AGG_COLUMNS = ("pnl_realised_mean", "pnl_unrealised_mean", "pnl_total_mean", "pnl_total_std", "kill_switch_frac",
               "num_runs")


def aggregate_basic(runs: Any, group_keys: Sequence[str]) -> Any:
    """Per group: the group keys, ``pnl_realised_mean, pnl_unrealised_mean, pnl_total_mean,
    pnl_total_std`` (sample std, NaN for one run), ``kill_switch_frac``, ``num_runs``.

    ``runs`` is a pandas DataFrame (a DataFrame is returned, like the reference) or an iterable of
    row mappings (a list of dicts is returned). Groups are sorted by their keys; NaN PnL values are
    skipped in means, as pandas does.
    """
    is_frame = hasattr(runs, "to_dict") and hasattr(runs, "columns")
    rows: Iterable[Mapping[str, Any]] = runs.to_dict("records") if is_frame else runs
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(k) for k in group_keys), []).append(row)
    out = []
    for key in sorted(groups, key=lambda t: tuple((x is None, str(type(x)), x if x is not None else 0) for x in t)):
        members = groups[key]
        rec: dict[str, Any] = dict(zip(group_keys, key))
        rec["pnl_realised_mean"] = _mean(members, "pnl_realised")
        rec["pnl_unrealised_mean"] = _mean(members, "pnl_unrealised")
        rec["pnl_total_mean"] = _mean(members, "pnl_total")
        totals = _values(members, "pnl_total")
        rec["pnl_total_std"] = statistics.stdev(totals) if len(totals) > 1 else math.nan
        rec["kill_switch_frac"] = sum(bool(r.get("kill_switch")) for r in members) / len(members)
        rec["num_runs"] = len(members)
        out.append(rec)
    if is_frame:
        import pandas as pd

        return pd.DataFrame(out, columns=[*group_keys, *AGG_COLUMNS])
    return out


def _values(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    vals = []
    for r in rows:
        x = r.get(key)
        if x is not None and not (isinstance(x, float) and math.isnan(x)):
            vals.append(float(x))
    return vals


def _mean(rows: Sequence[Mapping[str, Any]], key: str) -> float:
    vals = _values(rows, key)
    return statistics.fmean(vals) if vals else math.nan
