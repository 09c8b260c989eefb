"""``python -m pipeline``: the same commands as the nox sessions."""

import sys

from .cli import main

sys.exit(main())
