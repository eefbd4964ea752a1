"""Phase A: seeded candidate search, Monte Carlo per candidate, Pareto frontier, promotion per tier."""
