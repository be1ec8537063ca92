"""Non-graph baselines."""
