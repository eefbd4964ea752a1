"""Recording live sessions: public market-data feeds into the event log (``paraphina record``).

This package is the I/O edge of paraphina: the only place where the wall clock is read. Every
event a feed produces is stamped with the recorder's local receive clock (an injectable
:class:`~paraphina.live.clock.Clock`), written to the log in the order it is produced, and (with
``--policy``) stepped through the engine in that same order, so replaying the log reproduces the
live action stream byte for byte.

* :mod:`paraphina.live.feeds`: one asyncio feed per venue over ``websockets`` (plus ``httpx`` for
  the Binance REST depth snapshot); frames are parsed by the importers' own per-frame readers.
* :mod:`paraphina.live.recorder`: the session: log writer, timer events, shadow engine, status.
* :mod:`paraphina.live.capture_server`: a loopback server that plays real captures the way a
  venue would (tests, the soak benchmark, dry runs).
"""
