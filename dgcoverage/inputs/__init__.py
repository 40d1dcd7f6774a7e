"""Inputs, read and checked at the boundary.

Circles (TOML), tables (CSV/XLSX), datums, OSM files and graphs, population rasters, towns and villages,
facilities, capacities and candidate sites. A problem is refused here with a
:class:`~dgcoverage.errors.DgCoverageError` naming the file, the row/column/key and the fix, or repaired and
counted; nothing deeper re-validates.
"""
