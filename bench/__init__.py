"""Benchmarks: each runs the indsats code and a plain reference in one process run, interleaved, and
reports the median ratio against the goal the issue set. ``python -m bench [--quick] [--only NAME]``
prints the table and rewrites ``BENCHMARKS.md``; a missed goal comes with the cProfile that explains it.

Timing lives here and never in the test suite: ``tests/test_bench.py`` runs ``--quick`` only to check
that every benchmark still runs and produces figures.
"""
