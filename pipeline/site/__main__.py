"""Entry point: ``python -m pipeline.site --results FILE... --out DIR``."""

import sys

from ..cli.render import main_render

sys.exit(main_render(sys.argv[1:]))
