"""The nightly: the watched lists x every interpreter, only what is new, every attempt kept.

lists (what to watch) -> plan (what to build tonight, pure) -> schedule (resolve and build
concurrently) -> store (every attempt, kill-safe); run ties them together; engine adapts the
double-build engine for the command line to pass in.
"""
