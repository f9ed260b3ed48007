"""Early error forecasting: read a run step by step and raise an alarm at the decisive error
before the run ends.

- `online`: the forecaster interface and the step-by-step driver (and any tracer in prefix mode);
- `hazard`: the fast model's per-step hazard and a threshold chosen on training data only;
- `crossval`: that hazard fitted on the benchmark it is scored on, by folds grouped by question;
- `llm`: an LLM auditor that answers "alarm at step s" or "continue";
- `baselines`: first-step, never, random hazard;
- `registry`: forecasters by name; `metrics`: alarm step accuracy, η, false alarms;
- `evaluate`: `eval --forecast`, a resumable run directory with the baselines beside.
Live forecasting over `agentracer serve` is in `agentracer.serve.follow` (serve sits above).
"""
