"""Benchmarks: data generators and runners behind `custos bench` (see docs/benchmarks.md)."""
