"""Benchmark modules registered with ``dlwa.bench.benchmark``; run them with ``dlwa bench``."""
