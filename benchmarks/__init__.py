"""Side-by-side benchmarks against peer tools; run all with `python -m benchmarks` (see __main__)."""
