"""Actionable feedback: a verdict turned into a critique for the blamed agent, and the system
run again with it.

Modules: `critique` (from a verdict to feedback that does not give the answer away), `rerun`
(frozen-prefix replay with the critique, or a plain re-run with it in the task), `experiment`
(task success against a plain retry and a generic critique, with a confidence interval).
"""
