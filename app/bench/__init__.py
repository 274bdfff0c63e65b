"""Benchmarks behind `flowyard bench`: the engine against the commit floor, run history at scale, batches."""
