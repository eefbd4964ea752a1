"""The canonical heuristic strategy's mathematics (spec: STRATEGY.md), as pure functions.

One module per concern: :mod:`.fair_value`, :mod:`.volatility`, :mod:`.toxicity`, :mod:`.risk`,
:mod:`.accounting`, :mod:`.quoting`, :mod:`.exits`, :mod:`.hedge`.
:mod:`.model` holds the per-run memory and runs the canonical main-tick order.
Nothing here reads a clock, does I/O or draws random numbers; arithmetic is Python floats
and :mod:`math` on scalars so results are bit-identical across machines.
"""
