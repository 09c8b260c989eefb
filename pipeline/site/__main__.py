"""Entry point: ``python -m pipeline.site --results FILE... --out DIR``."""

import sys

from .command import main_render

sys.exit(main_render(sys.argv[1:]))
