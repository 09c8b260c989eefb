"""Is the wheel on the index what its sdist builds to?  Normalise both, compare, classify."""

from .compare import check_upstream, classify, pick_wheel
from .normalize import ALL_STEPS, normalize

__all__ = ["ALL_STEPS", "check_upstream", "classify", "normalize", "pick_wheel"]
