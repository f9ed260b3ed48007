"""Live attribution: an OTLP/HTTP receiver, an embedded trace store, a background worker that
attributes failed traces, and the web UI. Needs the `serve` extra (jinja2, opentelemetry-proto).
"""
