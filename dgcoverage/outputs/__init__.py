"""Outputs: tables, service and gap areas, map pages, the report, candidate-site files.

Writers read the core types of :mod:`dgcoverage.pipeline.study` and never call back into the orchestrator.
"""
