import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from cli_helpers import cyclr_cli  # noqa: F401  (the fixture)
