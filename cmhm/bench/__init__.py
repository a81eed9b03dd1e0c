"""``make bench`` and ``make gpu-check``: speed, throughput and the CUDA checks (never in unit tests)."""
