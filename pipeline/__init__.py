"""A reproducibility tracker for Python wheels: rebuild each sdist twice, compare, explain."""

__version__ = "0.1.0"
USER_AGENT = f"wheel-repro-tracker/{__version__} (+reproducible wheel builds; pipeline package)"
