"""Attribution faithfulness (Risk Drop): rank a simulation's actions by blame, delete (or keep
only) the top n, re-simulate, and measure how much of the risk goes away.

Modules: `edits` (replaying with several actions changed), `subject` (the run under study),
`scorers` (random, leave-one-out, Monte-Carlo Shapley, any tracer), `risk_drop` (the metric).
"""
