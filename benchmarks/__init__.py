"""Benchmarks: each prints its numbers (python -m benchmarks.<name>); they read only public names."""
