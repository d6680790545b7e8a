"""Benchmarks: each module is one command (see docs/benchmarks.md)."""
