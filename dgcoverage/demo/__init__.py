"""The embedded default's generator: real boundaries and lists, synthetic roads, people and facilities.

Seeded and deterministic. The real-data path never imports it.
"""
