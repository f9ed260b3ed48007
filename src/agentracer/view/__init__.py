"""Single-file HTML reports: a trace page for a trajectory or recording, an evaluation report."""
