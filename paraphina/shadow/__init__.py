"""Shadow sessions: a baseline policy acts, a candidate proposes beside it, both are recorded.

Two runners share the parts below:

* ``paraphina shadow LOG`` (:func:`~paraphina.shadow.runner.run_shadow`): a past market from a
  :class:`~paraphina.shadow.runner.FeedSource`, the baseline's orders executed by the simulated
  exchange, a counterfactual backtest of the candidate;
* ``paraphina record --policy B --candidate C`` (:mod:`paraphina.live.recorder`): live public
  feeds, both engines open-loop (nothing is sent, so nothing fills).

Shared: :class:`~paraphina.shadow.pair.ShadowPair` (both engines stepped with exactly the same
events, the candidate's actions to ``SESSION.arrow.candidate.actions``), the inference budget
(:mod:`paraphina.shadow.budget`: a slow policy tick becomes a recorded ``PolicyFault``) and the
end-of-session report (:mod:`paraphina.shadow.report`: ``SESSION.arrow.shadow.json`` and the
printed divergence). The candidate's hash cannot go into the log's own metadata (written when the
session starts), hence the sidecar.

Replaying ``SESSION.arrow`` with the baseline gives the baseline stream byte for byte, and with
the candidate the candidate stream, because both engines saw the log's events, nothing else:
timeouts included, as events. Invalid model output needs no event: it is a deterministic
function of the log and replays by itself.
"""

from paraphina.shadow.budget import DEFAULT_INFERENCE_TIMEOUT_MS, PolicyStopwatch, TimedEngine
from paraphina.shadow.pair import ActionStream, PolicySpec, ShadowPair, make_plugin, plugin_info
from paraphina.shadow.report import ShadowReport, report_lines
from paraphina.shadow.runner import FeedSource, LogFeed, ShadowResult, run_shadow

__all__ = ["DEFAULT_INFERENCE_TIMEOUT_MS", "ActionStream", "FeedSource", "LogFeed", "PolicySpec", "PolicyStopwatch",
           "ShadowPair", "ShadowReport", "ShadowResult", "TimedEngine", "make_plugin", "plugin_info", "report_lines",
           "run_shadow"]
