"""Research harness: batch runs, metrics, experiments (RESEARCH_CONTRACTS.md section 1)."""
