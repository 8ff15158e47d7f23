"""Benchmarks of carebot's hot paths, run by hand or with ``make bench``; never part of the tests.

They report figures and compare them with targets, but never fail on a miss: a benchmark on a shared
two-core machine is evidence to read, not a gate to pass.
"""
