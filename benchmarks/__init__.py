"""The benchmark harness run by ``make bench`` (``scripts/benchmark.py``); not part of the installed package."""
