"""Research harness: Monte Carlo tail risk, evidence packs, reports (analytics, not the decision path).

Nothing in the pure core imports this package. numpy is used freely here: these numbers describe
finished runs and never feed an action.
"""
