"""tests/app on the path: the Keras CLI tests share cli_helpers (and its fixture) with it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "app"))

from cli_helpers import cyclr_cli  # noqa: F401  (the fixture, registered here)
