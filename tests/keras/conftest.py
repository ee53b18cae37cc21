"""The CLI fixture the Keras CLI tests share with tests/app (one definition, in cli_helpers)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "app"))

from cli_helpers import cyclr_cli  # noqa: F401  (the fixture, registered here)
