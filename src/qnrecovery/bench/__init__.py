"""Benchmark harness and suites behind ``qnrecovery bench``."""
