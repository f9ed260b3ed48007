from agentracer.cli import app

app()
