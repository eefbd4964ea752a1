"""The end of a shadow session: both streams compared, the sidecar JSON, the printed report.

Every shadow runner (``paraphina shadow`` over a log, ``paraphina record --candidate`` over live
feeds) ends here, so their outputs have one shape: ``SESSION.arrow.shadow.json`` holds both
policies with versions, stream hashes and counts, fallbacks, the policy faults recorded and the
divergence (:func:`paraphina.diff.compare`, with the causing event from the log); the same
lines are printed by both commands.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from paraphina.diff import attach_events, compare, read_actions, render_text
from paraphina.shadow.budget import TimedEngine
from paraphina.shadow.pair import ActionStream


@dataclass
class ShadowReport:
    session: str
    feed: str
    baseline: dict        # policy, version, sha256, actions, actions_file, faults, fallbacks (+ PnL when simulated)
    candidate: dict       # the same for the candidate
    faults: int           # PolicyFault events recorded, both policies
    report: dict          # divergence: identical, first_index, cause_seq, only_in_baseline, only_in_candidate
    report_text: list[str]
    counterfactual: dict = field(default_factory=dict)   # the candidate's own backtest (paraphina shadow)
    extra: dict = field(default_factory=dict)            # more sidecar keys (the inference budget, ...)

    @property
    def sidecar(self) -> str:
        return f"{self.session}.shadow.json"


def stream_info(engine: TimedEngine, stream: ActionStream) -> dict:
    return {"policy": engine.policy, "version": engine.version, "sha256": stream.sha256, "actions": stream.count,
            "actions_file": stream.path, "faults": engine.faults, "fallbacks": engine.fallbacks()}


def divergence(session: str, baseline_file: str, candidate_file: str) -> tuple[dict, list[str]]:
    """The divergence of the two stream files (summary and printable lines); the first
    divergence's causing event and its neighbours come from the session's log."""
    d = compare(read_actions(baseline_file), read_actions(candidate_file))
    if not d.identical:
        attach_events(d, session)
    summary = {"identical": d.identical, "first_index": d.first_index, "cause_seq": d.cause_seq,
               "only_in_baseline": d.only_in_a, "only_in_candidate": d.only_in_b}
    return summary, render_text(d, "baseline", "candidate")


def write_sidecar(r: ShadowReport) -> None:
    from paraphina.outputs import write_file

    write_file(r.sidecar, json.dumps({"session": r.session, "feed": r.feed, "baseline": r.baseline,
                                      "candidate": r.candidate, "policy_faults": r.faults, "divergence": r.report,
                                      "counterfactual": r.counterfactual, **r.extra}, indent=2, sort_keys=True))


def report_lines(r: ShadowReport) -> list[str]:
    """What ``paraphina shadow`` and ``paraphina record --candidate`` print at the end."""
    from paraphina.replay import signed

    b, c = r.baseline, r.candidate
    out = [f"baseline: {b['policy']}=={b['version']} | actions {b['actions']} | sha256 {b['sha256']}",
           f"candidate: {c['policy']}=={c['version']} | actions {c['actions']} | sha256 {c['sha256']}"]
    for role, info in (("baseline", b), ("candidate", c)):
        if info.get("fallbacks"):
            out.append(f"{role} fallbacks: " + ", ".join(f"{k}={v}" for k, v in info["fallbacks"].items()))
    out.append(f"policy faults recorded: {r.faults} (baseline {b.get('faults', 0)}, candidate {c.get('faults', 0)})")
    out.append("=== Divergence ===")
    out += r.report_text
    cf = r.counterfactual
    if cf:
        out.append(f"PnL total: baseline {signed(b['pnl_total'])} | candidate counterfactual {signed(cf['pnl_total'])} "
                   f"(backtest {cf['log']}, kill {'true' if cf['kill_switch'] else 'false'})")
    out.append(f"report: {r.sidecar}")
    return out
