"""One check of one release: resolve, fetch, prepare the pinned environment, build twice, compare.

The modules in pipeline order: resolve -> fetch -> target -> (unpack, environments, provision)
-> prepare -> build (in the sandbox) -> compare; check ties them together and outcome makes the
Result.  Nothing here prints.
"""
