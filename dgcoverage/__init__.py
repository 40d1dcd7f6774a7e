"""dgcoverage: which of Dongguan's villages and communities lie inside its public-service circles."""

__version__ = "0.1.0"
