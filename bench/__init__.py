"""Benchmarks of the Cutaway bot: each runs with `python -m bench.<name>`; see bench/README.md."""
