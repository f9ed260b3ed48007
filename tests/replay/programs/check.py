"""Exit 0 when the program's output contains the expected text (argv[1])."""

import os
import sys

with open(os.environ["AGENTRACER_MAS_STDOUT"]) as handle:
    output = handle.read()
sys.exit(0 if sys.argv[1] in output else 1)
