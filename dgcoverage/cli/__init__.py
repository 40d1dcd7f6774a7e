"""The ``dgcoverage`` command line: parse, call the library, print. Holds no analysis of its own."""
