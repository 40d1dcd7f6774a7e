"""Ground floor: the road-network type, safe file writing, the output-set transaction and forked jobs.

Every other layer may use these; they use nothing of the package but :mod:`dgcoverage.errors`.
"""
