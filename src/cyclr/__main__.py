"""``python -m cyclr`` is the ``cyclr`` command."""

import sys

from cyclr.cli import main

if __name__ == "__main__":
    sys.exit(main())
