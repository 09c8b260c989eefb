"""Is the wheel on the index what its sdist builds to?  Normalise both, compare, classify; rebuild
with the toolchain that made it (infer, toolchain, matching)."""

from .compare import check_upstream, classify, pick_wheel
from .matching import match_toolchain
from .normalize import ALL_STEPS, normalize

__all__ = ["ALL_STEPS", "check_upstream", "classify", "match_toolchain", "normalize", "pick_wheel"]
