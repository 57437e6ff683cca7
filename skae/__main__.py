"""``python -m skae``: the command line (see :mod:`skae.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
