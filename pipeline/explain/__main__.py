"""``python -m pipeline.explain A.whl B.whl``."""

import sys

from ..cli.diff import main_diff

sys.exit(main_diff(sys.argv[1:]))
