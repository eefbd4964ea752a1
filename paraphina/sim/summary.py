"""The research stdout contract (RESEARCH_CONTRACTS.md section 7) for ``paraphina run``.

::

    paraphina | cfg=<version> | cfg_hash=0x<16hex> | profile=<Balanced> | ticks=<n> | seed=<n|none>
    events: <N>
    actions: <M>
    action_stream_sha256: <hex>

    === Daily Summary ===
    Daily PnL (realised / unrealised / total): +r / +u / +t
    Kill switch: true|false
    Kill reason: <reason>            (only when killed)
    Risk regime: Normal|Warning|HardLimit

``batch_runs/metrics.py`` parses the PnL and kill-switch lines with the contract's regexes.
When a run stopped at the kill switch, the contract's early-stop line (no ``:`` after
"Kill switch", so the kill regex never matches it) precedes the summary block.
"""

from __future__ import annotations

from collections.abc import Mapping


def signed(x: float) -> str:
    """Two decimals with an explicit ``+`` when >= 0; a value that rounds to zero prints ``+0.00``."""
    x = 0.0 if abs(x) < 0.005 else x
    return f"+{x:.2f}" if x >= 0 else f"{x:.2f}"


def header_line(cfg_version: str, cfg_hash: str, profile: str, ticks: int, seed: int | None) -> str:
    """``cfg_hash`` is the config's SHA-256 hex; the header shows its first 16 digits."""
    h = cfg_hash.lower().removeprefix("0x")[:16]
    return (f"paraphina | cfg={cfg_version} | cfg_hash=0x{h} | profile={profile.capitalize()} | ticks={ticks} | "
            f"seed={'none' if seed is None else seed}")


def summary_block(summary: Mapping) -> list[str]:
    """The ``=== Daily Summary ===`` block from an engine summary (realised, unrealised, total,
    kill_switch, kill_reason, risk_regime)."""
    lines = [
        "=== Daily Summary ===",
        f"Daily PnL (realised / unrealised / total): {signed(summary['realised'])} / "
        f"{signed(summary['unrealised'])} / {signed(summary['total'])}",
        f"Kill switch: {'true' if summary['kill_switch'] else 'false'}",
    ]
    if summary["kill_switch"]:
        lines.append(f"Kill reason: {summary.get('kill_reason') or 'Unknown'}")
    lines.append(f"Risk regime: {summary['risk_regime']}")
    return lines


def format_run_output(*, cfg_version: str, cfg_hash: str, profile: str, ticks: int, seed: int | None,
                      events: int, actions: int, sha256: str, summary: Mapping,
                      killed_at_tick: int | None = None) -> str:
    """The whole stdout of a run, newline-terminated."""
    lines = [
        header_line(cfg_version, cfg_hash, profile, ticks, seed),
        f"events: {events}",
        f"actions: {actions}",
        f"action_stream_sha256: {sha256}",
    ]
    if killed_at_tick is not None:
        lines.append(f"Kill switch active at tick {killed_at_tick} - stopping simulation early "
                     f"(reason: {summary.get('kill_reason') or 'Unknown'}).")
    lines.append("")
    lines.extend(summary_block(summary))
    return "\n".join(lines) + "\n"
