"""Training a tracer: the multi-granular reward and data preparation (no torch needed), and
the GRPO recipe (needs the `[train]` extra)."""
