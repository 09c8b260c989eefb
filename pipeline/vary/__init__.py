"""The strict check: rebuild under changed conditions and find what the wheel is sensitive to.

Each variation is a function from the controlled :class:`BuildSettings` to a changed copy
(reprotest-style, one named thing each).  What this machine can vary is probed once
(:func:`probe_machine`); a variation it cannot apply raises :class:`VariationUnavailable` and is
recorded ``not-tested``, never ``same``.

The search (:mod:`.search`) is pure over an injected ``build(frozenset) -> sha256``.
It adds the variations along one path (in :data:`VARIATIONS` order) and bisects between builds
whose hashes differ: a stretch of the path whose two ends give the same wheel is taken to hold no
change.  A package sensitive to one variation of sixteen therefore costs the all-variations build
plus at most ceil(log2(16)) = 4 more (the same as for the first ten: ceil(log2(10)) is 4 too),
because a half whose build equals either end is settled by that one build.  Each variation named
in ``sensitive_to`` is one whose addition changed the wheel in a measured pair of builds.
"""

from .machine import choose_locale, faketime_library, probe_machine, probe_unusable
from .search import Search, VaryOutcome, all_outcomes, run_variations, search_sensitive
from .variations import (ALT_BUILD_ROOT, APPLY, DOMAIN, EXEC_PATH, EXTRA_VARIABLE, HASH_SEED, HOME, HOSTNAME, KERNEL,
                         NO_ASLR, SETARCH, TIME_SHIFT, TIMEZONE, TIMEZONE_RULE, UMASK, USER, Machine, unavailable, vary)

__all__ = ["ALT_BUILD_ROOT", "APPLY", "DOMAIN", "EXEC_PATH", "EXTRA_VARIABLE", "HASH_SEED", "HOME", "HOSTNAME", "KERNEL",
           "Machine", "NO_ASLR", "SETARCH", "Search", "TIME_SHIFT", "TIMEZONE", "TIMEZONE_RULE", "UMASK", "USER", "VaryOutcome",
           "all_outcomes", "choose_locale", "faketime_library", "probe_machine", "probe_unusable", "run_variations",
           "search_sensitive", "unavailable", "vary"]
