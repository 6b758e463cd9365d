"""Benchmarks: every speed claim of FLOAT-kit, measured as a ratio against a baseline in one run."""
