"""Experiments of many runs: a group of runs that differ only in their seed, and the variant matrix (every head
variant x seed on one feature store, compared in one table)."""
